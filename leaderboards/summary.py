"""A one-table overview for the terminal: models as rows, each task's headline metric as columns.

The same numbers as ``overview.md`` (``leaderboards/tables.py``), printed with rich.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.leaderboards.collect import collect
from harness.leaderboards.markdown import pct
from harness.leaderboards.tables import metric_title


def summary_table(
    results: Path, tasks: Sequence[str] | None = None
) -> tuple[list[str], list[list[str]]]:
    """Header and rows (values x100, two decimals, "-" where a model did not run the task)."""
    runs, _ = collect(results)
    runs = [r for r in runs if tasks is None or r.task in tasks or r.task_folder in tasks]
    folders = sorted({r.task_folder for r in runs})
    header = ["model"]
    for folder in folders:
        mine = [r for r in runs if r.task_folder == folder]
        header.append(f"{folder} {metric_title(mine, mine[0].headline)}")
    rows = []
    for model in sorted({r.model for r in runs}):
        row = [model]
        for folder in folders:
            run = next((r for r in runs if r.model == model and r.task_folder == folder), None)
            value = run.overall.get(run.headline) if run else None
            cell = "-" if value is None else pct(float(value))
            if run is not None and value is not None and (run.coverage or 0) < 1.0:
                cell += f" (cov {100 * (run.coverage or 0):.0f}%)"
            row.append(cell)
        rows.append(row)
    return header, rows


def print_summary(results: Path, console: Any, tasks: Sequence[str] | None = None) -> None:
    """Print the overview to standard output (``console`` is accepted for the caller's API)."""
    from rich.console import Console
    from rich.table import Table

    header, rows = summary_table(results, tasks)
    table = Table(title=f"Leaderboard ({results})")
    for col in header:  # task, variant and metric on lines of their own; never cut
        if col == "model":  # model names whole: they are what a reader looks up
            table.add_column(col, no_wrap=True)
            continue
        shown = col.replace("+", "\n+").replace(" ", "\n")
        table.add_column(shown, justify="right", overflow="fold")
    for row in rows:
        table.add_row(*row)
    Console().print(table)

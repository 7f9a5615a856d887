"""The fairness table (what the paper's MM-Skin-D subset is for): per-group scores by sex, age
band and Fitzpatrick skin type where a dataset records them, and each model's worst-group gap.

The per-group values are the ones the metrics package wrote (``scores.groups``); the gap
is the difference between the best and the worst group's value, in points (x100).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from harness.leaderboards.collect import Run, higher_is_better
from harness.leaderboards.markdown import DELTA, Cell, Column, Footnotes, Row, Table, pct
from harness.leaderboards.tables import (
    GENERATED,
    LEGEND,
    Document,
    kind_title,
    metric_title,
)
from harness.leaderboards.trace import link, provenance_warnings, run_notes, runs_index

FIELDS = {"sex": "sex", "age_band": "age band", "fitzpatrick": "Fitzpatrick skin type"}
SMALL_GROUP = 30  # groups smaller than this are flagged: their scores are noisy


def natural(value: str) -> tuple[object, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", value))


def group_table(field: str, metric: str, runs: Sequence[Run], out: Path,
                notes: Footnotes) -> Table:
    values = sorted({str(v) for r in runs for v in r.scores.groups.get(field, {})},
                    key=natural)
    higher = higher_is_better(runs, metric)
    columns = [Column(v, v, higher_is_better=higher) for v in values]
    columns.append(Column("gap", "gap (best − worst)", higher_is_better=False))
    columns.append(Column("worst", "worst group", bold=False))
    table = Table(columns)
    for run in runs:
        groups = run.scores.groups.get(field) or {}
        row = Row(f"{run.model}{run_notes(run, notes)}")
        scored: dict[str, float] = {}
        for v in values:
            g = groups.get(v) or {}
            if g.get(metric) is None:
                continue
            n = g.get("n")
            small = "" if n is None or int(n) >= SMALL_GROUP else notes.ref(
                f"a group of fewer than {SMALL_GROUP} samples: its score is noisy")
            row.cells[v] = Cell(float(g[metric]), link=link(run, out),
                                suffix=(f" (n={n})" if n is not None else "") + small)
            scored[v] = float(g[metric])
        if len(scored) >= 2:
            sign = 1 if higher else -1  # the worst group has the lowest score, or the highest
            worst = min(scored, key=lambda k: (sign * scored[k], natural(k)))
            gap = abs(max(scored.values()) - min(scored.values()))
            row.cells["gap"] = Cell(gap)
            row.cells["worst"] = Cell(text=f"{worst} ({pct(scored[worst])})")
        table.rows.append(row)
    return table


def fairness_document(runs: Sequence[Run], out: Path) -> Document | None:
    fair = [r for r in runs if any(f in r.scores.groups for f in FIELDS)]
    if not fair:
        return None
    notes = Footnotes()
    lines = [GENERATED, "", "# Fairness", "", (
        "Per-group scores by the demographic fields each dataset records (sex, age band, "
        "Fitzpatrick skin type), as the paper's MM-Skin-D subset is meant to be used, and "
        "each model's worst-group gap: the best group's score minus the worst group's, in "
        "points; a smaller gap is better (in **bold**). One headline metric per task kind "
        "(BLEU-4 for text, accuracy for classification). " + LEGEND), ""]
    summary = Table([Column(f, f"{label} gap", higher_is_better=False)
                     for f, label in FIELDS.items()], label_title="Task · model")
    for task in sorted({r.task_folder for r in fair}):
        mine = [r for r in fair if r.task_folder == task]
        metric = mine[0].headline
        lines += [f"## `{task}` ({kind_title(mine)}, {metric_title(mine, metric)})", ""]
        lines += provenance_warnings(mine)
        if lines[-1] != "":
            lines.append("")
        for field, label in FIELDS.items():
            with_field = [r for r in mine if field in r.scores.groups]
            if not with_field:
                continue
            table = group_table(field, metric, with_field, out, notes)
            lines += [f"### By {label}", "", table.render(), ""]
            for row, run in zip(table.rows, with_field, strict=True):
                gap = row.cells.get("gap")
                if gap is None:
                    continue
                key = f"`{task}` · {run.model}"
                target = next((r for r in summary.rows if r.label == key), None)
                if target is None:
                    target = Row(key)
                    summary.rows.append(target)
                target.cells[field] = Cell(gap.value)
    summary.rows.sort(key=lambda r: r.label)
    # Gaps of different tasks are not one column to rank: bold only within a task.
    for row in summary.rows:
        row.kind = DELTA
    lines += ["## Worst-group gaps", "", summary.render(), ""]
    lines += ["## Runs", "", runs_index(fair, out), ""]
    if notes.texts:
        lines += [notes.render(), ""]
    return Document("fairness.md", "\n".join(lines))

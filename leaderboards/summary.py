"""A one-table overview of results: models as rows, each task kind's headline metrics as columns."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# (task kind, metric key in scores.overall, column title)
HEADLINES: tuple[tuple[str, str, str], ...] = (
    ("vqa", "bleu4", "VQA BLEU-4"),
    ("vqa", "meteor", "VQA METEOR"),
    ("vqa", "rougeL", "VQA ROUGE-L"),
    ("vqa", "bertscore", "VQA BERTScore"),
    ("vqa", "bertscore-minilm-l6", "VQA BERTScore-MiniLM"),
    ("vqa", "recall", "VQA recall"),
    ("probe", "accuracy", "Probe ACC"),
    ("probe", "auc_ovr", "Probe AUC"),
    ("zeroshot", "accuracy", "Zero-shot ACC"),
    ("zeroshot", "precision_macro", "Zero-shot precision"),
)


def load_metrics(results: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(results.glob("**/metrics.json"))]


def summary_table(
    results: Path, tasks: Sequence[str] | None = None
) -> tuple[list[str], list[list[str]]]:
    """Header and rows (values x100, two decimals, "-" where a model did not run the task)."""
    runs = [m for m in load_metrics(results) if tasks is None or m["task"] in tasks]
    models = sorted({m["model"] for m in runs})
    present = [
        h for h in HEADLINES
        if any(m["kind"] == h[0] and h[1] in m["scores"].get("overall", {}) for m in runs)
    ]
    rows = []
    for model in models:
        row = [model]
        for kind, key, _ in present:
            found = [m for m in runs if m["model"] == model and m["kind"] == kind]
            value = found[0]["scores"].get("overall", {}).get(key) if found else None
            cell = "-" if value is None else f"{100 * value:.2f}"
            if found and found[0].get("coverage", 1.0) < 1.0:
                cell += f" (cov {100 * found[0]['coverage']:.0f}%)"
            row.append(cell)
        rows.append(row)
    return ["model", *[h[2] for h in present]], rows


def print_summary(results: Path, console: Any, tasks: Sequence[str] | None = None) -> None:
    from rich.table import Table

    header, rows = summary_table(results, tasks)
    table = Table(title=f"Leaderboard ({results})")
    for col in header:
        table.add_column(col, justify="left" if col == "model" else "right")
    for row in rows:
        table.add_row(*row)
    from rich.console import Console

    Console().print(table)

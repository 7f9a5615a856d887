"""Which images a recipe trains on, per source, against the paper's counts.

The paper's counts are Table 6's "# Train" column (section 3.3 gives the totals: 149k
for SkinVL-Pub, 171.6k for SkinVL-PubMM, 21.8k for SkinVL-MM). Each classification
count of Table 6 is one more than the images it stands for: where the authors publish
the split file, the printed test count is the file's rows plus its header row (HAM10000:
1,511 rows, "1512"), and the train counts follow suit (PAD-UFES-20: 1,838 + 460 = all
2,298 images, printed 1,839 + 461). MM-Skin's test count equals its file's rows, so its
train count is taken as printed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.protocol.settings import PAPER_MIXTURE_TOTALS, PAPER_TRAIN_IMAGES
from harness.training.recipes import Recipe

HEADER_COUNTED = frozenset(PAPER_TRAIN_IMAGES) - {"mm-skin"}


def paper_images(dataset: str) -> int | None:
    printed = PAPER_TRAIN_IMAGES.get(dataset)
    if printed is None:
        return None
    return printed - 1 if dataset in HEADER_COUNTED else printed


def rows(recipe: Recipe, entries: Sequence[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """One row per source: its splits, the images used (from mixture ``entries``, where
    given), Table 6's printed count, the images that count stands for, and why they differ."""
    by_name = {e.get("dataset"): e for e in entries or ()}
    out = []
    for source in recipe.sources:
        entry = by_name.get(source.dataset, {})
        used = entry.get("examples") if entries is not None else None
        paper = paper_images(source.dataset)
        note = entry.get("skipped_reason") or entry.get("error") or ""
        if not note and used is not None and paper is not None and used != paper:
            note = f"{used - paper:+,} images against the paper"
        out.append({"dataset": source.dataset, "kind": source.kind, "splits": source.split,
                    "images": used, "paper_printed": PAPER_TRAIN_IMAGES.get(source.dataset),
                    "paper_images": paper, "note": note})
    return out


def load_entries(registries: Any, recipe: Recipe, data_root: Path | None) -> list[dict[str, Any]]:
    """Each source loaded on its own, so one missing dataset is named, not fatal."""
    import random

    from harness.errors import HarnessError
    from harness.training.data import load_source

    entries = []
    for source in recipe.sources:
        try:
            _, entry = load_source(registries, source, data_root, random.Random(recipe.seed))
        except HarnessError as exc:
            reason = "not counted: no --data-root" if data_root is None else str(exc)
            entry = {"dataset": source.dataset, "examples": None, "error": reason}
        entries.append(entry)
    return entries


def render(recipe: Recipe, table: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table, with totals."""
    def num(v: Any) -> str:
        return "-" if v is None else f"{v:,}"

    lines = [f"{recipe.name}: {recipe.description}", "",
             "| dataset | kind | splits | images used | Table 6 (printed) | paper images | note |",
             "|---|---|---|---:|---:|---:|---|"]
    for r in table:
        lines.append(f"| {r['dataset']} | {r['kind']} | {r['splits']} | {num(r['images'])} | "
                     f"{num(r['paper_printed'])} | {num(r['paper_images'])} | {r['note']} |")
    used = [r["images"] for r in table]
    total = None if any(v is None for v in used) else sum(used)
    paper = sum(r["paper_images"] or 0 for r in table)
    lines.append(f"| total | | | {num(total)} | | {num(paper)} | the paper: "
                 f"{PAPER_MIXTURE_TOTALS.get(recipe.name, '-')} |")
    return "\n".join(lines)

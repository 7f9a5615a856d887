"""Majority-class and uniform-chance rows for classification tables, from test label counts.

Arithmetic on the test split's label counts only (no model is involved). With N test
images, K classes present in the test split and n_max images in the largest class:

| metric | majority class (always the largest class) | uniform chance (expected value) |
|---|---|---|
| accuracy | n_max / N | 1 / K |
| balanced accuracy, macro recall | 1 / K | 1 / K |
| macro precision | (n_max / N) / K (never-predicted classes count 0) | 1 / K (expected) |
| ... over true and predicted labels (the authors') | the same (nothing unmatched) | the same |
| macro F1 | 2 p / (1 + p) / K, p = n_max / N | not given (no simple formula) |
| ROC-AUC | 0.5 | 0.5 |
"""

from __future__ import annotations

from collections.abc import Mapping

BASELINES = ("majority", "chance")
LABELS = {"majority": "majority class", "chance": "uniform chance"}


def majority_class(label_counts: Mapping[str, int]) -> tuple[str, int, int]:
    """The largest class (ties: alphabetically first), its count and the total."""
    counts = {k: int(v) for k, v in label_counts.items() if int(v) > 0}
    if not counts:
        raise ValueError("no labels counted")
    name = sorted(counts, key=lambda k: (-counts[k], k))[0]
    return name, counts[name], sum(counts.values())


def baseline(kind: str, metric: str, label_counts: Mapping[str, int]) -> float | None:
    """The baseline's score (a fraction) for one metric, or None where it is not defined here."""
    _, n_max, total = majority_class(label_counts)
    k = sum(1 for v in label_counts.values() if int(v) > 0)
    p = n_max / total
    if metric == "auc_ovr":
        return 0.5
    if kind == "chance":
        if metric in ("accuracy", "balanced_accuracy", "recall_macro", "precision_macro",
                      "precision_macro_union"):
            return 1 / k
        return None
    if kind == "majority":
        return {
            "accuracy": p,
            "balanced_accuracy": 1 / k,
            "recall_macro": 1 / k,
            "precision_macro": p / k,
            "precision_macro_union": p / k,
            "f1_macro": 2 * p / (1 + p) / k,
        }.get(metric)
    raise ValueError(f"unknown baseline {kind!r} (expected one of {', '.join(BASELINES)})")


def describe(label_counts: Mapping[str, int]) -> str:
    name, n_max, total = majority_class(label_counts)
    k = sum(1 for v in label_counts.values() if int(v) > 0)
    return f"{name} {n_max}/{total} = {100 * n_max / total:.2f}%, K = {k} classes"

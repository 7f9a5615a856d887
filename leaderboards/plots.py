"""Pictures linked from the leaderboards: per-modality bars (VQA), confusion matrices (zero-shot).

matplotlib is imported inside each function (Agg backend), never at import time. PNGs
are written without a timestamp or software tag so the same input gives the same bytes
for a given matplotlib version.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

PNG_METADATA = {"Software": None}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, metadata=PNG_METADATA)


def modality_bars(series: Mapping[str, Mapping[str, float]], modalities: Sequence[str],
                  title: str, path: Path) -> None:
    """Grouped bars: one group per modality, one bar per model (values x100)."""
    plt = _pyplot()
    models = sorted(series)
    fig, ax = plt.subplots(figsize=(max(4.0, 1.2 * len(modalities) * max(1, len(models)) / 2),
                                    3.2))
    width = 0.8 / max(1, len(models))
    for i, model in enumerate(models):
        xs = [j + i * width for j in range(len(modalities))]
        ys = [100 * series[model].get(m, float("nan")) for m in modalities]
        ax.bar(xs, ys, width=width, label=model)
    ax.set_xticks([j + width * (len(models) - 1) / 2 for j in range(len(modalities))])
    ax.set_xticklabels(modalities)
    ax.set_ylabel("x100")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def confusion_matrix(labels: Sequence[str], columns: Sequence[str],
                     matrix: Sequence[Sequence[float]], title: str, path: Path) -> None:
    """True class as rows; predicted class as columns (with "unmatched" where recorded)."""
    plt = _pyplot()
    size = 1.0 + 0.6 * len(columns)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    image = ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(columns)))
    ax.set_xticklabels(columns, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    top = max((v for row in matrix for v in row), default=0)
    for i, row in enumerate(matrix):
        for j, v in enumerate(row):
            ax.text(j, i, f"{v:g}", ha="center", va="center", fontsize=7,
                    color="white" if top and v > top / 2 else "black")
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)

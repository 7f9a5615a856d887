"""Per-sample sufficient statistics: the one shape every text metric is computed in.

A text metric turns (prediction, reference) pairs into an ``[n, k]`` array of
per-sample statistics once; its score for any subset or bootstrap resample is
``aggregate(weights @ values)``. Mean metrics carry ``[score, 1]``; corpus BLEU
carries n-gram match counts and lengths, so a group's or a resample's BLEU is
the corpus BLEU of exactly those pairs, with no re-tokenising.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class SampleStats:
    """``values[i]`` are pair i's statistics; ``aggregate(sums[..., k]) -> scores[...]``."""

    values: np.ndarray
    aggregate: Callable[[np.ndarray], np.ndarray]
    notes: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)  # run-time facts (versions, paths)

    def score(self, mask: np.ndarray | None = None) -> float:
        rows = self.values if mask is None else self.values[mask]
        return float(self.aggregate(rows.sum(axis=0)))

    def resampled(self, weights: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Scores under each row of ``weights`` ([b, n_rows]) -> [b]."""
        rows = self.values if mask is None else self.values[mask]
        return np.asarray(self.aggregate(weights @ rows), dtype=float)


def mean_of(scores: np.ndarray | list[float]) -> SampleStats:
    """Stats for a metric reported as the mean of per-pair scores."""
    s = np.asarray(scores, dtype=float)
    return SampleStats(np.column_stack([s, np.ones_like(s)]), _mean)


def _mean(sums: np.ndarray) -> np.ndarray:
    return sums[..., 0] / sums[..., 1]

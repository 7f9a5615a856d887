"""Paired, stratified bootstrap resamples as count matrices.

A resample is a row of counts (how often each pair was drawn), drawn within
each stratum so every resample keeps the strata sizes. The rows depend only on
(n, strata, bootstrap, seed), never on predictions, so two models scored on the
same samples with the same seed see the same resamples: that is what makes the
comparison paired. Metrics turn a count row into a score through their
per-sample statistics (``weights @ values``), so corpus BLEU is resampled from
n-gram counts, not re-tokenised.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from harness.errors import UsageError

CHUNK = 200  # resamples per matrix: bounds memory at CHUNK x n counts
CONFIDENCE = 0.95


def _strata_index(n: int, strata: Sequence[str] | None) -> list[np.ndarray]:
    if strata is None:
        return [np.arange(n)]
    if len(strata) != n:
        raise UsageError(f"strata has {len(strata)} entries for {n} samples")
    keys = np.asarray(["unknown" if s is None else str(s) for s in strata], dtype=object)
    return [np.flatnonzero(keys == k) for k in sorted(set(keys.tolist()))]


def bootstrap_weights(
    n: int, bootstrap: int, seed: int = 0, strata: Sequence[str] | None = None
) -> Iterator[np.ndarray]:
    """Yield ``[c, n]`` float count matrices, ``bootstrap`` rows in all, deterministic in seed.

    Strata are visited in sorted order of their names, so the same rows with the
    same strata get the same resamples in every run and for every model.
    """
    if bootstrap < 0:
        raise UsageError(f"bootstrap must be >= 0, got {bootstrap}")
    groups = _strata_index(n, strata)
    rng = np.random.default_rng(seed)
    done = 0
    while done < bootstrap:
        c = min(CHUNK, bootstrap - done)
        counts = np.zeros(c * n, dtype=np.int64)
        offsets = (np.arange(c) * n)[:, None]
        for idx in groups:
            draws = idx[rng.integers(0, len(idx), size=(c, len(idx)))]
            counts += np.bincount((offsets + draws).ravel(), minlength=c * n)
        yield counts.reshape(c, n).astype(float)
        done += c


def percentile_ci(samples: np.ndarray, confidence: float = CONFIDENCE) -> list[float] | None:
    """Percentile interval of the finite resample scores; None when there are none."""
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return None
    tail = (1 - confidence) / 2 * 100
    lo, hi = np.percentile(finite, [tail, 100 - tail])
    return [float(lo), float(hi)]


def paired_p_value(diffs: np.ndarray) -> float | None:
    """Two-sided bootstrap p-value for "the difference is zero": 2 x the smaller tail share."""
    finite = diffs[np.isfinite(diffs)]
    if finite.size == 0:
        return None
    return float(min(1.0, 2 * min((finite <= 0).mean(), (finite >= 0).mean())))

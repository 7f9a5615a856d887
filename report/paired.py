"""Paired bootstrap comparisons of two models on one task, from their per-sample scores.

The resamples are the harness's own (``harness.metrics.bootstrap.bootstrap_weights``, with
the seed and resample count the task recorded, stratified by modality where the task's
bootstrap was stratified, as the VQA task's is), drawn over the samples both models answered,
so every pair of models sees the same resamples. Only metrics that are the mean of their
per-sample values can be resampled from those values; a corpus metric (BLEU-4) needs its
n-gram statistics, which are not stored, and is left out (the page says so).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import Any

import numpy as np

from harness.leaderboards.collect import Run
from harness.metrics.bootstrap import bootstrap_weights, paired_p_value, percentile_ci


def is_mean(run: Run, metric: str) -> bool:
    """Whether a per-sample score's mean is the run's metric (``correct``: accuracy)."""
    if metric == "correct":
        return True
    info = run.scores.metrics.get(metric)
    aggregate = str((info.params if info is not None else {}).get("aggregate", ""))
    return aggregate.startswith("mean")


def compare(runs: Sequence[Run], records: dict[str, list[Any]]) -> dict[str, Any]:
    """``{"A|B": {metric: {a, b, diff, ci, p_value, n}}}`` for every pair of runs (A before B
    in ``runs``' order), and the settings the resamples were drawn with. Samples are taken in
    the order of their ids, as ``paired_bootstrap`` would be given them."""
    out: dict[str, Any] = {}
    boot = (runs[0].scores.bootstrap or {}) if runs else {}
    drawn: dict[bytes, list[np.ndarray]] = {}
    resamples, seed = int(boot.get("resamples") or 1000), int(boot.get("seed") or 0)
    stratified = bool(boot.get("stratified_by"))
    ids = sorted({x.id for recs in records.values() for x in recs})
    row = {sid: i for i, sid in enumerate(ids)}
    modality = np.array(["unknown"] * len(ids), dtype=object)
    values: dict[str, dict[str, np.ndarray]] = {}  # model -> metric -> per-sample (NaN: none)
    for run in runs:
        table: dict[str, np.ndarray] = {}
        for rec in records.get(run.model, []):
            modality[row[rec.id]] = rec.modality or "unknown"
            for m, v in rec.scores.items():
                if v is not None and is_mean(run, m):
                    table.setdefault(m, np.full(len(ids), np.nan))[row[rec.id]] = v
        values[run.model] = table
    for a, b in combinations(runs, 2):
        pair = {}
        for m in sorted(values[a.model].keys() & values[b.model].keys()):
            x, y = values[a.model][m], values[b.model][m]
            both = np.isfinite(x) & np.isfinite(y)
            if not both.any():
                continue
            d = x[both] - y[both]
            key = both.tobytes()  # the same samples: the same resamples (drawn once)
            if key not in drawn:
                strata = modality[both].tolist() if stratified else None
                drawn.clear()  # one pair's masks at a time bounds memory to one matrix set
                drawn[key] = [w / w.sum(axis=1, keepdims=True) for w in bootstrap_weights(
                    len(d), resamples, seed, strata)]
            draws = np.concatenate([w @ d for w in drawn[key]])
            pair[m] = {"a": float(x[both].mean()), "b": float(y[both].mean()),
                       "diff": float(d.mean()), "ci": percentile_ci(draws),
                       "p_value": paired_p_value(draws), "n": int(both.sum())}
        if pair:
            out[f"{a.model}|{b.model}"] = pair
    return {"pairs": out, "resamples": resamples, "seed": seed,
            "stratified_by": "modality" if stratified else None}

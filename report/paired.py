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
    in ``runs``' order), and the settings the resamples were drawn with."""
    out: dict[str, Any] = {}
    cache: dict[tuple[str, ...], list[np.ndarray]] = {}
    boot = runs[0].scores.bootstrap or {}
    resamples, seed = int(boot.get("resamples") or 1000), int(boot.get("seed") or 0)
    stratified = bool(boot.get("stratified_by"))
    scored = {r.model: {x.id: x for x in records.get(r.model, []) if x.scores} for r in runs}
    for a, b in combinations(runs, 2):
        ids = tuple(sorted(set(scored[a.model]) & set(scored[b.model])))
        metrics = [m for m in (a.scores.overall.keys() | {"correct"})
                   if is_mean(a, m) and is_mean(b, m)
                   and all(m in scored[a.model][i].scores and m in scored[b.model][i].scores
                           for i in ids)]
        if not ids or not metrics:
            continue
        if ids not in cache:
            strata = [scored[a.model][i].modality or "unknown" for i in ids] if stratified \
                else None
            cache[ids] = list(bootstrap_weights(len(ids), resamples, seed, strata))
        pair = {}
        for m in sorted(metrics):
            x = np.array([scored[a.model][i].scores[m] for i in ids], dtype=float)
            y = np.array([scored[b.model][i].scores[m] for i in ids], dtype=float)
            d = x - y
            draws = np.concatenate([(w @ d) / w.sum(axis=1) for w in cache[ids]])
            pair[m] = {"a": float(x.mean()), "b": float(y.mean()), "diff": float(d.mean()),
                       "ci": percentile_ci(draws), "p_value": paired_p_value(draws),
                       "n": len(ids)}
        out[f"{a.model}|{b.model}"] = pair
    return {"pairs": out, "resamples": resamples, "seed": seed,
            "stratified_by": "modality" if stratified else None}

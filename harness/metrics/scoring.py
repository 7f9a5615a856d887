"""The scoring API the tasks call: overall, per group, with paired bootstrap intervals."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from harness.errors import DataError, UsageError
from harness.metrics.bootstrap import bootstrap_weights, paired_p_value, percentile_ci
from harness.metrics.stats import SampleStats

DEFAULT_CLASSIFICATION = ("accuracy", "balanced_accuracy", "precision_macro", "recall_macro",
                          "f1_macro")
UNKNOWN = "unknown"


# ---------------------------------------------------------------- shared helpers

def builtin_metrics() -> Any:
    """A registry of the harness's own metrics, for callers that were handed none (tests,
    notebooks). A run passes the registry of every installed plugin instead."""
    global _BUILTIN
    if _BUILTIN is None:
        from harness.metrics.builtin import register_metrics
        from harness.registry import Registry

        registry: Registry[Any] = Registry("metric")
        register_metrics(register=registry.add)
        _BUILTIN = registry
    return _BUILTIN


_BUILTIN: Any = None


def _specs(names: Sequence[str], kind: str, registry: Any = None) -> list[Any]:
    if isinstance(names, str):
        raise UsageError(f"metrics must be a list of names, got the string {names!r}")
    registry = registry if registry is not None else builtin_metrics()
    specs = []
    for name in names:
        spec = registry.get(name)  # UnknownNameError (a UsageError) with a did-you-mean
        if spec.kind != kind:
            raise UsageError(f"metric '{name}' is a {spec.kind} metric, not a {kind} metric")
        if spec.name in (s.name for s in specs):
            raise UsageError(f"metric '{name}' is asked for twice")
        specs.append(spec)
    return specs


def _group_keys(groups: Mapping[str, Sequence[str | None]] | None, n: int) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for field, values in (groups or {}).items():
        if len(values) != n:
            raise UsageError(f"group field '{field}' has {len(values)} values for {n} samples")
        out[field] = np.asarray([UNKNOWN if v is None else str(v) for v in values], dtype=object)
    return out


def _clean(value: Any) -> Any:
    """JSON-safe: numpy scalars to Python, NaN/inf to None."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        return f if math.isfinite(f) else None
    return value


def _metric_info(spec: Any, runtime: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What a score means travels with it (the schema's ``MetricInfo``)."""
    return {"version": spec.version, "params": {**spec.params, **(runtime or {})},
            "higher_is_better": spec.higher_is_better, "description": spec.description}


def _intervals(
    names: list[str], resample: Any, n: int, bootstrap: int, seed: int,
    strata: Sequence[str] | None,
) -> dict[str, list[float] | None]:
    """CI per metric; ``resample(weights) -> {name: [c] scores}``."""
    draws: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for weights in bootstrap_weights(n, bootstrap, seed, strata):
        for name, values in resample(weights).items():
            draws[name].append(values)
    return {name: percentile_ci(np.concatenate(d)) for name, d in draws.items()}


def _subset(seq: Sequence[Any] | None, mask: np.ndarray) -> list[Any] | None:
    return None if seq is None else [x for x, keep in zip(seq, mask, strict=True) if keep]


# ---------------------------------------------------------------- text

def _as_texts(values: Sequence[str | None], what: str, notes: list[str]) -> list[str]:
    out = ["" if v is None else str(v) for v in values]
    missing = sum(1 for v in values if v is None)
    if missing:
        notes.append(f"{missing} {what} were None and scored as empty strings")
    return out


def _text_stats(specs: list[Any], predictions: list[str], references: list[str],
                options: Mapping[str, Any]) -> dict[str, SampleStats]:
    out = {}
    for spec in specs:
        stats = spec.fn(predictions, references, options)
        if not isinstance(stats, SampleStats) or len(stats.values) != len(predictions):
            raise UsageError(f"text metric '{spec.name}' did not return one SampleStats row "
                             "per pair")
        out[spec.name] = stats
    return out


def score_text(
    predictions: Sequence[str],
    references: Sequence[str],
    metrics: Sequence[str],
    *,
    groups: Mapping[str, Sequence[str | None]] | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
    strata: Sequence[str] | None = None,
    options: Mapping[str, Any] | None = None,
    registry: Any = None,
    per_sample: bool = False,
) -> dict[str, Any]:
    """Score free-text answers against references: overall, per group, 95% bootstrap CIs.

    Values are fractions in [0, 1]. Corpus-level metrics (BLEU) are computed on each
    group's own pairs; CIs come from a paired bootstrap stratified by ``strata``. With
    ``per_sample``, ``result["per_sample"]`` is each metric's value on each pair alone
    (its statistics aggregated row by row: a corpus metric's value on a corpus of one).
    """
    n = len(predictions)
    if len(references) != n:
        raise UsageError(f"{n} predictions but {len(references)} references")
    specs = _specs(metrics, "text", registry)
    names = [s.name for s in specs]
    notes: list[str] = []
    preds = _as_texts(predictions, "predictions", notes)
    refs = _as_texts(references, "references", notes)
    keys = _group_keys(groups, n)
    if strata is not None and len(strata) != n:
        raise UsageError(f"strata has {len(strata)} entries for {n} samples")
    if n == 0:
        return _clean({"overall": {m: None for m in names}, "groups": {},
                       "metrics": {s.name: _metric_info(s) for s in specs},
                       "notes": ["no pairs to score"], "n": 0})
    stats = _text_stats(specs, preds, refs, options or {})
    for st in stats.values():
        notes.extend(st.notes)
    result: dict[str, Any] = {"overall": {m: stats[m].score() for m in names}}

    def resampler(mask: np.ndarray | None) -> Any:
        return lambda w: {m: stats[m].resampled(w, mask) for m in names}

    if bootstrap:
        result["ci"] = _intervals(names, resampler(None), n, bootstrap, seed, strata)
    result["groups"] = {}
    for field, values in keys.items():
        table = {}
        for value in sorted(set(values.tolist())):
            mask = values == value
            row: dict[str, Any] = {"n": int(mask.sum())}
            row.update({m: stats[m].score(mask) for m in names})
            if bootstrap:
                row["ci"] = _intervals(names, resampler(mask), row["n"], bootstrap, seed,
                                       _subset(strata, mask))
            table[value] = row
        result["groups"][field] = table
    result["metrics"] = {s.name: _metric_info(s, stats[s.name].params) for s in specs}
    result["notes"] = notes
    result["n"] = n
    if per_sample:
        result["per_sample"] = {m: np.asarray(stats[m].aggregate(stats[m].values),
                                              dtype=float).tolist() for m in names}
    if bootstrap:
        result["bootstrap"] = {"resamples": bootstrap, "seed": seed, "confidence": 0.95,
                               "stratified_by": "strata" if strata is not None else None}
    return _clean(result)


def paired_bootstrap(
    predictions_a: Sequence[str],
    predictions_b: Sequence[str],
    references: Sequence[str],
    metrics: Sequence[str],
    *,
    bootstrap: int = 1000,
    seed: int = 0,
    strata: Sequence[str] | None = None,
    options: Mapping[str, Any] | None = None,
    registry: Any = None,
) -> dict[str, Any]:
    """Compare two prediction sets on the same references over the same resamples.

    Per metric: both scores, ``diff = a - b``, its 95% interval, and a two-sided
    bootstrap p-value for "no difference".
    """
    n = len(references)
    if len(predictions_a) != n or len(predictions_b) != n:
        raise UsageError(f"paired comparison needs equal lengths, got {len(predictions_a)}, "
                         f"{len(predictions_b)} predictions and {n} references")
    if bootstrap < 1:
        raise UsageError("a paired comparison needs bootstrap >= 1")
    specs = _specs(metrics, "text", registry)
    notes: list[str] = []
    refs = _as_texts(references, "references", notes)
    a = _text_stats(specs, _as_texts(predictions_a, "predictions (a)", notes), refs, options or {})
    b = _text_stats(specs, _as_texts(predictions_b, "predictions (b)", notes), refs, options or {})
    return _clean(_paired(
        [s.name for s in specs],
        {m: a[m].score() for m in a}, {m: b[m].score() for m in b},
        lambda w: {m: a[m].resampled(w) - b[m].resampled(w) for m in a},
        n, bootstrap, seed, strata, notes,
    ))


def _paired(names: list[str], score_a: dict[str, float], score_b: dict[str, float],
            resample_diff: Any, n: int, bootstrap: int, seed: int,
            strata: Sequence[str] | None, notes: list[str]) -> dict[str, Any]:
    diffs: dict[str, list[np.ndarray]] = {m: [] for m in names}
    for weights in bootstrap_weights(n, bootstrap, seed, strata):
        for m, d in resample_diff(weights).items():
            diffs[m].append(d)
    out = {}
    for m in names:
        d = np.concatenate(diffs[m])
        out[m] = {"a": score_a[m], "b": score_b[m], "diff": score_a[m] - score_b[m],
                  "ci": percentile_ci(d), "p_value": paired_p_value(d)}
    return {"metrics": out, "n": n, "notes": notes,
            "bootstrap": {"resamples": bootstrap, "seed": seed, "confidence": 0.95}}


# ---------------------------------------------------------------- classification

def _label_index(values: Sequence[str | None], labels: list[str], what: str,
                 allow_none: bool) -> np.ndarray:
    index = {label: i for i, label in enumerate(labels)}
    out = np.empty(len(values), dtype=np.int64)
    for row, v in enumerate(values):
        if v is None and allow_none:
            out[row] = len(labels)
        elif v in index:
            out[row] = index[v]  # type: ignore[index]
        else:
            raise DataError(f"{what}[{row}] is {v!r}, which is not one of the labels "
                            f"{labels[:10]}{' ...' if len(labels) > 10 else ''}")
    return out


def _check_scores(scores: Any, n: int, k: int) -> np.ndarray:
    arr = np.asarray(scores, dtype=float)
    if arr.shape != (n, k):
        raise UsageError(f"scores has shape {arr.shape}; expected ({n}, {k}): one column per "
                         "label, in labels order")
    if not np.all(np.isfinite(arr)):
        raise UsageError("scores contains NaN or infinite values")
    return arr


def _classification_input(
    y_true: Sequence[str], y_pred: Sequence[str | None], labels: Sequence[str],
    metrics: Sequence[str], scores: Any, registry: Any = None,
) -> tuple[list[Any], list[str], np.ndarray, np.ndarray, np.ndarray | None]:
    labels = [str(x) for x in labels]
    if not labels or len(set(labels)) != len(labels):
        raise UsageError("labels must be a non-empty list of distinct class names")
    n = len(y_true)
    if len(y_pred) != n:
        raise UsageError(f"{len(y_pred)} predictions for {n} true labels")
    specs = _specs(metrics, "classification", registry)
    t = _label_index(y_true, labels, "y_true", allow_none=False)
    p = _label_index(y_pred, labels, "y_pred", allow_none=True)
    arr = None
    if scores is not None:
        arr = _check_scores(scores, n, len(labels))
    elif "auc_ovr" in [s.name for s in specs]:
        raise UsageError("metric 'auc_ovr' needs scores (n x len(labels), e.g. probabilities)")
    return specs, labels, t, p, arr


def _classify(specs: list[Any], t: np.ndarray, p: np.ndarray, k: int, scores: np.ndarray | None,
              weights: np.ndarray) -> dict[str, np.ndarray]:
    from harness.metrics.classification import ClassificationBatch

    batch = ClassificationBatch(t, p, k, weights, scores)
    return {s.name: np.asarray(s.fn(batch), dtype=float) for s in specs}


def score_classification(
    y_true: Sequence[str],
    y_pred: Sequence[str | None],
    labels: Sequence[str],
    metrics: Sequence[str] = DEFAULT_CLASSIFICATION,
    *,
    scores: np.ndarray | None = None,
    groups: Mapping[str, Sequence[str | None]] | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
    strata: Sequence[str] | None = None,
    registry: Any = None,
) -> dict[str, Any]:
    """Score class predictions; ``None`` is an unmatched answer, counted wrong and reported.

    The bootstrap is stratified by ``strata`` (default: the true class, so every
    resample keeps the class counts) and paired across models by construction.
    """
    specs, labels, t, p, arr = _classification_input(y_true, y_pred, labels, metrics, scores,
                                                     registry)
    names = [s.name for s in specs]
    n, k = len(t), len(labels)
    keys = _group_keys(groups, n)
    stratified_by = "y_true" if strata is None else "strata"
    strata = list(y_true) if strata is None else list(strata)
    if len(strata) != n:
        raise UsageError(f"strata has {len(strata)} entries for {n} samples")
    unmatched = int((p == k).sum())
    notes = [f"{unmatched} unmatched predictions counted as wrong"] if unmatched else []
    absent = [label for i, label in enumerate(labels) if not (t == i).any()]
    if absent and n:
        notes.append(f"classes with no true sample, left out of macro averages: {absent}")
    if n == 0:
        return _clean({"overall": {m: None for m in names}, "groups": {}, "n": 0,
                       "unmatched": 0, "metrics": {s.name: _metric_info(s) for s in specs},
                       "notes": ["no predictions to score"]})

    def point(mask: np.ndarray) -> dict[str, Any]:
        sub = _classify(specs, t[mask], p[mask], k, None if arr is None else arr[mask],
                        np.ones((1, int(mask.sum()))))
        return {m: float(v[0]) for m, v in sub.items()}

    def resampler(mask: np.ndarray) -> Any:
        return lambda w: _classify(specs, t[mask], p[mask], k,
                                   None if arr is None else arr[mask], w)

    everything = np.ones(n, dtype=bool)
    result: dict[str, Any] = {"overall": point(everything)}
    if bootstrap:
        result["ci"] = _intervals(names, resampler(everything), n, bootstrap, seed, strata)
    result["groups"] = {}
    for field, values in keys.items():
        table = {}
        for value in sorted(set(values.tolist())):
            mask = values == value
            row: dict[str, Any] = {"n": int(mask.sum()), **point(mask),
                                   "unmatched": int((p[mask] == k).sum())}
            if bootstrap:
                row["ci"] = _intervals(names, resampler(mask), row["n"], bootstrap, seed,
                                       _subset(strata, mask))
            table[value] = row
        result["groups"][field] = table
    confusion = np.zeros((k, k + 1), dtype=np.int64)
    np.add.at(confusion, (t, p), 1)
    result.update({
        "confusion": confusion.tolist(),
        "confusion_rows": labels,
        "confusion_columns": [*labels, "unmatched"],
        "unmatched": unmatched,
        "metrics": {s.name: _metric_info(s) for s in specs},
        "notes": notes,
        "n": n,
    })
    if bootstrap:
        result["bootstrap"] = {"resamples": bootstrap, "seed": seed, "confidence": 0.95,
                               "stratified_by": stratified_by}
    return _clean(result)


def paired_bootstrap_classification(
    y_true: Sequence[str],
    y_pred_a: Sequence[str | None],
    y_pred_b: Sequence[str | None],
    labels: Sequence[str],
    metrics: Sequence[str] = DEFAULT_CLASSIFICATION,
    *,
    scores_a: np.ndarray | None = None,
    scores_b: np.ndarray | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
    strata: Sequence[str] | None = None,
    registry: Any = None,
) -> dict[str, Any]:
    """Two classifiers on the same samples, compared over the same stratified resamples."""
    if bootstrap < 1:
        raise UsageError("a paired comparison needs bootstrap >= 1")
    specs, labels, t, pa, sa = _classification_input(y_true, y_pred_a, labels, metrics, scores_a,
                                                     registry)
    _, _, _, pb, sb = _classification_input(y_true, y_pred_b, labels, metrics, scores_b,
                                            registry)
    n, k = len(t), len(labels)
    strata = list(y_true) if strata is None else list(strata)
    ones = np.ones((1, n))
    score_a = {m: float(v[0]) for m, v in _classify(specs, t, pa, k, sa, ones).items()}
    score_b = {m: float(v[0]) for m, v in _classify(specs, t, pb, k, sb, ones).items()}

    def diff(w: np.ndarray) -> dict[str, np.ndarray]:
        a, b = _classify(specs, t, pa, k, sa, w), _classify(specs, t, pb, k, sb, w)
        return {m: a[m] - b[m] for m in a}

    return _clean(_paired([s.name for s in specs], score_a, score_b, diff, n, bootstrap, seed,
                          strata, []))


# ---------------------------------------------------------------- defaults

def default_vqa_metrics(bertscore_model: str | None = None) -> list[str]:
    """The paper's five VQA metrics; BERTScore is the paper's when bert-base-uncased is here.

    A ``bertscore_model`` path that is not bert-base-uncased is refused (UsageError)
    rather than silently replaced by the offline variant.
    """
    from harness.metrics.bertscore import find_bert_base_uncased

    found = find_bert_base_uncased(bertscore_model)
    return ["bleu4", "meteor", "rougeL", "bertscore" if found else "bertscore-minilm-l6",
            "recall"]

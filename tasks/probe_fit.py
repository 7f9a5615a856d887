"""The linear probe's statistics: C grid search by cross-validated ROC-AUC, refit, predict.

Same protocol as scikit-learn's
``GridSearchCV(Pipeline([StandardScaler(), LogisticRegression(max_iter=1000)]),
{"clf__C": C_GRID}, cv=StratifiedKFold(5), scoring="roc_auc_ovr")`` followed by a refit on the
whole training split: the scaler is fitted inside each fold's training part, the selection score
is one-vs-rest macro ROC-AUC (binary: plain ROC-AUC), ties go to the first best C, as
GridSearchCV ranks them.

What differs is only how each fit is reached, by ``solver``:

- ``"torch"`` (default): the folds as one batched problem in PyTorch, along the grid in
  ascending C with warm starts, on the GPU when there is one (``harness.tasks.probe_grid``):
  float32, preconditioned L-BFGS, the reference's stopping rule (largest gradient entry
  <= 1e-4, at most 1000 iterations).
- ``"sklearn"``: scikit-learn's lbfgs, one fold's fits along the grid in ascending C, each
  starting from the previous C's solution, on float32 features; folds can run in parallel.
- ``"exact"`` (or ``exact=True``): the reference's computation fit for fit (cold start, input
  dtype), for audits: its fold scores equal GridSearchCV's.

Well-regularised fits land on the same unique optimum whichever the solver; weakly regularised
ones (large C), where the stopping rule is met far from the optimum, stop at different points
on different paths and can score differently from the reference (measured in docs/probe.md).
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from harness.errors import HarnessError

SOLVERS = ("torch", "sklearn", "exact")
C_GRID = np.logspace(-5, 1, 10)  # the paper: C in {1e-5 ... 1e1}, 10 values log-spaced
TOL = 1e-4  # LogisticRegression's default, the reference's stopping criterion
MAX_ITER = 1000


@dataclass
class ProbeResult:
    best_C: float
    grid: list[float]
    fold_scores: list[list[float]]  # [n_C][n_folds] one-vs-rest ROC-AUC
    mean_scores: list[float]
    solver: str
    grouped: bool  # folds grouped by lesion/patient id
    n_folds: int
    notes: list[str]  # documented fallbacks taken
    classes: list[str] = field(default_factory=list)
    n_samples: int = 0
    cv: str = ""
    exact: bool = False
    model: Pipeline | None = field(default=None, repr=False)  # scaler + refitted classifier
    n_refit: int = 0  # rows the final model was fitted on

    def to_dict(self) -> dict[str, Any]:
        return {
            "best_C": self.best_C, "grid": self.grid, "fold_scores": self.fold_scores,
            "mean_scores": self.mean_scores, "solver": self.solver, "grouped": self.grouped,
            "n_folds": self.n_folds, "notes": self.notes, "classes": self.classes,
            "n_samples": self.n_samples, "n_refit": self.n_refit, "cv": self.cv,
            "exact": self.exact,
            "scoring": "roc_auc_ovr", "tol": TOL, "max_iter": MAX_ITER,
        }


def _check_features(X: Any, n: int | None, what: str) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise HarnessError(f"probe: {what} features must be a non-empty 2-D array, got {X.shape}")
    if n is not None and X.shape[0] != n:
        raise HarnessError(f"probe: {X.shape[0]} {what} feature rows but {n} labels")
    if not np.issubdtype(X.dtype, np.number):
        raise HarnessError(f"probe: {what} features are not numeric (dtype {X.dtype})")
    bad = int((~np.isfinite(X)).any(axis=1).sum())
    if bad:
        raise HarnessError(
            f"probe: {bad} of {X.shape[0]} {what} feature rows contain NaN or infinite values"
        )
    # The reference keeps float32 and float64 as given and turns anything else into float64.
    return X if X.dtype in (np.float32, np.float64) else X.astype(np.float64)


def _check_labels(y: Sequence[Any], what: str) -> np.ndarray:
    missing = sum(1 for v in y if v is None or v == "")
    if missing:
        raise HarnessError(f"probe: {missing} {what} samples have no label")
    return np.asarray([str(v) for v in y])


def _plan_folds(
    y: np.ndarray, groups: np.ndarray | None, n_folds: int, seed: int
) -> tuple[list[tuple[np.ndarray, np.ndarray]], int, str, list[str]]:
    """The folds, after the documented fallbacks; one clear error where none applies."""
    notes: list[str] = []
    if n_folds < 2:
        raise HarnessError(f"probe: n_folds must be at least 2, got {n_folds}")
    counts = Counter(y.tolist())
    if len(counts) < 2:
        raise HarnessError(
            f"probe: the training split has only one class ({next(iter(counts))!r}); "
            "a probe needs at least two"
        )
    # A class must sit on both sides of every fold; with groups, what counts is its groups.
    if groups is None:
        per_class = dict(counts)
        unit = "samples"
    else:
        per_class = {c: len(set(groups[y == c].tolist())) for c in counts}
        unit = "distinct groups"
    smallest = min(per_class.values())
    if smallest < 2:
        few = sorted(c for c, k in per_class.items() if k < 2)
        raise HarnessError(
            f"probe: class(es) {', '.join(map(repr, few))} have fewer than 2 training {unit}; "
            "cross-validation needs at least 2 per class (drop or merge them)"
        )
    if smallest < n_folds:
        few = sorted(c for c, k in per_class.items() if k == smallest)
        notes.append(
            f"folds reduced from {n_folds} to {smallest}: class(es) {', '.join(few)} "
            f"have only {smallest} training {unit}"
        )
        n_folds = smallest
    if groups is None:
        cv: Any = StratifiedKFold(n_folds)  # unshuffled, exactly as the reference
        splits = list(cv.split(np.zeros(len(y)), y))
    else:
        cv = StratifiedGroupKFold(n_folds, shuffle=True, random_state=seed)
        splits = list(cv.split(np.zeros(len(y)), y, groups))
    classes = set(counts)
    for k, (tr, te) in enumerate(splits):
        for side, idx in (("training", tr), ("held-out", te)):
            absent = sorted(classes - set(y[idx].tolist()))
            if absent:
                notes.append(f"fold {k}: class(es) {', '.join(absent)} absent from its {side} "
                             "part (grouping); scored over the classes present")
    return splits, n_folds, repr(cv), notes


def _auc(y_true: np.ndarray, proba: np.ndarray, fit_classes: np.ndarray,
         classes: np.ndarray) -> float:
    """The reference's roc_auc_ovr; over the classes present where grouping left some out."""
    present = np.unique(y_true)
    if np.array_equal(present, fit_classes):
        if len(fit_classes) == 2:
            return float(roc_auc_score(y_true, proba[:, 1]))
        return float(roc_auc_score(y_true, proba, multi_class="ovr"))
    cols = {c: j for j, c in enumerate(fit_classes)}
    scores = [roc_auc_score(y_true == c, proba[:, cols[c]] if c in cols else np.zeros(len(y_true)))
              for c in present]
    return float(np.mean(scores)) if len(present) > 1 else float("nan")


def _fold_path(
    X: np.ndarray, y: np.ndarray, tr: np.ndarray, te: np.ndarray, Cs: np.ndarray,
    classes: np.ndarray, exact: bool,
) -> tuple[list[float], list[tuple[np.ndarray, np.ndarray, np.ndarray]], list[float]]:
    """One fold's scores over the grid, its solutions (for the refit's start) and unconverged Cs."""
    scaler = StandardScaler().fit(X[tr])
    Xtr, Xte = scaler.transform(X[tr]), scaler.transform(X[te])
    if not exact:
        Xtr, Xte = Xtr.astype(np.float32), Xte.astype(np.float32)
    clf = LogisticRegression(max_iter=MAX_ITER, tol=TOL, warm_start=not exact)
    scores, sols, unconverged = [], [], []
    for C in Cs:  # ascending: each warm start begins from a more regularised solution
        # np.float64, as GridSearchCV passes it: a Python float would let sklearn compute the
        # penalty in float32 for float32 features and change the fits (measurably at small C).
        clf.set_params(C=np.float64(C))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            clf.fit(Xtr, y[tr])
        if any(issubclass(w.category, ConvergenceWarning) for w in caught):
            unconverged.append(float(C))
        scores.append(_auc(y[te], clf.predict_proba(Xte), clf.classes_, classes))
        sols.append((clf.classes_, clf.coef_.copy(), clf.intercept_.copy()))
    return scores, sols, unconverged


def fit_probe(
    X: np.ndarray,
    y: Sequence[str],
    *,
    groups: Sequence[str] | None = None,
    Cs: Sequence[float] = C_GRID,
    n_folds: int = 5,
    seed: int = 0,
    n_jobs: int = 1,
    exact: bool = False,
    refit_on: Sequence[bool] | np.ndarray | None = None,
    solver: str = "torch",
    device: str = "auto",
) -> ProbeResult:
    """Grid-search C by cross-validated ROC-AUC, then refit with the best C on all of (X, y),
    or on the rows ``refit_on`` marks (the authors search on train+val, refit on train)."""
    solver = "exact" if exact else solver
    if solver not in SOLVERS:
        raise HarnessError(f"probe: solver {solver!r} is not one of {', '.join(SOLVERS)}")
    labels = _check_labels(y, "training")
    X = _check_features(X, len(labels), "training")
    grid = np.sort(np.asarray(Cs, dtype=float))
    if grid.size == 0 or not np.all(np.isfinite(grid)) or np.any(grid <= 0):
        raise HarnessError(f"probe: the C grid must be non-empty and positive, got {list(Cs)}")
    g = None
    if groups is not None:
        g = np.asarray([str(v) for v in groups])
        if len(g) != len(labels):
            raise HarnessError(f"probe: {len(g)} group ids for {len(labels)} training samples")
    splits, n_folds, cv, notes = _plan_folds(labels, g, n_folds, seed)
    classes = np.unique(labels)
    refit = np.ones(len(labels), bool) if refit_on is None else np.asarray(refit_on, bool)
    if refit.shape != (len(labels),) or not refit.any():
        raise HarnessError(f"probe: refit_on must mark some of the {len(labels)} rows")

    if solver == "torch":
        from harness.tasks.probe_grid import TorchGrid

        run = TorchGrid(X, labels, classes, splits, grid, _auc, refit_rows=np.flatnonzero(refit),
                        device=device, seed=seed, tol=TOL, max_iter=MAX_ITER)
        fold_scores, unconverged = run.fold_scores, run.unconverged
        name = f"lbfgs (torch, folds batched, warm-started along C, float32, {run.device})"
    else:
        paths = _sklearn_paths(X, labels, splits, grid, classes, solver == "exact", n_jobs)
        fold_scores = [[p[0][i] for p in paths] for i in range(len(grid))]
        unconverged = [[k for k, p in enumerate(paths) if float(C) in p[2]] for C in grid]
        name = "lbfgs" + ("" if solver == "exact" else " (warm-started along C, float32)")
    # np.average over folds and first-best, exactly as GridSearchCV's mean_test_score / rank.
    means = np.average(np.asarray(fold_scores, dtype=float), axis=1)
    if np.all(np.isnan(means)):
        raise HarnessError("probe: no fold could be scored (each held-out part has one class)")
    best = int(np.nanargmax(means))
    for C, folds in zip(grid, unconverged, strict=True):
        if folds:
            notes.append(f"lbfgs hit max_iter={MAX_ITER} at C={C:.3g} in fold(s) {folds}")

    if solver == "torch":
        model = run.refit(best)
    else:
        model = _refit(X[refit], labels[refit], np.float64(grid[best]),
                       [p[1][best] for p in paths], np.unique(labels[refit]), solver == "exact")
    return ProbeResult(
        best_C=float(grid[best]), grid=[float(c) for c in grid], fold_scores=fold_scores,
        mean_scores=[float(m) for m in means], solver=name,
        grouped=g is not None, n_folds=n_folds, notes=notes, classes=classes.tolist(),
        n_samples=len(labels), cv=cv, exact=solver == "exact", model=model,
        n_refit=int(refit.sum()),
    )


def _sklearn_paths(X: np.ndarray, labels: np.ndarray, splits: list, grid: np.ndarray,
                   classes: np.ndarray, exact: bool, n_jobs: int) -> list:
    args = [(X, labels, tr, te, grid, classes, exact) for tr, te in splits]
    jobs = max(1, min(n_jobs, len(splits)))
    if jobs > 1:  # folds are independent; joblib memory-maps X for the workers
        return Parallel(n_jobs=jobs)(delayed(_fold_path)(*a) for a in args)
    return [_fold_path(*a) for a in args]


def _refit(X: np.ndarray, y: np.ndarray, C: np.float64, fold_sols: list, classes: np.ndarray,
           exact: bool) -> Pipeline:
    scaler = StandardScaler().fit(X)
    Xs = scaler.transform(X)
    clf = LogisticRegression(C=C, max_iter=MAX_ITER, tol=TOL)
    if not exact:
        Xs = Xs.astype(np.float32)
        same = [s for s in fold_sols if np.array_equal(s[0], classes)]
        if same:  # start from the folds' mean solution: same optimum, fewer iterations
            clf.set_params(warm_start=True)
            clf.coef_ = np.mean([s[1] for s in same], axis=0)
            clf.intercept_ = np.mean([s[2] for s in same], axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(Xs, y)
    clf.set_params(warm_start=False)
    return Pipeline([("scaler", scaler), ("clf", clf)])


def evaluate_probe(
    result: ProbeResult, X: np.ndarray, y: Sequence[str], labels: Sequence[str]
) -> dict[str, Any]:
    """Predicted labels and probabilities with columns in ``labels`` order (0 where untrained)."""
    if result.model is None:
        raise HarnessError("probe: the result carries no fitted model (was it loaded from JSON?)")
    clf = result.model.named_steps["clf"]
    X = _check_features(X, len(y), "evaluation")
    if X.shape[1] != clf.coef_.shape[1]:
        raise HarnessError(
            f"probe: evaluation features have {X.shape[1]} dimensions, training had "
            f"{clf.coef_.shape[1]}"
        )
    labels = [str(v) for v in labels]
    unknown = sorted(set(clf.classes_.tolist()) - set(labels))
    if unknown:
        raise HarnessError(f"probe: trained class(es) {unknown} are not among the task's labels")
    proba = np.zeros((len(X), len(labels)))
    fitted = result.model.predict_proba(X)
    for j, c in enumerate(clf.classes_):
        proba[:, labels.index(c)] = fitted[:, j]
    y_pred = [str(c) for c in clf.classes_[np.argmax(fitted, axis=1)]]
    return {"y_pred": y_pred, "proba": proba, "labels": labels}

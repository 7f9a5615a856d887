"""Classification metrics computed from (bootstrap-)weighted confusion matrices.

Every metric takes a :class:`ClassificationBatch` (labels as indices, one row of
sample weights per resample; the point estimate is the all-ones row) and returns
one score per row, so point estimates, groups and bootstrap resamples share one
code path.

Conventions (documented in docs/metrics.md; the tests compare with scikit-learn):
- An unmatched answer (``None``) is a prediction of its own column, "unmatched":
  always wrong, never dropped.
- Macro averages run over the classes present in ``y_true`` of the set being
  scored (a class with no true sample has no recall). Per-class precision with
  no predictions is 0 (scikit-learn's ``zero_division=0``). With that,
  ``recall_macro`` equals ``balanced_accuracy`` (as in scikit-learn).
- ``precision_macro_union`` is the authors' zero-shot precision instead: averaged over
  every label among the true and predicted ones, "unmatched" included (always 0).
- ``auc_ovr``: two labels -> ROC-AUC of ``labels[1]`` on ``scores[:, 1]``
  (scikit-learn's binary rule); more -> mean one-vs-rest ROC-AUC over classes
  that have both positives and negatives in the set.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class ClassificationBatch:
    y_true: np.ndarray  # [n] int in [0, k)
    y_pred: np.ndarray  # [n] int in [0, k], k = unmatched
    n_labels: int
    weights: np.ndarray  # [b, n]
    scores: np.ndarray | None = None  # [n, k]
    _confusion: np.ndarray | None = field(default=None, repr=False)

    @property
    def confusion(self) -> np.ndarray:
        """[b, k, k + 1]: weighted counts of (true class, predicted class or unmatched)."""
        if self._confusion is None:
            from scipy.sparse import csr_matrix

            k = self.n_labels
            cell = self.y_true * (k + 1) + self.y_pred
            n = len(cell)
            onehot = csr_matrix((np.ones(n), (cell, np.arange(n))), shape=(k * (k + 1), n))
            # (cells x n) @ (n x b): sparse, so many classes and rows stay cheap.
            counts = np.asarray(onehot @ self.weights.T).T
            self._confusion = counts.reshape(-1, k, k + 1)
        return self._confusion


def _per_class(batch: ClassificationBatch) -> tuple[np.ndarray, ...]:
    c = batch.confusion
    k = batch.n_labels
    tp = np.diagonal(c[:, :, :k], axis1=1, axis2=2)
    support = c.sum(axis=2)
    predicted = c[:, :, :k].sum(axis=1)
    present = support > 0
    return tp, support, predicted, present


def _macro(values: np.ndarray, present: np.ndarray) -> np.ndarray:
    count = present.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, (values * present).sum(axis=1) / count, np.nan)


def _safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), 0.0)


def accuracy(batch: ClassificationBatch) -> np.ndarray:
    c = batch.confusion
    total = c.sum(axis=(1, 2))
    correct = np.trace(c[:, :, : batch.n_labels], axis1=1, axis2=2)
    return _safe_div(correct, total)


def recall_macro(batch: ClassificationBatch) -> np.ndarray:
    tp, support, _, present = _per_class(batch)
    return _macro(_safe_div(tp, support), present)


balanced_accuracy = recall_macro


def precision_macro(batch: ClassificationBatch) -> np.ndarray:
    tp, _, predicted, present = _per_class(batch)
    return _macro(_safe_div(tp, predicted), present)


def precision_macro_union(batch: ClassificationBatch) -> np.ndarray:
    """scikit-learn's ``precision_score(average="macro")`` given no ``labels``: the mean over
    every label that occurs among the true or the predicted ones, an unmatched answer being a
    label of its own whose precision is always 0. The authors' zero-shot precision
    (ZwQ803/MM-Skin@31d105c utils/eval_help.py:57, unmatched = -1)."""
    c = batch.confusion
    k = batch.n_labels
    tp = np.diagonal(c[:, :, :k], axis1=1, axis2=2)
    predicted = c.sum(axis=1)  # [b, k + 1], the last column the unmatched answers
    occurs = (c.sum(axis=2) > 0) | (predicted[:, :k] > 0)
    count = occurs.sum(axis=1) + (predicted[:, k] > 0)
    total = (_safe_div(tp, predicted[:, :k]) * occurs).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def f1_macro(batch: ClassificationBatch) -> np.ndarray:
    tp, support, predicted, present = _per_class(batch)
    # 2tp / (2tp + fp + fn) = 2tp / (predicted + support); 0 when tp = 0.
    return _macro(_safe_div(2 * tp, predicted + support), present)


def _weighted_auc(score: np.ndarray, positive: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ROC-AUC of ``score`` for ``positive`` under each row of ``weights`` ([b, n] -> [b]).

    Sorted once; ties count one half (Mann-Whitney), as scikit-learn's trapezoids do.
    """
    order = np.argsort(score, kind="mergesort")
    s = score[order]
    w = weights[:, order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    pos = np.add.reduceat(w * positive[order], starts, axis=1)
    neg = np.add.reduceat(w * ~positive[order], starts, axis=1)
    neg_below = np.cumsum(neg, axis=1) - neg
    n_pos, n_neg = pos.sum(axis=1), neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (pos * (neg_below + 0.5 * neg)).sum(axis=1) / (n_pos * n_neg)
    return np.where((n_pos > 0) & (n_neg > 0), auc, np.nan)


def auc_ovr(batch: ClassificationBatch) -> np.ndarray:
    if batch.scores is None:
        return np.full(batch.weights.shape[0], np.nan)
    k = batch.n_labels
    if k == 2:
        return _weighted_auc(batch.scores[:, 1], batch.y_true == 1, batch.weights)
    per_class = np.stack(
        [_weighted_auc(batch.scores[:, c], batch.y_true == c, batch.weights) for c in range(k)],
        axis=1,
    )
    with np.errstate(invalid="ignore"):
        defined = ~np.isnan(per_class)
        count = defined.sum(axis=1)
        total = np.where(defined, per_class, 0.0).sum(axis=1)
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)

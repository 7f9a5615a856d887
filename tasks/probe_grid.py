"""The probe's grid search and refit on the batched PyTorch solver (``solver="torch"``).

The folds of one C value are one batch (``TorchProbe``): 5 logistic regressions sharing each
pass over the features. The C values follow each other in ascending order, each batch starting
from the previous C's solutions and carrying their L-BFGS curvature pairs, corrected exactly
for the change of penalty. Measured against all 50 problems in one batch from zero
(benchmarks/probe_path.py, docs/probe.md): half the iterations, a quarter less CPU time at
17,700 x 4,096 and 4,096 dimensions even though each batch is narrower.

The folds are given, as (training rows, held-out rows) pairs; nothing here assumes how they
were made (stratified, grouped, train+val). The refit is one more problem on its own rows (all
rows unless told otherwise), started from the mean of the folds' solutions at the chosen C.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from harness.tasks.probe_torch import TorchProbe


class TorchGrid:
    """Fits every (fold, C); ``fold_scores`` by the given scorer; ``refit(i)``."""

    def __init__(self, X: np.ndarray, labels: np.ndarray, classes: np.ndarray,
                 splits: list[tuple[np.ndarray, np.ndarray]], grid: np.ndarray, scorer: Any, *,
                 refit_rows: np.ndarray | None = None, device: str = "auto", seed: int = 0,
                 tol: float, max_iter: int) -> None:
        self.classes, self.grid = classes, np.asarray(grid, dtype=float)
        self.tol, self.max_iter = tol, max_iter
        codes = np.searchsorted(classes, labels)
        self.refit_rows = np.arange(len(labels)) if refit_rows is None else refit_rows
        self.probe = TorchProbe(X, codes, len(classes),
                                [tr for tr, _ in splits] + [self.refit_rows],
                                device=device, seed=seed)
        self.device = str(self.probe.device)
        n_f, n_c = len(splits), len(self.grid)
        folds, start = np.arange(n_f), None
        self.thetas, self.unconverged = [], []  # per C: (n_f, d + 1, K); folds not converged
        for C in self.grid:
            start = self.probe.solve(folds, np.full(n_f, C), start=start, tol=tol,
                                     max_iter=max_iter)
            self.thetas.append(start.theta)
            self.unconverged.append([f for f in folds if start.status[f] != "converged"])
        present = self.probe.present.cpu().numpy()
        self.fold_scores = [[0.0] * n_f for _ in range(n_c)]
        for f, (_, te) in enumerate(splits):
            cols = present[f]
            for c in range(n_c):
                proba = self.probe.proba(self.thetas[c][f], f, te)[:, cols]
                self.fold_scores[c][f] = scorer(labels[te], proba, classes[cols], classes)
        self.n_folds = n_f

    def refit(self, best: int) -> Pipeline:
        """Scaler + classifier for the refit rows at grid[best], as scikit-learn objects."""
        import torch

        refit_set = self.n_folds
        present = self.probe.present.cpu().numpy()
        same = [f for f in range(self.n_folds) if np.array_equal(present[f], present[refit_set])]
        init = None
        if same:  # the folds' mean solution: the same optimum, fewer iterations
            init = torch.stack([self.thetas[best][f] for f in same]).mean(0)[None]
        sol = self.probe.solve(np.array([refit_set]), self.grid[best:best + 1], init=init,
                               tol=self.tol, max_iter=self.max_iter)
        theta = sol.theta[0].double().cpu().numpy()  # (d + 1, K)
        fit_classes = self.classes[present[refit_set]]
        W, b = theta[:-1, present[refit_set]].T, theta[-1, present[refit_set]]
        if len(fit_classes) == 2:  # the two-class softmax as scikit-learn's binary model
            W, b = W[1:] - W[:1], b[1:] - b[:1]
        mean, var, scale = self.probe.standardisation(refit_set)
        scaler = StandardScaler()
        scaler.mean_, scaler.var_, scaler.scale_ = mean, var, scale
        scaler.n_features_in_, scaler.n_samples_seen_ = len(mean), len(self.refit_rows)
        clf = LogisticRegression(C=float(self.grid[best]), max_iter=self.max_iter, tol=self.tol)
        clf.classes_, clf.coef_, clf.intercept_ = fit_classes, W, b
        clf.n_features_in_, clf.n_iter_ = W.shape[1], np.array([sol.n_iter[0]])
        return Pipeline([("scaler", scaler), ("clf", clf)])

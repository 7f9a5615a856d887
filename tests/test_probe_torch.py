"""The batched PyTorch probe solver (CPU here) against scikit-learn on small seeded problems.

Solver level: each (rows, C) problem against ``StandardScaler`` + ``LogisticRegression`` fitted
to a tight tolerance on the same rows. Protocol level: ``fit_probe(solver="torch")`` against
``GridSearchCV`` on the same folds (stratified, grouped, and the authors' train+val scheme).
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")

from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.model_selection import GridSearchCV, StratifiedKFold  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from test_probe_fit import mixture  # noqa: E402

from harness.errors import HarnessError  # noqa: E402
from harness.tasks.probe_fit import C_GRID, _auc, evaluate_probe, fit_probe  # noqa: E402
from harness.tasks.probe_grid import TorchGrid  # noqa: E402
from harness.tasks.probe_torch import TorchProbe  # noqa: E402


def sk_fit(X, y, C, tol=1e-10):
    """The reference fit of one problem, in float64, converged far past the harness's tol."""
    scaler = StandardScaler().fit(X)
    clf = LogisticRegression(C=C, tol=tol, max_iter=100_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(scaler.transform(X).astype(np.float64), y)
    return scaler, clf


def sk_grid(X, y, cv, refit_rows=None):
    """GridSearchCV as the authors call it (SFT_classification.py:284-325 at 31d105c):
    grid search on (X, y) with the given folds, refit on ``refit_rows`` (default: all)."""
    pipe = Pipeline([("scaler", StandardScaler()), ("clf", LogisticRegression(max_iter=1000))])
    gs = GridSearchCV(pipe, {"clf__C": C_GRID}, cv=cv, scoring="roc_auc_ovr", refit=False)
    rows = np.arange(len(y)) if refit_rows is None else refit_rows
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gs.fit(X, y)
        pipe.set_params(**gs.best_params_).fit(X[rows], y[rows])
    folds = np.array([gs.cv_results_[f"split{i}_test_score"] for i in range(gs.n_splits_)]).T
    return gs.best_params_["clf__C"], folds, pipe


@pytest.mark.parametrize("k", [2, 3, 7], ids=lambda k: f"{k}-classes")
def test_each_problem_reaches_scikit_learns_optimum(k):
    X, y = mixture(500, 10, k, seed=20 + k)
    classes, codes = np.unique(y, return_inverse=True)
    rows = [np.arange(400), np.arange(100, 500)]
    probe = TorchProbe(X, codes, k, rows, device="cpu")
    Cs = [1e-3, 0.1, 10.0]
    sol = probe.solve(np.repeat([0, 1], 3), np.tile(Cs, 2), tol=1e-6, max_iter=2000)
    assert sol.status == ["converged"] * 6
    for p, (r, C) in enumerate([(r, C) for r in range(2) for C in Cs]):
        scaler, clf = sk_fit(X[rows[r]], y[rows[r]], C)
        mean, var, scale = probe.standardisation(r)
        np.testing.assert_allclose(mean, scaler.mean_, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(scale, scaler.scale_, rtol=1e-6)
        # Two classes: scikit-learn's one binary vector is the two-class softmax's difference.
        ours = probe.proba(sol.theta[p], r, np.arange(500))
        theirs = clf.predict_proba(scaler.transform(X))
        np.testing.assert_allclose(ours, theirs, atol=2e-4)


def test_a_class_absent_from_a_row_set_is_left_out_as_scikit_learn_does():
    X, y = mixture(600, 8, 4, seed=31)
    classes, codes = np.unique(y, return_inverse=True)
    without = np.flatnonzero(y != "c3")  # a grouped fold can lack a class in its training part
    two = np.flatnonzero(np.isin(y, ["c0", "c1"]))  # ... or keep only two: the binary model
    probe = TorchProbe(X, codes, 4, [without, two], device="cpu")
    sol = probe.solve(np.array([0, 1]), np.array([0.05, 0.05]), tol=1e-6, max_iter=2000)
    present = probe.present.numpy()
    assert present.tolist() == [[True, True, True, False], [True, True, False, False]]
    for p, rows in enumerate((without, two)):
        scaler, clf = sk_fit(X[rows], y[rows], 0.05)
        ours = probe.proba(sol.theta[p], p, np.arange(600))
        np.testing.assert_array_equal(ours[:, ~present[p]], 0.0)
        np.testing.assert_allclose(ours[:, present[p]],
                                   clf.predict_proba(scaler.transform(X)), atol=2e-4)


def _compare(X, y, res, C_ref, folds_ref, pipe_ref, Xt, yt):
    assert res.best_C == C_ref
    best = list(res.grid).index(res.best_C)
    diff = np.abs(np.asarray(res.fold_scores) - folds_ref)
    # Near the chosen (well-regularised) C both runs reach the same optimum; weakly
    # regularised fits stop early on both sides, at different points of different paths.
    assert diff[best].max() < 2e-3, diff[best]
    ev = evaluate_probe(res, Xt, yt, sorted(set(y)))
    ref_pred = pipe_ref.predict(Xt)
    assert abs(np.mean(np.asarray(ev["y_pred"]) == yt) - np.mean(ref_pred == yt)) <= 1e-3
    ref_proba = pipe_ref.predict_proba(Xt)
    cols = [sorted(set(y)).index(c) for c in pipe_ref.classes_]
    np.testing.assert_allclose(ev["proba"][:, cols], ref_proba, atol=5e-3)
    assert abs(ovr_auc(yt, ev["proba"][:, cols], pipe_ref.classes_)
               - ovr_auc(yt, ref_proba, pipe_ref.classes_)) < 1e-3


def ovr_auc(y, proba, classes):
    """Macro one-vs-rest ROC-AUC over the classes present in y."""
    return np.mean([roc_auc_score(y == c, proba[:, j]) for j, c in enumerate(classes)
                    if 0 < np.sum(y == c) < len(y)])


def _two_members(n, d, seed):
    X, y = mixture(n, d, 4, seed)
    y = y.astype("<U8")
    y[[3, 40]] = "pair"  # a class with 2 members: the folds drop to 2
    return X, y


CASES = {
    "binary": lambda: mixture(700, 16, 2, seed=41),
    "multiclass": lambda: mixture(700, 16, 4, seed=42, sep=0.8),
    "imbalanced": lambda: mixture(900, 16, 7, seed=43),
    "two-members": lambda: _two_members(700, 16, 44),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_fit_probe_torch_equals_gridsearchcv(case):
    X, y = CASES[case]()
    X, Xt, y, yt = X[:560], X[560:], y[:560], y[560:]
    res = fit_probe(X, y, solver="torch", device="cpu")
    n_folds = 2 if case == "two-members" else 5
    assert res.n_folds == n_folds and res.solver.startswith("lbfgs (torch")
    C, folds, pipe = sk_grid(X, y, StratifiedKFold(n_folds))
    _compare(X, y, res, C, folds, pipe, Xt, yt)


def test_all_equal_features_tie_every_c_and_keep_the_smallest():
    X = np.full((300, 6), 3.5, dtype=np.float32)
    y = np.array(["a", "b", "c"])[np.arange(300) % 3]
    for solver in ("torch", "exact"):
        res = fit_probe(X, y, solver=solver, device="cpu")
        assert res.mean_scores == [0.5] * len(C_GRID) and res.best_C == C_GRID[0]
        proba = res.model.predict_proba(X[:4])
        np.testing.assert_allclose(proba, 1 / 3, atol=1e-6)


def test_separable_classes_tie_at_auc_one_and_keep_the_smallest_c():
    X, y = mixture(300, 6, 2, seed=50, sep=40.0)
    res = fit_probe(X, y, solver="torch", device="cpu")
    assert res.mean_scores == [1.0] * len(C_GRID) and res.best_C == C_GRID[0]


def test_runs_are_deterministic():
    X, y = mixture(500, 12, 3, seed=51)
    one, two = (fit_probe(X, y, solver="torch", device="cpu") for _ in range(2))
    assert one.fold_scores == two.fold_scores and one.best_C == two.best_C
    a, b = one.model.named_steps["clf"], two.model.named_steps["clf"]
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.intercept_, b.intercept_)


def test_torch_path_agrees_with_the_scikit_learn_paths():
    X, y = mixture(800, 20, 5, seed=52)
    runs = {s: fit_probe(X, y, solver=s, device="cpu") for s in ("torch", "sklearn", "exact")}
    assert len({r.best_C for r in runs.values()}) == 1
    best = list(C_GRID).index(runs["torch"].best_C)
    for other in ("sklearn", "exact"):
        diff = np.abs(np.asarray(runs["torch"].fold_scores) - runs[other].fold_scores)
        assert diff[best].max() < 2e-3 and diff.max() < 3e-2


def test_grouped_folds_give_gridsearchcvs_result_on_the_same_folds():
    from sklearn.model_selection import StratifiedGroupKFold

    X, y = mixture(900, 12, 3, seed=53)
    rng = np.random.default_rng(1)
    sizes = rng.integers(1, 5, size=900)
    groups = np.repeat(np.arange(900), sizes)[:900].astype(str)
    y = np.array([y[np.argmax(groups == g)] for g in groups])  # one label per lesion
    X, Xt, y, yt, groups = X[:720], X[720:], y[:720], y[720:], groups[:720]
    res = fit_probe(X, y, groups=groups, seed=3, solver="torch", device="cpu")
    assert res.grouped and "StratifiedGroupKFold" in res.cv
    cv = list(StratifiedGroupKFold(5, shuffle=True, random_state=3).split(X, y, groups))
    C, folds, pipe = sk_grid(X, y, cv)
    _compare(X, y, res, C, folds, pipe, Xt, yt)


def test_the_authors_scheme_grid_on_train_plus_val_refit_on_train():
    """The folds and the refit rows are the caller's: unshuffled StratifiedKFold(5) over
    train+val, refit on train alone (SFT_classification.py:309-325 at 31d105c)."""
    X, y = mixture(900, 14, 4, seed=54, sep=0.8)
    train = np.arange(600)  # the first 600 rows are "train", the next 200 "val"
    X, Xt, y = X[:800], X[800:], y[:800]
    splits = list(StratifiedKFold(5).split(X, y))
    classes = np.unique(y)
    run = TorchGrid(X, y, classes, splits, C_GRID, _auc, refit_rows=train, device="cpu",
                    tol=1e-4, max_iter=1000)
    C, folds, pipe = sk_grid(X, y, StratifiedKFold(5), refit_rows=train)
    means = np.mean(run.fold_scores, axis=1)
    best = int(np.argmax(means))
    assert C_GRID[best] == C
    assert np.abs(np.asarray(run.fold_scores) - folds)[best].max() < 2e-3
    model = run.refit(best)
    scaler = model.named_steps["scaler"]
    np.testing.assert_allclose(scaler.mean_, X[train].mean(0), rtol=1e-5, atol=1e-5)
    assert scaler.n_samples_seen_ == 600
    np.testing.assert_allclose(model.predict_proba(Xt), pipe.predict_proba(Xt), atol=5e-3)


def test_bad_solver_and_device_are_one_sentence():
    import torch

    X, y = mixture(100, 4, 2, seed=55)
    with pytest.raises(HarnessError, match="solver 'newton' is not one of torch, sklearn, exact"):
        fit_probe(X, y, solver="newton")
    with pytest.raises(HarnessError, match="device 'tpu' is not one of auto, cpu, cuda"):
        fit_probe(X, y, device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(HarnessError, match="torch sees no GPU"):
            fit_probe(X, y, device="cuda")


def test_the_task_takes_solver_options_and_scores_with_them():
    from harness.errors import UsageError
    from harness.tasks.probe import ProbeOptions
    from harness.tasks.probe_fit import SOLVERS as FIT_SOLVERS
    from harness.types import Prediction, Sample
    from tests.load import task as build

    assert ProbeOptions.model_fields["solver"].annotation.__args__ == FIT_SOLVERS
    with pytest.raises(UsageError, match=r"-T solver='newton' is not valid .*'torch', 'sklearn'"):
        build("probe/demo", solver="newton")
    with pytest.raises(UsageError, match=r"-T solver_device='tpu' is not valid .*'auto', 'cpu'"):
        build("probe/demo", solver_device="tpu")
    X, y = mixture(400, 8, 4, seed=56, sep=0.8)
    labels = ["Basal Cell Carcinoma", "Melanoma", "Nevus", "Seborrheic Keratosis"]
    samples = [Sample(id=f"s{i}", image=None, dataset="demo", label=labels[int(c[1])],
                      split="train" if i < 300 else "test") for i, c in enumerate(y)]
    preds = {s.id: Prediction(id=s.id, fingerprint="f", output=X[i])
             for i, s in enumerate(samples)}
    scores = {}
    for solver in ("torch", "sklearn"):
        task = build("probe/demo", solver=solver, solver_device="cpu", bootstrap=0)
        scores[solver] = task.score(samples, preds)
    assert scores["torch"]["probe"]["solver"].startswith("lbfgs (torch")
    assert "warm-started" in scores["sklearn"]["probe"]["solver"]
    assert scores["torch"]["probe"]["best_C"] == scores["sklearn"]["probe"]["best_C"]
    assert "solver" not in build("probe/demo", solver="exact").config()

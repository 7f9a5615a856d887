"""The probe's statistics against scikit-learn's GridSearchCV (exact and warm-started scikit-learn
paths; the torch path: test_probe_torch.py), grouped folds, and bad input."""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")

from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV, StratifiedKFold  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from harness.errors import HarnessError  # noqa: E402
from harness.tasks.probe_fit import C_GRID, evaluate_probe, fit_probe  # noqa: E402


def mixture(n: int, d: int, k: int, seed: int, sep: float = 0.5):
    """Imbalanced Gaussian classes in an 8-dim subspace, with per-dimension scales and offsets."""
    rng = np.random.default_rng(seed)
    shares = np.array([0.5, 0.2, 0.12, 0.08, 0.05, 0.03, 0.02])[:k]
    y = rng.choice(k, size=n, p=shares / shares.sum())
    z = rng.normal(0, sep, size=(k, 8))[y] + rng.normal(size=(n, 8))
    X = (z @ rng.normal(size=(8, d)) / 3 + rng.normal(size=(n, d))) * np.exp(
        rng.normal(0, 0.7, size=d)) + rng.normal(0, 3, size=d)
    return X.astype(np.float32), np.array([f"c{i}" for i in y])


def reference(X, y):
    gs = GridSearchCV(
        Pipeline([("scaler", StandardScaler()), ("clf", LogisticRegression(max_iter=1000))]),
        {"clf__C": C_GRID}, cv=StratifiedKFold(5), scoring="roc_auc_ovr",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gs.fit(X, y)
    folds = np.array([gs.cv_results_[f"split{i}_test_score"] for i in range(5)]).T
    return gs, folds


# (classes, seed): binary and multiclass, different class balances.
PROBLEMS = [(2, 0), (3, 1), (5, 2), (7, 3)]


@pytest.fixture(scope="module", params=PROBLEMS, ids=lambda p: f"k{p[0]}-seed{p[1]}")
def problem(request):
    k, seed = request.param
    X, y = mixture(1000, 24, k, seed)
    gs, folds = reference(X, y)
    return X, y, gs, folds


def test_exact_mode_is_gridsearchcv_fit_for_fit(problem):
    X, y, gs, folds = problem
    res = fit_probe(X, y, exact=True)
    # Same folds, scaler, solver, start and dtype: nothing may differ beyond float noise.
    np.testing.assert_allclose(res.fold_scores, folds, rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.mean_scores, gs.cv_results_["mean_test_score"], atol=1e-12)
    assert res.best_C == gs.best_params_["clf__C"]
    np.testing.assert_allclose(res.model.predict_proba(X), gs.predict_proba(X), atol=1e-6)


def test_sklearn_warm_path_chooses_the_same_c_and_scores_within_solver_tolerance(problem):
    X, y, gs, folds = problem
    res = fit_probe(X, y, solver="sklearn")
    assert res.best_C == gs.best_params_["clf__C"]
    assert res.grid == list(C_GRID) and not res.grouped and res.n_folds == 5
    diff = np.abs(np.asarray(res.fold_scores) - folds)
    best = list(C_GRID).index(res.best_C)
    # Both runs stop once lbfgs's largest gradient entry is below 1e-4, from different starts:
    # near the chosen (well-regularised) C the two solutions agree closely and only a few
    # near-tied pairs of a 200-sample fold swap order (each pair moves a class's AUC by
    # 1/(n_pos*n_neg), ~1e-4 here); at large C lbfgs stops far from the optimum on both sides,
    # so their scores may differ by up to ~1e-2 (measured max on these problems: ~4e-3).
    assert diff[best].max() < 2e-3
    assert diff.max() < 2e-2
    pred = evaluate_probe(res, X, y, sorted(set(y)))["y_pred"]
    assert np.mean(np.asarray(pred) == gs.predict(X)) > 0.99


def test_parallel_folds_give_the_same_result():
    X, y = mixture(300, 8, 3, seed=5)
    one = fit_probe(X, y, Cs=[0.01, 1.0], solver="sklearn")
    two = fit_probe(X, y, Cs=[0.01, 1.0], solver="sklearn", n_jobs=2)
    assert one.fold_scores == two.fold_scores and one.best_C == two.best_C


def test_ties_go_to_the_first_best_c():
    X, y = mixture(300, 8, 2, seed=4)
    # A grid of one C repeated: every mean ties, GridSearchCV's rank picks the first.
    res = fit_probe(X, y, Cs=[0.1, 0.1, 0.1], exact=True)
    assert res.mean_scores[0] == res.mean_scores[2] and res.best_C == 0.1


def test_to_dict_is_json_and_evaluate_orders_columns_by_labels():
    X, y = mixture(400, 10, 3, seed=6)
    res = fit_probe(X, y)
    d = json.loads(json.dumps(res.to_dict()))
    assert d["best_C"] == res.best_C and len(d["fold_scores"]) == 10
    assert all(len(row) == 5 for row in d["fold_scores"]) and d["solver"].startswith("lbfgs")
    labels = ["zz-unseen", "c2", "c0", "c1"]
    ev = evaluate_probe(res, X[:50], y[:50], labels)
    assert ev["proba"].shape == (50, 4)
    np.testing.assert_array_equal(ev["proba"][:, 0], 0.0)
    np.testing.assert_allclose(ev["proba"].sum(axis=1), 1.0, atol=1e-6)
    direct = res.model.predict_proba(X[:50])  # columns c0, c1, c2
    np.testing.assert_allclose(ev["proba"][:, 1], direct[:, 2])
    assert ev["y_pred"] == [f"c{j}" for j in direct.argmax(axis=1)]


def test_grouped_folds_never_split_a_group(monkeypatch):
    import harness.tasks.probe_fit as pf

    X, y = mixture(900, 12, 3, seed=7)
    rng = np.random.default_rng(0)
    # Lesions of 1-4 images each, one diagnosis per lesion.
    groups, lesion = [], 0
    while len(groups) < len(y):
        groups += [f"L{lesion}"] * int(rng.integers(1, 5))
        lesion += 1
    groups = np.array(groups[: len(y)])
    y = np.array([y[np.argmax(groups == g)] for g in groups])  # same label within a lesion
    seen = []
    real = pf._fold_path
    monkeypatch.setattr(pf, "_fold_path", lambda X, y, tr, te, *a: seen.append((tr, te))
                        or real(X, y, tr, te, *a))
    res = fit_probe(X, y, groups=list(groups), seed=3, solver="sklearn")
    assert res.grouped and res.n_folds == 5 and len(seen) == 5
    for tr, te in seen:
        assert not set(groups[tr]) & set(groups[te])
    assert sorted(np.concatenate([te for _, te in seen]).tolist()) == list(range(len(y)))
    assert "StratifiedGroupKFold" in res.to_dict()["cv"]


def test_rare_class_reduces_the_folds_and_says_so():
    X, y = mixture(300, 8, 2, seed=8)
    y = y.astype("<U8")
    y[:3] = "rare"
    res = fit_probe(X, y)
    assert res.n_folds == 3 and len(res.fold_scores[0]) == 3
    assert any("reduced from 5 to 3" in n and "rare" in n for n in res.notes)


def test_rare_group_count_reduces_grouped_folds():
    X, y = mixture(300, 8, 2, seed=9)
    y = y.astype("<U8")
    y[:6] = "rare"
    groups = [f"g{i}" for i in range(300)]
    groups[:6] = ["a", "a", "a", "b", "b", "b"]  # six images, two lesions
    res = fit_probe(X, y, groups=groups)
    assert res.n_folds == 2 and any("distinct groups" in n for n in res.notes)


@pytest.mark.parametrize(
    "case, message",
    [
        ("single_class", "only one class ('c0')"),
        ("singleton", "'lonely' have fewer than 2 training samples"),
        ("nan", "2 of 60 training feature rows contain NaN or infinite values"),
        ("few_samples", "fewer than 2 training samples"),
        ("length", "60 training feature rows but 59 labels"),
        ("no_label", "1 training samples have no label"),
        ("folds", "n_folds must be at least 2"),
        ("one_d", "must be a non-empty 2-D array"),
        ("grid", "C grid must be non-empty and positive"),
    ],
)
def test_bad_input_gets_one_clear_sentence(case, message):
    X, y = mixture(60, 5, 2, seed=10)
    y = list(y)
    kw = {}
    if case == "single_class":
        y = ["c0"] * 60
    elif case == "singleton":
        y[0] = "lonely"
    elif case == "nan":
        X = X.copy()
        X[3, 1], X[7, 0] = np.nan, np.inf
    elif case == "few_samples":
        X, y = X[:3], ["a", "b", "b"]
    elif case == "length":
        y = y[:59]
    elif case == "no_label":
        y[5] = None
    elif case == "folds":
        kw = {"n_folds": 1}
    elif case == "one_d":
        X = X[:, 0]
    elif case == "grid":
        kw = {"Cs": [0.1, -1.0]}
    with pytest.raises(HarnessError) as err:
        fit_probe(X, y, **kw)
    assert message in str(err.value)


def test_evaluate_rejects_bad_features_and_unknown_classes():
    X, y = mixture(200, 6, 2, seed=11)
    res = fit_probe(X, y, Cs=[1.0])
    with pytest.raises(HarnessError, match="5 dimensions, training had 6"):
        evaluate_probe(res, X[:, :5], y, ["c0", "c1"])
    with pytest.raises(HarnessError, match=r"\['c1'\] are not among the task's labels"):
        evaluate_probe(res, X, y, ["c0"])
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(HarnessError, match="1 of 200 evaluation feature rows"):
        evaluate_probe(res, bad, y, ["c0", "c1"])

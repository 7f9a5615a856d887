"""The probe under each protocol, against scikit-learn as the authors' SFT_classification.py
calls it (ZwQ803/MM-Skin@31d105c lines 284-325): GridSearchCV over
Pipeline(StandardScaler, LogisticRegression(max_iter=1000)), C = 10**linspace(-5, 1, 10),
unshuffled StratifiedKFold(5), roc_auc_ovr, on train + val; refit on train."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from harness.runner import RunOptions, run
from harness.types import Prediction
from tests.load import task as build


def features(samples, labels) -> dict[str, Prediction]:  # noqa: ANN001
    """Seeded features carrying the label (so that predictions are far from ties)."""
    rng = np.random.default_rng(0)
    out = {}
    for s in samples:
        x = rng.normal(0, 1.0, 12)
        x[labels.index(s.label)] += 2.5
        out[s.id] = Prediction(id=s.id, fingerprint="", output=x.astype(np.float32))
    return out


def test_paper_probe_is_the_authors_grid_search(tmp_path: Path) -> None:
    task = build("probe/demo", protocol="paper", bootstrap=0)
    samples = task.load_samples(None)
    by = {sp: [s for s in samples if s.split == sp] for sp in ("train", "val", "test")}
    pool = len(by["train"]) + len(by["val"])
    assert len(by["val"]) == int(0.2 * pool)  # random_split's int(len * 0.2)
    assert {s.meta["split_method"] for s in by["val"]} == {"random-20%-of-train(seed=0)"}
    labels = list(task.spec.classes)
    preds = features(samples, labels)
    out = task.score(samples, preds)

    grid, n_train = task.grid_set(by["train"], by["val"])
    assert n_train == len(by["train"]) and len(grid) == pool
    assert [s.split for s in grid] == ["train"] * n_train + ["val"] * len(by["val"])
    X = np.stack([preds[s.id].output for s in grid]).astype(np.float64)
    y = np.array([s.label for s in grid])
    pipe = Pipeline([("scaler", StandardScaler()), ("model", LogisticRegression(max_iter=1000))])
    gs = GridSearchCV(pipe, {"model__C": 10 ** np.linspace(-5, 1, 10)}, refit=False,
                      cv=StratifiedKFold(n_splits=5), scoring="roc_auc_ovr").fit(X, y)
    assert out["probe"]["best_C"] == pytest.approx(gs.best_params_["model__C"])
    np.testing.assert_allclose(out["probe"]["mean_scores"], gs.cv_results_["mean_test_score"],
                               atol=1e-3)
    final = clone(pipe).set_params(**gs.best_params_).fit(X[:n_train], y[:n_train])
    X_test = np.stack([preds[s.id].output for s in by["test"]]).astype(np.float64)
    accuracy = float(np.mean(final.predict(X_test) == np.array([s.label for s in by["test"]])))
    assert out["overall"]["accuracy"] == pytest.approx(accuracy)
    # Each test image's own prediction (for samples.jsonl) is the one the accuracy counts.
    assert out["per_sample"]["ids"] == [s.id for s in by["test"]]
    assert np.mean(out["per_sample"]["scores"]["correct"]) == out["overall"]["accuracy"]
    assert [p == s.label for p, s in zip(out["per_sample"]["fields"]["predicted"], by["test"],
                                         strict=True)] == out["per_sample"]["scores"]["correct"]
    assert out["probe"]["n_refit"] == n_train and out["probe"]["n_samples"] == pool
    assert out["fit_settings"]["folds"] == "plain" and out["fit_settings"]["grid_on"] == "train+val"


def test_sound_probe_searches_the_training_split_only() -> None:
    task = build("probe/demo", protocol="sound", bootstrap=0)
    samples = task.load_samples(None)
    train = [s for s in samples if s.split == "train"]
    out = task.score(samples, features(samples, list(task.spec.classes)))
    assert out["probe"]["n_samples"] == out["probe"]["n_refit"] == len(train)
    assert out["fit_settings"]["val"] == "dataset" and out["fit_settings"]["folds"] == "grouped"


def test_grouped_folds_are_a_named_option_recorded_in_run_json(tmp_path: Path) -> None:
    from harness.plugin_manager import get_registries

    [outcome] = run(get_registries(), RunOptions(
        model="colour-lbp", tasks=["probe/demo"], output=tmp_path,
        task_options={"folds": "grouped", "bootstrap": "0"}))
    assert outcome.folder == tmp_path / "probe/demo+folds=grouped" / "colour-lbp"
    run_json = json.loads((outcome.folder / "run.json").read_text())
    assert run_json["protocol"] == "paper"
    assert run_json["task"]["scoring"]["folds"] == "grouped"
    assert run_json["task"]["options"] == {"folds": "grouped", "bootstrap": "0"}

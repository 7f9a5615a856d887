"""Classification metrics equal scikit-learn on real HAM10000 labels; unmatched answers count."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_metrics_data import HAM_CSV, read_rows

from harness.errors import DataError, UnknownNameError, UsageError
from harness.metrics import score_classification

UNMATCHED = "__unmatched__"
ALL = ("accuracy", "balanced_accuracy", "precision_macro", "recall_macro", "f1_macro", "auc_ovr")


@pytest.fixture(scope="module")
def ham() -> dict:
    """Real labels and demographics; predictions from a seeded noisy classifier."""
    rows = read_rows(HAM_CSV)
    y_true = [r["dx"] for r in rows]
    labels = sorted(set(y_true))
    k, n = len(labels), len(rows)
    rng = np.random.default_rng(1)
    t = np.array([labels.index(y) for y in y_true])
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), t] += 1.5
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y_pred: list[str | None] = [labels[i] for i in proba.argmax(axis=1)]
    for i in rng.choice(n, size=n // 20, replace=False):
        y_pred[i] = None  # an answer the matcher could not map to a class
    return {"y_true": y_true, "y_pred": y_pred, "labels": labels, "proba": proba,
            "sex": [r["sex"] if r["sex"] != "unknown" else None for r in rows]}


def _sklearn(y_true: list[str], y_pred: list[str | None], proba: np.ndarray | None,
             labels: list[str]) -> dict[str, float]:
    from sklearn.metrics import (
        accuracy_score,
        balanced_accuracy_score,
        precision_recall_fscore_support,
        roc_auc_score,
    )

    filled = [UNMATCHED if p is None else p for p in y_pred]
    present = [c for c in labels if c in set(y_true)]
    p, r, f, _ = precision_recall_fscore_support(y_true, filled, labels=present,
                                                 average="macro", zero_division=0)
    out = {"accuracy": accuracy_score(y_true, filled),
           "balanced_accuracy": balanced_accuracy_score(y_true, filled),
           "precision_macro": p, "recall_macro": r, "f1_macro": f}
    if proba is not None:
        out["auc_ovr"] = roc_auc_score(y_true, proba, multi_class="ovr", labels=labels)
    return out


def test_overall_equals_sklearn(ham: dict) -> None:
    out = score_classification(ham["y_true"], ham["y_pred"], ham["labels"], ALL,
                               scores=ham["proba"], bootstrap=0)
    want = _sklearn(ham["y_true"], ham["y_pred"], ham["proba"], ham["labels"])
    for m in ALL:
        assert out["overall"][m] == pytest.approx(want[m], abs=1e-12), m
    assert 0.3 < out["overall"]["accuracy"] < 0.9
    assert out["unmatched"] == len(ham["y_true"]) // 20
    assert out["n"] == len(ham["y_true"])
    assert f"{out['unmatched']} unmatched predictions counted as wrong" in out["notes"]
    json.dumps(out, allow_nan=False)


def test_confusion_matrix_has_an_unmatched_column(ham: dict) -> None:
    from sklearn.metrics import confusion_matrix

    out = score_classification(ham["y_true"], ham["y_pred"], ham["labels"], bootstrap=0)
    filled = [UNMATCHED if p is None else p for p in ham["y_pred"]]
    cols = [*ham["labels"], UNMATCHED]
    want = confusion_matrix(ham["y_true"], filled, labels=cols)[: len(ham["labels"])]
    assert out["confusion"] == want.tolist()
    assert out["confusion_columns"] == [*ham["labels"], "unmatched"]
    assert out["confusion_rows"] == ham["labels"]
    assert sum(row[-1] for row in out["confusion"]) == out["unmatched"]


def test_groups_are_scored_on_their_own_rows(ham: dict) -> None:
    out = score_classification(ham["y_true"], ham["y_pred"], ham["labels"], ALL,
                               scores=ham["proba"], groups={"sex": ham["sex"]}, bootstrap=0)
    table = out["groups"]["sex"]
    assert set(table) == {"female", "male", "unknown"}
    for value, row in table.items():
        idx = [i for i, s in enumerate(ham["sex"]) if (s or "unknown") == value]
        yt = [ham["y_true"][i] for i in idx]
        yp = [ham["y_pred"][i] for i in idx]
        present = [c for c in ham["labels"] if c in set(yt)]
        want = _sklearn(yt, yp, None, ham["labels"])
        assert row["n"] == len(idx)
        assert row["unmatched"] == sum(p is None for p in yp)
        for m in ("accuracy", "balanced_accuracy", "precision_macro", "recall_macro",
                  "f1_macro"):
            assert row[m] == pytest.approx(want[m], abs=1e-12), (value, m)
        if len(present) == len(ham["labels"]):
            from sklearn.metrics import roc_auc_score

            auc = roc_auc_score(yt, ham["proba"][idx], multi_class="ovr", labels=ham["labels"])
            assert row["auc_ovr"] == pytest.approx(auc, abs=1e-12)


def test_binary_auc_and_ties_follow_sklearn(ham: dict) -> None:
    from sklearn.metrics import roc_auc_score

    y_true = ["mel" if y == "mel" else "other" for y in ham["y_true"]]
    labels = ["other", "mel"]
    col = ham["labels"].index("mel")
    p_mel = np.round(ham["proba"][:, col], 1)  # coarse scores: many ties
    scores = np.column_stack([1 - p_mel, p_mel])
    y_pred = [labels[int(s > 0.5)] for s in p_mel]
    out = score_classification(y_true, y_pred, labels, ALL, scores=scores, bootstrap=0)
    want = roc_auc_score([y == "mel" for y in y_true], p_mel)
    assert out["overall"]["auc_ovr"] == pytest.approx(want, abs=1e-12)
    assert len(np.unique(p_mel)) < 12


def test_weighted_auc_equals_sklearn_sample_weight(ham: dict) -> None:
    """What the bootstrap relies on: AUC under resample counts equals sklearn with weights."""
    from sklearn.metrics import roc_auc_score

    from harness.metrics.classification import ClassificationBatch, auc_ovr

    labels = ham["labels"]
    t = np.array([labels.index(y) for y in ham["y_true"]])
    weights = np.random.default_rng(3).poisson(1.0, size=(2, len(t))).astype(float)
    batch = ClassificationBatch(t, t.copy(), len(labels), weights, ham["proba"])
    got = auc_ovr(batch)
    for row in range(2):
        want = np.mean([roc_auc_score(t == c, ham["proba"][:, c], sample_weight=weights[row])
                        for c in range(len(labels))])
        assert got[row] == pytest.approx(want, abs=1e-12)


def test_absent_class_is_left_out_of_macro_averages() -> None:
    labels = ["a", "b", "c"]
    out = score_classification(["a", "a", "b", "b"], ["a", "b", "b", None], labels,
                               bootstrap=0)
    assert out["overall"]["accuracy"] == 0.5
    assert out["overall"]["recall_macro"] == pytest.approx((0.5 + 0.5) / 2)
    assert out["overall"]["precision_macro"] == pytest.approx((1.0 + 0.5) / 2)
    assert any("'c'" in n for n in out["notes"])


def test_bad_input_is_one_clear_sentence(ham: dict) -> None:
    with pytest.raises(DataError, match=r"y_true\[1\] is 'zebra'"):
        score_classification(["a", "zebra"], ["a", "a"], ["a", "b"], bootstrap=0)
    with pytest.raises(DataError, match=r"y_pred\[0\] is 'q'"):
        score_classification(["a"], ["q"], ["a", "b"], bootstrap=0)
    with pytest.raises(UsageError, match="needs scores"):
        score_classification(["a"], ["a"], ["a", "b"], ["auc_ovr"], bootstrap=0)
    with pytest.raises(UsageError, match=r"scores has shape \(1, 3\)"):
        score_classification(["a"], ["a"], ["a", "b"], ["auc_ovr"], scores=np.ones((1, 3)),
                             bootstrap=0)
    with pytest.raises(UnknownNameError, match="did you mean 'balanced_accuracy'"):
        score_classification(["a"], ["a"], ["a"], ["balanced_acuracy"], bootstrap=0)
    with pytest.raises(UsageError, match="is a text metric"):
        score_classification(["a"], ["a"], ["a"], ["bleu4"], bootstrap=0)
    with pytest.raises(UsageError, match="2 predictions for 1 true labels"):
        score_classification(["a"], ["a", "a"], ["a"], bootstrap=0)


def test_nothing_to_score_is_not_an_error() -> None:
    out = score_classification([], [], ["a", "b"], bootstrap=100)
    assert out["n"] == 0 and out["overall"]["accuracy"] is None

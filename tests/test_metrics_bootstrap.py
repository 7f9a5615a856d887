"""The paired, stratified bootstrap: deterministic, stratum-preserving, exact for corpus BLEU."""

from __future__ import annotations

import numpy as np
import pytest
from test_metrics_data import vqa_sets

from harness.errors import UsageError
from harness.metrics import (
    bootstrap_weights,
    paired_bootstrap,
    paired_bootstrap_classification,
    score_classification,
    score_text,
)
from harness.metrics import text as T


@pytest.fixture(scope="module")
def data() -> dict:
    return vqa_sets()


def test_weights_are_seeded_and_keep_every_stratum_size(data: dict) -> None:
    book = data["book"]
    n = len(book)
    a = np.concatenate(list(bootstrap_weights(n, 450, seed=7, strata=book)))
    b = np.concatenate(list(bootstrap_weights(n, 450, seed=7, strata=book)))
    c = np.concatenate(list(bootstrap_weights(n, 450, seed=8, strata=book)))
    assert a.shape == (450, n)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    labels = np.array(book)
    for value in set(book):
        mask = labels == value
        assert np.all(a[:, mask].sum(axis=1) == mask.sum()), value
    # Every row is a resample with replacement: some pairs drawn twice, some never.
    assert (a == 0).any(axis=1).all() and (a >= 2).any(axis=1).all()


def test_resampled_bleu_is_corpus_bleu_of_the_resampled_pairs(data: dict) -> None:
    from nltk.translate.bleu_score import corpus_bleu

    preds, refs = data["sets"]["same_question"], data["refs"]
    stats = T.bleu4(preds, refs)
    weights = next(bootstrap_weights(len(refs), 2, seed=0, strata=data["book"]))
    fast = stats.resampled(weights)
    for row in range(2):
        idx = np.repeat(np.arange(len(refs)), weights[row].astype(int))
        want = corpus_bleu([[refs[i].split()] for i in idx], [preds[i].split() for i in idx],
                           weights=(0.25,) * 4)
        assert fast[row] == pytest.approx(want, abs=1e-9)


def test_ci_brackets_the_point_and_is_reproducible(data: dict) -> None:
    preds, refs = data["sets"]["same_question"], data["refs"]
    kw = {"bootstrap": 300, "seed": 0, "strata": data["book"]}
    first = score_text(preds, refs, ["bleu4", "rougeL", "recall"], **kw)
    again = score_text(preds, refs, ["bleu4", "rougeL", "recall"], **kw)
    assert first["ci"] == again["ci"]
    for m, (lo, hi) in first["ci"].items():
        assert lo < first["overall"][m] < hi, m
        assert hi - lo < 0.05, m
    assert first["bootstrap"] == {"resamples": 300, "seed": 0, "confidence": 0.95,
                                  "stratified_by": "strata"}


def test_paired_comparison(data: dict) -> None:
    refs, sets = data["refs"], data["sets"]
    same = paired_bootstrap(sets["shuffled"], sets["shuffled"], refs, ["bleu4", "recall"],
                            bootstrap=200, strata=data["book"])
    for m in ("bleu4", "recall"):
        assert same["metrics"][m]["diff"] == 0.0
        assert same["metrics"][m]["ci"] == [0.0, 0.0]
    better = paired_bootstrap(sets["same_question"], sets["shuffled"], refs,
                              ["bleu4", "rougeL", "recall"], bootstrap=200, strata=data["book"])
    for m, row in better["metrics"].items():
        assert row["diff"] == pytest.approx(row["a"] - row["b"])
        assert row["diff"] > 0 and row["ci"][0] > 0, m
        assert row["p_value"] < 0.01, m
    # The point scores are the ones score_text reports for each set on its own.
    alone = score_text(sets["shuffled"], refs, ["recall"], bootstrap=0)
    assert better["metrics"]["recall"]["b"] == alone["overall"]["recall"]


def test_classification_ci_and_paired_comparison() -> None:
    rng = np.random.default_rng(0)
    labels = ["bcc", "mel", "nv"]
    y_true = [labels[i] for i in rng.integers(0, 3, size=600)]
    good = [y if rng.random() < 0.8 else labels[rng.integers(0, 3)] for y in y_true]
    poor = [y if rng.random() < 0.5 else None for y in y_true]
    out = score_classification(y_true, good, labels, bootstrap=300)
    for m, (lo, hi) in out["ci"].items():
        assert lo <= out["overall"][m] <= hi, m
    assert out["bootstrap"]["stratified_by"] == "y_true"
    cmp = paired_bootstrap_classification(y_true, good, poor, labels, bootstrap=300)
    assert cmp["metrics"]["accuracy"]["ci"][0] > 0
    assert cmp["metrics"]["accuracy"]["b"] == score_classification(
        y_true, poor, labels, bootstrap=0)["overall"]["accuracy"]


def test_bootstrap_input_errors(data: dict) -> None:
    with pytest.raises(UsageError, match="strata has 2 entries for 3 samples"):
        score_text(["a", "b", "c"], ["a", "b", "c"], ["recall"], strata=["x", "y"])
    with pytest.raises(UsageError, match="group field 'sex' has 1 values for 2 samples"):
        score_text(["a", "b"], ["a", "b"], ["recall"], groups={"sex": ["f"]}, bootstrap=0)
    with pytest.raises(UsageError, match="bootstrap must be >= 0"):
        score_text(["a"], ["a"], ["recall"], bootstrap=-1)
    with pytest.raises(UsageError, match="did you mean 'rougeL'"):
        score_text(["a"], ["a"], ["rougel"], bootstrap=0)
    with pytest.raises(UsageError, match="2 predictions but 1 references"):
        score_text(["a", "b"], ["a"], ["recall"])

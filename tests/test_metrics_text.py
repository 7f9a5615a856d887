"""The VQA text metrics equal the MM-Skin reference computations on the real test answers."""

from __future__ import annotations

import os

import numpy as np
import pytest
from test_metrics_data import vqa_sets

from harness.metrics import score_text
from harness.metrics import text as T

SETS = ("shuffled", "truncated", "same_question")


@pytest.fixture(scope="module")
def data() -> dict:
    return vqa_sets()


def _nltk_bleu(preds: list[str], refs: list[str]) -> float:
    from nltk.translate.bleu_score import corpus_bleu

    return float(corpus_bleu([[r.split()] for r in refs], [p.split() for p in preds],
                             weights=(0.25,) * 4))


@pytest.mark.parametrize("which", SETS)
def test_bleu4_equals_nltk_corpus_bleu(data: dict, which: str) -> None:
    preds, refs = data["sets"][which], data["refs"]
    ours = T.bleu4(preds, refs).score()
    assert 0.001 < ours < 0.9
    assert ours == pytest.approx(_nltk_bleu(preds, refs), abs=1e-9)


@pytest.mark.parametrize("which", SETS)
def test_recall_equals_reference_definition(data: dict, which: str) -> None:
    preds, refs = data["sets"][which], data["refs"]
    reference = np.mean([len(set(p.split()) & set(r.split())) / len(set(r.split()))
                         for p, r in zip(preds, refs, strict=True)])
    assert T.recall(preds, refs).score() == pytest.approx(reference, abs=1e-9)


@pytest.mark.parametrize("which", SETS)
def test_rouge_l_equals_rouge_package(data: dict, which: str) -> None:
    from rouge import Rouge

    preds, refs = data["sets"][which], data["refs"]
    stats = T.rouge_l(preds, refs)
    # The package raises on a prediction with no sentence (halving a one-word answer
    # leaves ""): compare on the pairs it can score, and check the others scored 0.
    ok = np.array([bool(T._rouge_sentences(p)) for p in preds])
    reference = Rouge().get_scores([p for p, k in zip(preds, ok, strict=True) if k],
                                   [r for r, k in zip(refs, ok, strict=True) if k],
                                   avg=True)["rouge-l"]["f"]
    assert stats.score(ok) == pytest.approx(reference, abs=1e-6)
    assert np.all(stats.values[~ok, 0] == 0.0)
    # Only the truncated set holds such predictions, and it really does.
    assert ((~ok).sum() > 0) == (which == "truncated")


def test_rouge_l_pair_by_pair_including_odd_sentence_splits() -> None:
    from rouge import Rouge

    # Odd "."-splits (a piece of spaces becomes an empty-string word), repeats, ties.
    pairs = [
        ("a b c d", "b a d c"), ("x . . y z", "y . x z"), ("the the cat", "cat the the"),
        ("A. b", "a. B"), ("one two. two one.", "two one two"), ("q", "q . q . q"),
        ("lesion is red . it is raised", "it is a raised red lesion"), ("  ", "a b"),
    ]
    for hyp, ref in pairs:
        want = Rouge().get_scores(hyp, ref)[0]["rouge-l"]["f"]
        assert T.rouge_l([hyp], [ref]).score() == pytest.approx(want, abs=1e-12), (hyp, ref)


@pytest.mark.parametrize(
    "which", ["truncated", "same_question", pytest.param("shuffled", marks=pytest.mark.slow)]
)
def test_meteor_equals_nltk_meteor_mean(data: dict, which: str) -> None:
    from nltk.translate.meteor_score import meteor_score

    from harness.metrics.wordnet import ensure_wordnet

    preds, refs = data["sets"][which], data["refs"]
    ensure_wordnet()  # the reference call needs the same WordNet on nltk.data.path
    reference = np.mean([meteor_score([r.split()], p.split())
                         for p, r in zip(preds, refs, strict=True)])
    stats = T.meteor(preds, refs)
    assert stats.score() == pytest.approx(reference, abs=1e-6)
    assert stats.params["wordnet"] == "3.0" and stats.params["wordnet_sha256"]


def test_meteor_uses_wordnet_synonyms() -> None:
    # "sick" matches "ill" only through WordNet (NLTK looks synonyms up for the *stems*
    # left after the stem stage, so a pair whose stems are real words is needed).
    synonym = T.meteor(["the patient is sick"], ["the patient is ill"]).score()
    unrelated = T.meteor(["the patient is blue"], ["the patient is ill"]).score()
    assert synonym == pytest.approx(0.9921875) and unrelated == pytest.approx(0.7361111111)


def test_group_bleu_is_corpus_bleu_of_the_group(data: dict) -> None:
    preds, refs, book = data["sets"]["same_question"], data["refs"], data["book"]
    out = score_text(preds, refs, ["bleu4", "recall"], groups={"book": book}, bootstrap=0)
    assert "ci" not in out
    table = out["groups"]["book"]
    assert sum(row["n"] for row in table.values()) == len(refs)
    for value in ("bk10", "bk5", "bk3"):
        idx = [i for i, b in enumerate(book) if b == value]
        want = _nltk_bleu([preds[i] for i in idx], [refs[i] for i in idx])
        assert table[value]["n"] == len(idx)
        assert table[value]["bleu4"] == pytest.approx(want, abs=1e-9)
    # Not the mean of sentence scores: corpus BLEU of a group differs from averaging groups.
    mean_of_groups = np.mean([row["bleu4"] for row in table.values()])
    assert abs(mean_of_groups - out["overall"]["bleu4"]) > 1e-4


EDGE_CASES = [
    ("", "The lesion is a red papule on the arm."),  # empty prediction
    ("...", "The lesion is a red papule on the arm."),  # only dots: rouge raises
    ("?!,;", "The lesion is a red papule on the arm."),  # only punctuation
    ("   ", "The lesion is a red papule."),  # only spaces
    ("red papule", "Red papule."),  # reference shorter than 4 tokens
    ("a b c", "a b c"),  # both shorter than 4 tokens
    ("The lesion is red.", ""),  # empty reference
]


def test_edge_cases_score_defined_values_without_raising() -> None:
    preds = [p for p, _ in EDGE_CASES]
    refs = [r for _, r in EDGE_CASES]
    out = score_text(preds, refs, ["bleu4", "meteor", "rougeL", "recall"], bootstrap=0)
    for m, v in out["overall"].items():
        assert v is not None and 0.0 <= v <= 1.0, m
    # Per pair: empty and dot-only predictions (and the empty reference) score 0 ROUGE-L.
    rouge = T.rouge_l(preds, refs).values[:, 0]
    assert rouge[0] == rouge[1] == rouge[6] == 0.0
    assert rouge[5] == pytest.approx(1.0, abs=1e-6)
    assert T.recall(preds, refs).values[6, 0] == 0.0
    assert T.meteor(preds, refs).values[0, 0] == 0.0
    notes = " | ".join(out["notes"])
    assert "rougeL: 2 empty (or only '.') predictions scored 0" in notes
    assert "rougeL: 1 empty (or only '.') references scored 0" in notes
    assert "recall: 1 empty references scored 0" in notes
    # Where the reference libraries do not crash, the values still equal theirs.
    from rouge import Rouge

    ok = [i for i in range(len(preds)) if i not in (0, 1, 6)]
    want = Rouge().get_scores([preds[i] for i in ok], [refs[i] for i in ok], avg=True)
    assert np.mean(rouge[ok]) == pytest.approx(want["rouge-l"]["f"], abs=1e-9)
    assert T.bleu4(preds, refs).score() == pytest.approx(_nltk_bleu(preds, refs), abs=1e-9)


def test_the_reference_rouge_really_crashes_on_the_cases_we_score_zero() -> None:
    from rouge import Rouge

    for hyp in ("", "..."):
        with pytest.raises(ValueError):
            Rouge().get_scores([hyp], ["a b c"], avg=True)


def test_bleu_of_a_corpus_without_any_match_is_zero() -> None:
    assert T.bleu4(["x y z w"], ["a b c d"]).score() == 0.0
    assert T.bleu4([""], ["a b c d"]).score() == _nltk_bleu([""], ["a b c d"]) == 0.0


def test_long_sentences_do_not_hit_the_recursion_limit() -> None:
    # The rouge package reconstructs the LCS recursively and overflows past ~1000 steps.
    words = [f"w{i}" for i in range(1500)]
    score = T.rouge_l([" ".join(words)], [" ".join(words[::2])]).score()
    assert score == pytest.approx(2 * (1 * 0.5) / (1 + 0.5 + 1e-8), abs=1e-9)


def test_result_is_json_ready_and_records_versions(data: dict) -> None:
    import json

    refs = data["refs"][:300]
    preds = data["sets"]["truncated"][:300]
    out = score_text(preds, refs, ["bleu4", "meteor", "rougeL", "recall"], bootstrap=50,
                     strata=data["book"][:300], groups={"book": data["book"][:300]})
    json.dumps(out, allow_nan=False)
    assert out["n"] == 300
    assert out["metrics"]["meteor"]["params"]["nltk"]
    assert out["metrics"]["meteor"]["params"]["wordnet"] == "3.0"
    assert out["metrics"]["bleu4"]["params"]["weights"] == [0.25] * 4
    for m, (lo, hi) in out["ci"].items():
        assert lo <= out["overall"][m] <= hi, m
    assert all("ci" in row for row in out["groups"]["book"].values())


def test_no_heavy_imports_when_importing_the_package() -> None:
    import subprocess
    import sys

    code = ("import sys, harness, harness.metrics, harness.metrics.builtin; "
            "print(sorted(m for m in ('torch','transformers','nltk','bert_score','rouge') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.stdout.strip() == "[]"

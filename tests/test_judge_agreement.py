"""`harness judge agreement`: kappa and Spearman with bootstrap intervals, judge with judge
(read from judgements.jsonl), judge with people, people with people, bad CSV rows refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from harness.cli import cli
from harness.judge.agreement import agreement
from harness.judge.config import JudgeConfig
from harness.judge.judging import judge_pairs
from harness.judge.protocols import Pair, get
from harness.plugin_manager import get_registries

REF = "brown macule with an irregular border on the upper back"
ANSWERS = ["brown macule with an irregular border on the upper back", "brown macule on the back",
           "a brown macule", "red nodule", "pink scaly plaque on the arm",
           "brown irregular macule on the back", "macule", "an ulcer"]


def test_kappa_and_spearman_on_hand_checked_values() -> None:
    k = agreement({"1": 1, "2": 1, "3": 0, "4": 0}, {"1": 1, "2": 0, "3": 0, "4": 0}, "a", "b",
                  bootstrap=200)
    # observed 3/4, chance 1/2 x 1/4 + 1/2 x 3/4 = 1/2: kappa (0.75 - 0.5) / 0.5
    assert k.measure == "cohen_kappa" and k.value == pytest.approx(0.5) and k.n == 4
    assert k.low is not None and k.low <= k.value <= k.high
    rank = agreement({str(i): i for i in range(6)}, {str(i): 10 - i * i for i in range(6)},
                     "a", "b", bootstrap=0)
    assert rank.measure == "spearman" and rank.value == pytest.approx(-1.0) and rank.low is None
    only_common = agreement({"1": 1.0, "2": 2.0, "9": 5.0}, {"1": 3.0, "2": 4.0}, "a", "b", 0)
    assert only_common.n == 2 and only_common.value == pytest.approx(1.0)


def test_bootstrap_statistics_equal_the_libraries_on_each_resample() -> None:
    from scipy.stats import spearmanr
    from sklearn.metrics import cohen_kappa_score

    from harness.judge.agreement import kappa_rows, spearman_rows

    rng = np.random.default_rng(3)
    x = rng.integers(0, 2, (20, 30)).astype(float)
    y = rng.integers(0, 2, (20, 30)).astype(float)
    want = [cohen_kappa_score(a, b) for a, b in zip(x, y, strict=True)]
    assert kappa_rows(x, y) == pytest.approx(want)
    u, v = rng.integers(1, 6, (20, 30)).astype(float), rng.normal(size=(20, 30))
    want = [spearmanr(a, b).statistic for a, b in zip(u, v, strict=True)]
    assert spearman_rows(u, v) == pytest.approx(want)


@pytest.fixture
def judged_folder(tmp_path: Path) -> Path:
    regs = get_registries()
    pairs = [Pair(f"s{i}", "What does the image show?", REF, a) for i, a in enumerate(ANSWERS)]
    for protocol, options in (("llava-med", {}), ("rubric", {}), ("binary", {}),
                              ("binary", {"threshold": "0.3"})):
        config = JudgeConfig("rule-judge", get(protocol), options, models=regs.models)
        out = judge_pairs(config, pairs, tmp_path)
        assert len(out.values) == len(pairs)
    return tmp_path


def test_agreement_between_judges_and_with_people(judged_folder: Path, tmp_path: Path) -> None:
    human = tmp_path / "ratings.csv"
    rows = ["sample_id,rater,score"]
    rows += [f"s{i},ann,{10 - i}" for i in range(len(ANSWERS))]
    rows += [f"s{i},bob,{10 - i + (i % 2)}" for i in range(len(ANSWERS))]
    human.write_text("\n".join(rows) + "\n")
    result = CliRunner().invoke(cli, ["judge", "agreement", str(judged_folder), "--human",
                                      str(human), "--bootstrap", "100", "--format", "json"])
    assert result.exit_code == 0, result.output
    found = {(r["a"], r["b"]): r for r in json.loads(result.output)}
    names = {"llava-med@rule-judge", "rubric@rule-judge", "binary@rule-judge"}
    assert names <= {a for a, _ in found} | {b for _, b in found}
    # the same judge at two thresholds: two series, told apart by their options' digest
    binaries = [a for a, _ in found if a.startswith("binary@rule-judge")]
    assert len(set(binaries)) == 2
    pair = found[("binary@rule-judge", next(b for a, b in found if a == "binary@rule-judge"
                                           and b.startswith("binary@rule-judge#")))]
    assert pair["measure"] == "cohen_kappa" and pair["n"] == len(ANSWERS)
    people = found[("human:ann", "human:bob")]
    assert people["measure"] == "spearman" and people["value"] > 0.9
    vs_human = found[("llava-med@rule-judge", "human (mean of raters)")]
    assert vs_human["n"] == len(ANSWERS) and vs_human["value"] is not None
    table = CliRunner().invoke(cli, ["judge", "agreement", str(judged_folder)])
    assert table.exit_code == 0 and "| rubric@rule-judge |" in table.output


def test_bad_human_rows_and_empty_folders_are_one_sentence(judged_folder: Path,
                                                           tmp_path: Path) -> None:
    human = tmp_path / "bad.csv"
    human.write_text("sample_id,rater,score\ns1,ann,7\ns2,ann,high\n")
    result = CliRunner().invoke(cli, ["judge", "agreement", str(judged_folder), "--human",
                                      str(human)])
    assert result.exit_code == 2
    assert f"{human} row 3: score 'high' is not a number" in result.output
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(cli, ["judge", "agreement", str(empty)])
    assert result.exit_code == 2 and "holds no judge verdicts" in result.output
    assert "Traceback" not in result.output


def test_judge_against_the_text_metrics_of_the_same_answers(tmp_path: Path) -> None:
    from scipy.stats import spearmanr

    from harness import samples
    from tests.cli_helpers import run_harness

    done = run_harness("run", "--model", "knn-retrieval", "--task", "vqa/demo", "--protocol",
                       "sound", "-T", "judge=rule-judge", "-T", "judge_protocol=rubric",
                       "-T", "metrics=bleu4,rougeL", "-T", "bootstrap=0", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "results" / "vqa" / "demo+protocol=sound" / "knn-retrieval"
    result = CliRunner().invoke(cli, ["judge", "agreement", str(folder), "--bootstrap", "50",
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    found = {(r["a"], r["b"]): r for r in json.loads(result.output)}
    row = found[("rubric@rule-judge", "rougeL")]
    assert ("rubric@rule-judge", "bleu4") in found and row["measure"] == "spearman"
    # the figure is SciPy's Spearman over the per-sample values samples.jsonl holds
    recs = samples.read(samples.path_for(folder / "metrics.json"))
    ids = [r.id for r in recs if r.scores.get("rubric@rule-judge") is not None]
    judge = [next(r for r in recs if r.id == i).scores["rubric@rule-judge"] for i in ids]
    rouge = [next(r for r in recs if r.id == i).scores["rougeL"] for i in ids]
    assert row["n"] == len(ids) == len(recs) > 10
    assert row["value"] == pytest.approx(spearmanr(judge, rouge).statistic)
    assert row["low"] is not None and row["low"] <= row["value"] <= row["high"]

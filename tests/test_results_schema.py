"""metrics.json and run.json go through harness/results.py: round trip, versions, legacy files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import results
from harness.leaderboards import build
from tests.leaderboard_fixtures import text_scores, write_run


def metrics_file(**scores: object) -> results.MetricsFile:
    return results.MetricsFile(
        task="vqa/demo", kind="vqa", dataset="demo-vqa", model="m", n=4, answered=4, failed=0,
        coverage=1.0, scores=results.Scores.model_validate(scores))


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    record = metrics_file(
        overall={"bleu4": 0.5}, metrics={"bleu4": {"version": "2", "higher_is_better": True}},
        confusion={"rows": ["a"], "columns": ["a", "unmatched"], "matrix": [[3, 1]]},
        alternatives={"other": {"overall": {"bleu4": 0.25}}}, extras={"empty_answers": 1})
    record.partial = results.Partial(limit=4)
    results.write(tmp_path / "metrics.json", record)
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk["schema_version"] == results.SCHEMA_VERSION
    back = results.read_metrics(tmp_path / "metrics.json")
    assert back == record
    assert back.scores.info("bleu4").version == "2" and not back.complete
    assert back.scores.alternatives["other"].overall == {"bleu4": 0.25}


def test_a_newer_schema_is_refused_with_a_sentence(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    data = metrics_file(overall={}).model_dump(mode="json")
    path.write_text(json.dumps({**data, "schema_version": results.SCHEMA_VERSION + 1}))
    with pytest.raises(results.SchemaError, match="newer than this harness reads"):
        results.read_metrics(path)


@pytest.mark.parametrize(("content", "needle"), [
    ("{not json", "is not valid JSON"),
    ("[1, 2]", "not a JSON object"),
    ('{"schema_version": 1, "task": "t"}', "is not a valid MetricsFile"),
])
def test_broken_files_are_one_sentence(tmp_path: Path, content: str, needle: str) -> None:
    path = tmp_path / "metrics.json"
    path.write_text(content)
    with pytest.raises(results.SchemaError, match=needle) as info:
        results.read_metrics(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_files_from_before_the_schema_are_converted(tmp_path: Path) -> None:
    """A metrics.json as harness 0.1.0 wrote it: private keys land in declared places."""
    scores = {"overall": {"accuracy": 0.5}, "confusion": [[1, 1]], "confusion_rows": ["a"],
              "confusion_columns": ["a", "unmatched"], "match_counts": {"exact": 2},
              "paper_matcher": {"overall": {"accuracy": 0.25}, "unmatched": 1}}
    folder = write_run(tmp_path, "zeroshot/demo", "m", "zeroshot", "demo", scores, n=2,
                       limit=2)
    old = results.read_metrics(folder / "metrics.json")
    assert old.schema_version == results.SCHEMA_VERSION
    assert old.scores.confusion is not None and old.scores.confusion.matrix == [[1, 1]]
    assert old.scores.alternatives["paper-matcher"].overall == {"accuracy": 0.25}
    assert old.scores.extras == {"match_counts": {"exact": 2}}
    assert old.partial == results.Partial(limit=2)
    run = results.read_run(folder / "run.json")
    assert run.git["commit"].startswith("0123") and run.harness_version == "0.1.0"


def test_a_lower_is_better_metric_bolds_its_lowest_value(tmp_path: Path) -> None:
    """The metric's own direction travels in metrics.json and decides the bold cell."""
    info = {"error_rate": {"higher_is_better": False}}
    for model, value in (("low", 0.10), ("high", 0.40)):
        scores = text_scores({}, {"error_rate": value})
        scores["metrics"] = info
        write_run(tmp_path / "results", "vqa/demo", model, "vqa", "demo-vqa", scores)
    build.write(tmp_path / "results", tmp_path / "boards", figures=False)
    rows = {line.split("|")[1].strip(): line
            for line in (tmp_path / "boards/vqa.md").read_text().splitlines()
            if line.startswith("| low") or line.startswith("| high")}
    assert "**[10.00]" in rows["low"] and "**" not in rows["high"]

"""Judged scores end to end: the offline judge through `harness run`, a real judge over HTTP
(tests/api_server.py on 127.0.0.1): no request on re-score, malformed / refusing / rambling /
slow replies recorded as failures, judged coverage exits 3, a SIGKILL mid-judging resumed
asking each missing verdict exactly once."""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from harness import results, samples
from harness.judge.judging import (
    CALL_FAILED,
    UNPARSEABLE,
    add_to_scores,
    call_key,
    judge_pairs,
    pair_of,
    sample_fields,
)
from harness.judge.protocols import Pair
from harness.judge.store import JUDGEMENTS, JudgeStore
from harness.plugin_manager import get_registries
from harness.store import ResultStore
from tests.api_server import ApiServer, marker_of
from tests.cli_helpers import run_harness, start_harness
from tests.judge_helpers import server_judge, server_options

FOLDER = Path("results") / "vqa" / "demo+protocol=sound"
FAST_SCORING = ("-T", "metrics=bleu4,rougeL", "-T", "bootstrap=0")


def judged(folder: Path) -> tuple[results.MetricsFile, dict]:
    path = folder / "metrics.partial.json"
    m = results.read_metrics(path if path.exists() else folder / results.METRICS)
    (entry,) = m.scores.extras["judge"].values()
    return m, entry


def test_offline_judge_writes_judged_scores(tmp_path: Path) -> None:
    args = ("--model", "knn-retrieval", "--task", "vqa/demo", "--protocol", "sound",
            "--limit", "8", "-T", "judge=rule-judge", *FAST_SCORING)
    done = run_harness("run", *args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    folder = tmp_path / FOLDER / "knn-retrieval"
    m, entry = judged(folder)
    key = "llava-med@rule-judge"
    assert entry["judged"] == 8 and entry["coverage"] == 1.0 and entry["failed"] == 0
    assert m.scores.overall[key] == pytest.approx(entry["overall"]["relative"] / 100)
    assert m.scores.overall[key] > 0
    info = m.scores.metrics[key]
    assert info.params["judge"]["name"] == "rule-judge" and info.version == "llava-med@1"
    assert any(key in g for g in m.scores.groups["modality"].values())
    assert entry["calls"] == {"asked": 16, "stored": 0} and entry["tokens"]["prompt_tokens"] > 0
    assert entry["identity"] == {"name": "rule-judge", "version": "1", "threshold": 0.5,
                                 "tokens": "whitespace words"}
    run = results.read_run(folder / "run.partial.json" if (folder / "run.partial.json").exists()
                           else folder / results.RUN)
    assert run.task.scoring["judge"]["digest"] == entry["judge"]["digest"]
    assert len((folder / JUDGEMENTS).read_text().splitlines()) == 16
    # each sample's verdict and the judge's reply are in samples.jsonl, for the report
    metrics_path = folder / "metrics.partial.json"
    recs = samples.read(samples.path_for(metrics_path if metrics_path.exists()
                                         else folder / results.METRICS))
    assert len(recs) == 8
    for rec in recs:
        assert rec.scores[key] == pytest.approx(entry["per_sample"][rec.id], abs=1e-5)
        assert float(rec.fields[f"{key} verdict"]) == pytest.approx(rec.scores[key], rel=1e-3)
        reason = rec.fields[f"{key} reason"]
        assert "[forward]" in reason and "[swapped]" in reason
    # the leaderboard's VQA table has a column of its own for the judged score
    from harness.leaderboards import build

    outcome = build.write(tmp_path / "results", tmp_path / "boards")
    assert not outcome.problems
    table = (tmp_path / "boards" / "vqa.md").read_text()
    assert f"| {key} |" in table and f"Clinical<br>{key}" in table
    assert f"{100 * m.scores.overall[key]:.2f}" in table
    for name in ("metrics.json", "metrics.partial.json"):  # scored afresh, judge not built
        (folder / name).unlink(missing_ok=True)
    again = run_harness("score", "--model", "knn-retrieval", "--task", "vqa/demo",
                        "--protocol", "sound", "-T", "judge=rule-judge", *FAST_SCORING,
                        cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert len((folder / JUDGEMENTS).read_text().splitlines()) == 16
    _, rescored = judged(folder)
    assert rescored["calls"] == {"asked": 0, "stored": 16}
    assert rescored["identity"] == entry["identity"] and rescored["overall"] == entry["overall"]


@pytest.fixture
def judge_server():
    with ApiServer(answers="judge") as server:
        yield server


def server_args(server: ApiServer, limit: int, **extra: str) -> tuple[str, ...]:
    return ("--model", "majority", "--task", "vqa/demo", "--protocol", "sound", "--limit",
            str(limit), "-T", "judge=openai-compatible",
            "-T", f"judge_options={server_options(server, **extra)}", *FAST_SCORING)


def harness_cli(*args: str, cwd: Path) -> Any:
    """`harness ARGS` in this process (the CLI's own parsing, errors and exit codes)."""
    import os

    from click.testing import CliRunner

    from harness.cli import cli

    old = Path.cwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(cli, list(args))
    finally:
        os.chdir(old)


def test_rescore_makes_no_judge_request(tmp_path: Path, judge_server: ApiServer) -> None:
    args = server_args(judge_server, 6)
    done = harness_cli("run", *args, cwd=tmp_path)
    assert done.exit_code == 0, done.output
    assert len(judge_server.requests()) == 12  # 6 pairs, both orders
    assert "12 judge calls now, 0 stored" in done.output
    folder = tmp_path / FOLDER / "majority"
    _, first = judged(folder)
    assert first["tokens"] == {"completion_tokens": 12 * 5, "prompt_tokens": 12 * 10}
    score_args = [a for a in args if a not in ("--limit", "6")]
    again = harness_cli("score", *score_args, cwd=tmp_path)  # the scores' cache is used
    assert again.exit_code == 0, again.output
    assert "0 judge calls now, 12 stored" in again.output
    for name in ("metrics.json", "metrics.partial.json"):  # scores gone: scored afresh
        (folder / name).unlink(missing_ok=True)
    again = harness_cli("score", *score_args, cwd=tmp_path)
    assert again.exit_code == 0, again.output
    assert "0 judge calls now, 12 stored" in again.output
    assert len(judge_server.requests()) == 12  # counted by the server: no judge request
    _, entry = judged(folder)
    assert entry["overall"] == first["overall"] and entry["calls"]["asked"] == 0


def test_bad_judge_replies_are_failures_with_reasons(tmp_path: Path,
                                                     judge_server: ApiServer) -> None:
    judge_server.configure(latency=0.2, stall=3.0, always={
        "p-garbage": "garbage", "p-refuse": "refuse", "p-malformed": "malformed",
        "p-stall": "stall"})
    regs = get_registries()
    config = server_judge(regs, judge_server, "llava-med", timeout=1, concurrency=8)
    ids = ["p-good-1", "p-good-2", "p-garbage", "p-refuse", "p-malformed", "p-stall"]
    pairs = [Pair(i, "What colour?", "brown", "dark brown") for i in ids]
    t0 = time.perf_counter()
    out = judge_pairs(config, pairs, tmp_path)
    assert time.perf_counter() - t0 < 6  # calls overlap: slow replies do not add up
    assert set(out.values) == {"p-good-1", "p-good-2"}  # slow (0.2 s) replies still count
    reasons = {i: (group, message) for i, group, message in out.failures}
    assert reasons["p-garbage"][0] == UNPARSEABLE and "not two scores" in reasons["p-garbage"][1]
    assert reasons["p-refuse"][0] == CALL_FAILED and "no text" in reasons["p-refuse"][1]
    assert reasons["p-malformed"][0] == CALL_FAILED and "malformed" in reasons["p-malformed"][1]
    assert reasons["p-stall"][0] == CALL_FAILED and "timeout" in reasons["p-stall"][1]
    fields = sample_fields(config, out)  # as samples.jsonl gets them: verdict and reason
    key = "llava-med@openai-compatible"
    assert fields["p-stall"]["fields"][f"{key} verdict"] == "failed"
    assert "timeout" in fields["p-stall"]["fields"][f"{key} reason"]
    assert fields["p-stall"]["scores"][key] is None  # no verdict is never a zero
    assert fields["p-good-1"]["scores"][key] == pytest.approx(out.values["p-good-1"]["relative"])
    scores = results.Scores()
    entry = add_to_scores(config, out, scores, len(pairs))
    assert entry["coverage"] == pytest.approx(2 / 6) and entry["failed"] == 4
    # failed pairs are not in the mean: no zero stands in for a missing verdict
    assert scores.overall["llava-med@openai-compatible"] == pytest.approx(
        sum(v["relative"] for v in out.values.values()) / 2 / 100)
    asked = len(judge_server.requests())
    judge_server.configure(always={})
    again = judge_pairs(config, pairs, tmp_path, retry_failed=False)  # as `harness score`
    assert again.asked == 0 and len(judge_server.requests()) == asked
    again = judge_pairs(config, pairs, tmp_path, retry_failed=True)  # as `harness run`
    # the unparseable replies were answers (kept); the six failed calls are asked again
    assert again.asked == 6 == len(judge_server.requests()) - asked
    assert set(again.values) == set(ids) - {"p-garbage"}


def test_judged_coverage_below_min_coverage_exits_3(tmp_path: Path,
                                                    judge_server: ApiServer) -> None:
    judge_server.configure(always={"demo-test-0000-border": "garbage"})
    done = harness_cli("run", *server_args(judge_server, 4), cwd=tmp_path)
    assert done.exit_code == 3, done.output
    assert "judged 3 of 4 with llava-med@openai-compatible" in done.output
    assert UNPARSEABLE in done.output
    ok = harness_cli("run", *server_args(judge_server, 4), "--min-coverage", "0.7",
                     cwd=tmp_path)
    assert ok.exit_code == 0, ok.output


def test_sigkill_while_judging_then_rerun_asks_each_missing_verdict_once(
        tmp_path: Path, judge_server: ApiServer) -> None:
    judge_server.configure(latency=0.15)
    args = server_args(judge_server, 10, concurrency=1)  # batches of 4 calls
    store = tmp_path / FOLDER / "majority" / JUDGEMENTS
    proc = start_harness("run", *args, cwd=tmp_path)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if store.exists() and len(store.read_bytes().splitlines()) >= 8:
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    kept = JudgeStore(store.parent).load(repair=True)
    assert 8 <= len(kept) < 20
    before = len(judge_server.requests())
    judge_server.configure(latency=0.0)
    done = run_harness("run", *args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rerun = Counter(r["marker"] for r in judge_server.requests()[before:])
    # what the rerun had to ask: every planned call whose key the killed run did not store
    config = server_judge(get_registries(), judge_server, "llava-med", concurrency=1)
    answers = {p.id: p.output for p in ResultStore(store.parent).load().values()}
    samples = [s for s in get_registries().datasets.get("demo-vqa").load(None, "test")
               if s.id in answers]
    missing = Counter(
        marker_of([c.system or "", c.prompt], [])
        for s in samples
        for c in config.protocol.calls(pair_of(s, s.question or "", answers[s.id]))
        if call_key(config, c) not in kept)
    assert sum(missing.values()) == 20 - len(kept)
    assert rerun == missing  # each missing verdict asked exactly once, nothing else
    _, entry = judged(store.parent)
    assert entry["judged"] == 10 and entry["calls"] == {"asked": 20 - len(kept),
                                                        "stored": len(kept)}
    lines = [json.loads(x) for x in store.read_text().splitlines()]
    assert len({x["key"] for x in lines}) == 20


def test_a_model_judged_by_itself_is_flagged(tmp_path: Path) -> None:
    from harness.runner import RunOptions, run

    options = {"judge": "rule-judge", "metrics": "bleu4", "bootstrap": "0"}
    (outcome,) = run(get_registries(), RunOptions(
        model="majority", name="rule-judge", tasks=["vqa/demo"], output=tmp_path, limit=3,
        protocol="sound", task_options=options))
    assert outcome.metrics is not None
    assert any("self-preference" in n for n in outcome.metrics.scores.notes)
    (entry,) = outcome.metrics.scores.extras["judge"].values()
    assert entry["self_judged"] is True

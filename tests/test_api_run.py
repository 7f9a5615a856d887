"""The API plugins through the real `harness run` subprocess against the local server.

What a user sees: a faulty, rate-limited service still yields every answer; the
server's own log shows retries per sample within the limit and the rate limit
held; a killed run resumes without re-sending answered requests; failures are
recorded, not scored, and a rerun asks only them; the key is in no file written.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_server import ApiServer

from tests.cli_helpers import harness_env, run_harness, start_harness

KEY_ENV = "HARNESS_TEST_API_KEY"
ECHO = re.compile(r"^echo\[([0-9a-f]{12})\]: ")
# Cheap scoring: the runs are about the transport, not the metrics.
TASK = ("--task", "vqa/demo", "-T", "bootstrap=20", "-T", "metrics=bleu4")


@pytest.fixture
def key() -> str:
    return f"sk-test-{uuid.uuid4().hex}"


@pytest.fixture
def server(key: str) -> Iterator[ApiServer]:
    with ApiServer(api_key=key, retry_after=0.05) as srv:
        yield srv


def model_args(server: ApiServer, **options: Any) -> list[str]:
    opts = {"base_url": server.openai_base_url, "model_id": "local-vlm", "api_key_env": KEY_ENV,
            "backoff": 0.02, "backoff_max": 0.1, "timeout": 5, **options}
    args = ["run", "--model", "openai-compatible", *TASK]
    for k, v in opts.items():
        args += ["-M", f"{k}={v}"]
    return args


def predictions(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (folder / "predictions.jsonl").read_text().splitlines()]


def assert_key_absent(key: str, root: Path, *streams: str) -> int:
    """Grep every file under ``root`` (and the run's output streams) for the key."""
    checked = 0
    for path in root.rglob("*"):
        if path.is_file():
            assert key.encode() not in path.read_bytes(), f"the API key leaked into {path}"
            checked += 1
    cache = os.environ.get("XDG_CACHE_HOME")
    if cache:
        for path in Path(cache).rglob("*"):
            if path.is_file() and path.stat().st_size < 50_000_000:
                assert key.encode() not in path.read_bytes(), f"the API key leaked into {path}"
    for stream in streams:
        assert key not in stream, "the API key leaked into the run's output"
    return checked


def test_200_samples_against_a_faulty_rate_limited_server(
    server: ApiServer, key: str, tmp_path: Path
) -> None:
    max_retries, rpm = 4, 6000  # 100 requests per second
    server.configure(fault_rate=0.3, max_faults_per_marker=max_retries, seed=7,
                     fault_modes=("429", "500", "503", "drop", "malformed", "empty"))
    args = model_args(server, concurrency=16, rpm=rpm, max_retries=max_retries)
    proc = run_harness(*args, "-T", "split=train", "--limit", "200", "--output", "out",
                       cwd=tmp_path, env=harness_env(**{KEY_ENV: key}), timeout=180)
    assert proc.returncode == 0, proc.stderr
    folder = tmp_path / "out/vqa/demo+split=train/openai-compatible"
    preds = predictions(folder)
    assert len(preds) == len({p["id"] for p in preds}) == 200
    assert all(p["error"] is None and ECHO.match(p["output"]) for p in preds)
    metrics = json.loads((folder / "metrics.json").read_text())
    assert (metrics["answered"], metrics["failed"], metrics["coverage"]) == (200, 0, 1.0)

    log = server.requests()
    counts = Counter(r["marker"] for r in log)
    answered = {ECHO.match(p["output"]).group(1) for p in preds}
    assert answered == set(counts), "every stored answer came from the server, one per sample"
    assert max(counts.values()) <= max_retries + 1, "requests per sample within the retry limit"
    faulty = sum(r["fault"] is not None for r in log) / len(log)
    assert faulty >= 0.2, f"the server failed only {faulty:.0%} of requests"
    times = sorted(r["t"] for r in log)
    worst = max(sum(1 for u in times if t <= u < t + 1.0) for t in times)
    assert worst <= rpm / 60 + 1, f"{worst} requests in one second (limit {rpm / 60:g})"

    identity = json.loads((folder / "run.json").read_text())["model"]["identity"]
    assert identity["served_models"] == ["local-vlm"] and "sdk" in identity
    assert assert_key_absent(key, tmp_path, proc.stdout, proc.stderr) >= 3


def test_a_killed_run_resumes_without_resending_answered_requests(
    server: ApiServer, key: str, tmp_path: Path
) -> None:
    server.configure(latency=0.1)  # two in flight: about 20 answers a second
    args = [*model_args(server, concurrency=2), "--limit", "120", "--output", "out"]
    env = harness_env(**{KEY_ENV: key})
    folder = tmp_path / "out/vqa/demo/openai-compatible"
    proc = start_harness(*args, cwd=tmp_path, env=env)
    deadline = time.time() + 90
    while time.time() < deadline and proc.poll() is None:
        if (folder / "predictions.jsonl").exists() and len(predictions(folder)) >= 24:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=30)
    stored = predictions(folder)
    assert 24 <= len(stored) < 120, "the kill must land part-way through the run"
    answered = {ECHO.match(p["output"]).group(1) for p in stored}

    time.sleep(0.3)  # let requests the killed run had in flight reach the log
    server.configure(latency=0.0)
    before = len(server.requests())
    resumed = run_harness(*args, cwd=tmp_path, env=env, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    resent = [r["marker"] for r in server.requests()[before:]]
    assert not answered & set(resent), "an answered sample was asked again"
    assert len(resent) == len(set(resent)) == 120 - len(stored)
    final = predictions(folder)
    assert len(final) == len({p["id"] for p in final}) == 120
    run_json = json.loads((folder / "run.json").read_text())
    assert run_json["counts"] == {"samples": 120, "cached": len(stored),
                                  "asked": 120 - len(stored)}
    assert_key_absent(key, tmp_path, out, err, resumed.stdout, resumed.stderr)


def test_failures_are_recorded_not_scored_and_a_rerun_asks_only_them(
    server: ApiServer, key: str, tmp_path: Path
) -> None:
    server.configure(always={"regular?": "500"})  # the border questions fail every time
    args = [*model_args(server, max_retries=1, concurrency=8), "--limit", "40",
            "--output", "out"]
    env = harness_env(**{KEY_ENV: key})
    first = run_harness(*args, cwd=tmp_path, env=env, timeout=120)
    assert first.returncode == 3, first.stderr  # answered less than --min-coverage (100%)
    assert "model server answered with an error" in first.stderr
    folder = tmp_path / "out/vqa/demo/openai-compatible"
    failed = [p for p in predictions(folder) if p["error"] is not None]
    doomed = {r["marker"] for r in server.requests() if "regular?" in r["prompt"]}
    assert failed and len(failed) == len(doomed)
    assert all(p["output"] is None and "HTTP 500" in p["error"]
               and "gave up after 2 attempts" in p["error"] for p in failed)
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["failed"] == len(failed) and metrics["answered"] == 40 - len(failed)
    assert metrics["coverage"] == pytest.approx((40 - len(failed)) / 40)

    server.configure(always={})
    server.reset()
    second = run_harness(*args, cwd=tmp_path, env=env, timeout=120)
    assert second.returncode == 0, second.stderr
    assert {r["marker"] for r in server.requests()} == doomed
    assert len(server.requests()) == len(doomed)
    assert json.loads((folder / "metrics.json").read_text())["coverage"] == 1.0
    assert_key_absent(key, tmp_path, first.stdout, first.stderr, second.stdout, second.stderr)


def test_a_missing_key_is_one_sentence_naming_the_variable(
    server: ApiServer, tmp_path: Path
) -> None:
    env = harness_env()
    env.pop(KEY_ENV, None)
    proc = run_harness(*model_args(server), "--limit", "2", cwd=tmp_path, env=env, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    assert len(lines) == 1 and f"environment variable {KEY_ENV}, which is not set" in lines[0]
    assert server.requests() == []

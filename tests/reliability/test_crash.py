"""SIGKILL a real `harness run` at random points and resume each time.

`make test` kills it at 4 points; `make test-reliability` at 20
(`pytest -m slow tests/reliability`). Each resume must end with every sample
exactly once, no torn line left, and metrics equal to an uninterrupted run's.
"""

from __future__ import annotations

import json
import random
import signal
import time
from pathlib import Path

import pytest

from tests.cli_helpers import REPO, harness_env, run_harness, start_harness
from tests.reliability.counts import COUNTS

ARGS = ("run", "--model", "mean-colour", "--task", "zeroshot/demo", "-M", "delay=0.01",
        "--batch-size", "2", "-T", "bootstrap=200")


def check_file(preds: Path, total: int | None) -> int:
    text = preds.read_text() if preds.exists() else ""
    assert text == "" or text.endswith("\n"), "a resumed run leaves no torn line"
    ids = [json.loads(x)["id"] for x in text.splitlines()]
    assert len(ids) == len(set(ids)), "no sample twice"
    if total is not None:
        assert len(ids) == total
    return len(ids)


def crash_and_resume(points: int, tmp_path: Path, plugin_site: Path) -> None:
    env = harness_env(PYTHONPATH=f"{REPO}:{plugin_site}")
    reference = run_harness(*ARGS, "--output", "ref", cwd=tmp_path, env=env)
    assert reference.returncode == 0, reference.stderr
    ref_dir = tmp_path / "ref/zeroshot/demo/mean-colour"
    t0 = time.perf_counter()
    run_harness(*ARGS, "--output", "timing", cwd=tmp_path, env=env)
    duration = time.perf_counter() - t0
    rng = random.Random(1234)
    out = tmp_path / "crashy/zeroshot/demo/mean-colour"
    for _ in range(points):
        proc = start_harness(*ARGS, "--output", "crashy", cwd=tmp_path, env=env)
        time.sleep(rng.uniform(0.0, duration * 0.8))
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        if (out / "predictions.jsonl").exists():
            # the killed run may leave one torn line; the next run must cut it
            lines = (out / "predictions.jsonl").read_bytes().split(b"\n")
            assert all(json.loads(x) for x in lines[:-1] if x)
        COUNTS["crash_points_survived"] += 1
    final = run_harness(*ARGS, "--output", "crashy", cwd=tmp_path, env=env)
    assert final.returncode == 0, final.stderr
    check_file(out / "predictions.jsonl", 80)
    got = json.loads((out / "metrics.json").read_text())
    want = json.loads((ref_dir / "metrics.json").read_text())
    assert got["scores"] == want["scores"]
    assert got["answered"] == want["answered"] == 80


def test_crash_points_reduced(tmp_path: Path, plugin_site: Path) -> None:
    crash_and_resume(4, tmp_path, plugin_site)


@pytest.mark.slow
def test_crash_points_full(tmp_path: Path, plugin_site: Path) -> None:
    crash_and_resume(20, tmp_path, plugin_site)

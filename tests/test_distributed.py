"""Data-parallel evaluation on CPU (gloo): two ranks, one killed, resumed by one process."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.cli_helpers import REPO, harness_env, run_harness

ARGS = ("--model", "mean-colour", "--task", "vqa/demo", "-M", "delay=0.03", "--batch-size", "2",
        "-T", "bootstrap=50")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(nproc: int, out: str, cwd: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={nproc}",
         "--master-addr=127.0.0.1", f"--master-port={free_port()}", "-m", "harness", "run",
         *ARGS, "--output", out],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def count_lines(folder: Path) -> int:
    return sum(len(p.read_text().splitlines()) for p in folder.glob("predictions*.jsonl"))


# Slow: two ranks completing and scoring once stays in the normal suite.
@pytest.mark.slow
def test_two_ranks_killed_then_resumed_by_one_process(plugin_site: Path, tmp_path: Path) -> None:
    env = harness_env(PYTHONPATH=f"{REPO}:{plugin_site}")
    folder = tmp_path / "dp/vqa/demo/mean-colour"
    launcher = torchrun(2, "dp", tmp_path, env)
    deadline = time.time() + 180
    while time.time() < deadline and (not folder.exists() or count_lines(folder) < 30):
        assert launcher.poll() is None, launcher.communicate()
        time.sleep(0.05)
    shards = sorted(p.name for p in folder.glob("predictions.rank*.jsonl"))
    assert shards == ["predictions.rank0.jsonl", "predictions.rank1.jsonl"]
    workers = [p for p in psutil.Process(launcher.pid).children(recursive=True)
               if "harness" in " ".join(p.cmdline())]
    assert len(workers) == 2
    workers[1].send_signal(signal.SIGKILL)  # one rank dies; the launcher stops the other
    launcher.wait(120)
    assert launcher.returncode != 0
    partial = count_lines(folder)
    assert 30 <= partial < 160

    resumed = run_harness("run", *ARGS, "--output", "dp", cwd=tmp_path, env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert not list(folder.glob("predictions.rank*.jsonl")), "shards merged away"
    ids = [json.loads(x)["id"] for x in (folder / "predictions.jsonl").read_text().splitlines()]
    assert len(ids) == len(set(ids)) == 160

    single = run_harness("run", *ARGS, "--output", "single", cwd=tmp_path, env=env)
    assert single.returncode == 0, single.stderr
    a = json.loads((folder / "metrics.json").read_text())
    b = json.loads((tmp_path / "single/vqa/demo/mean-colour/metrics.json").read_text())
    assert a["scores"] == b["scores"] and a["coverage"] == 1.0


def test_two_ranks_complete_and_score_once(plugin_site: Path, tmp_path: Path) -> None:
    env = harness_env(PYTHONPATH=f"{REPO}:{plugin_site}")
    launcher = torchrun(2, "dp", tmp_path, env)
    _, err = launcher.communicate(timeout=300)
    assert launcher.returncode == 0, err
    folder = tmp_path / "dp/vqa/demo/mean-colour"
    ids = [json.loads(x)["id"] for x in (folder / "predictions.jsonl").read_text().splitlines()]
    assert len(ids) == len(set(ids)) == 160
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["answered"] == 160

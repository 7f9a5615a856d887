"""Two real `harness run` processes on the same results folder at the same moment.

The second is refused with one sentence naming the lock (non-zero exit, no traceback);
the first completes; predictions.jsonl holds whole lines only, each sample once.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from tests.cli_helpers import REPO, harness_env

ARGS = ("run", "--model", "mean-colour", "--task", "zeroshot/demo", "-M", "delay=0.05",
        "--batch-size", "2", "-T", "bootstrap=10", "--limit", "60", "--output", "shared")


def test_second_run_on_the_same_folder_is_refused(tmp_path: Path, plugin_site: Path) -> None:
    env = harness_env(PYTHONPATH=f"{REPO}:{plugin_site}")
    cmd = [sys.executable, "-m", "harness", *ARGS]
    # Started together: whichever takes the lock first runs (60 x 0.05 s, well after the
    # other has started), the other must be refused.
    procs = [subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    t0 = time.time()
    results = [(p, *p.communicate(timeout=240)) for p in procs]
    assert time.time() - t0 < 240
    ok = [r for r in results if r[0].returncode == 0]
    refused = [r for r in results if r[0].returncode != 0]
    assert len(ok) == 1 and len(refused) == 1, [(r[0].returncode, r[2][-500:]) for r in results]
    proc, _, err = refused[0]
    assert proc.returncode == 1 and "Traceback" not in err
    errors = [x for x in err.splitlines() if x.startswith("error:")]
    assert len(errors) == 1, err
    assert "is in use by another run" in errors[0] and "--output" in errors[0]
    assert f"pid {procs[procs.index(ok[0][0])].pid}" in errors[0], "the message names the holder"

    folder = tmp_path / "shared/zeroshot/demo/mean-colour"
    raw = (folder / "predictions.jsonl").read_text()
    assert raw.endswith("\n")
    preds = [json.loads(x) for x in raw.splitlines()]  # every line whole JSON: none interleaved
    assert len(preds) == len({p["id"] for p in preds}) == 60
    metrics = json.loads((folder / "metrics.json").read_text())
    assert (metrics["n"], metrics["answered"]) == (60, 60)
    assert "60/60 answered" in " ".join(ok[0][2].split())


def test_a_run_after_the_first_finishes_is_not_refused(tmp_path: Path, plugin_site: Path) -> None:
    """The lock is released at exit: the same command again resumes with nothing to ask."""
    env = harness_env(PYTHONPATH=f"{REPO}:{plugin_site}")
    args = [a if a != "delay=0.05" else "delay=0" for a in ARGS]
    for expected in ("0 stored, 60 asked", "60 stored, 0 asked"):
        proc = subprocess.run([sys.executable, "-m", "harness", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=240)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert expected in " ".join(proc.stderr.split() + proc.stdout.split())

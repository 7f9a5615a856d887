"""`harness sweep` on a real one-node Slurm (tests/slurm/start.sh): the 3 x 3 demo sweep as
one job array, scancel of one job and a resubmission that asks only what it lacked, and
`harness sweep status` against the store. Run by `make test-slurm`."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.cli_helpers import harness_env, run_harness
from tests.sweep_helpers import (
    BASELINES,
    DEMO_TASKS,
    baseline,
    request_counts,
    served,
    stored_ok,
    write_plan,
)

pytestmark = pytest.mark.slurm
SLURM = {"kind": "slurm", "parallel": 3, "mem_gb": 2, "time_min": 20}


def status(plan: Path, env: dict[str, str]) -> list[dict[str, Any]]:
    out = run_harness("sweep", "status", str(plan), "--format", "json", cwd=plan.parent,
                      env=env)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def wait_until(plan: Path, env: dict[str, str], done: Any, timeout: float = 600
               ) -> list[dict[str, Any]]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        rows = status(plan, env)
        if done(rows):
            return rows
        time.sleep(2)
    raise AssertionError(f"timed out; last status: {rows}")


def settled(rows: list[dict[str, Any]]) -> bool:
    return all(r["state"] in ("done", "failed") for r in rows)


def test_three_models_on_three_demo_tasks_as_one_array(tmp_path: Path,
                                                      slurm: dict[str, str]) -> None:
    env = harness_env(**slurm)
    plan = write_plan(tmp_path / "demo.yaml", [baseline(m) for m in BASELINES], DEMO_TASKS,
                      batch_size=16, executor=SLURM)
    out = run_harness("sweep", str(plan), cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "9 pairs in 3 jobs (slurm)" in out.stdout
    jobs = [json.loads(line)["job_id"] for line in
            (tmp_path / "results/.sweeps/demo/submissions.jsonl").read_text().splitlines()]
    assert len(jobs) == 3 and len({j.split("_")[0] for j in jobs}) == 1  # one array
    rows = wait_until(plan, env, settled)
    assert [r["state"] for r in rows] == ["done"] * 9, rows
    # `harness sweep status` agrees with the store: each done pair has a complete metrics.json
    for r in rows:
        m = json.loads((Path(r["folder"]) / "metrics.json").read_text())
        assert m["partial"] is None and m["answered"] == m["n"] > 0
    board = run_harness("leaderboard", "--results", str(tmp_path / "results"), cwd=tmp_path,
                        env=env)
    assert board.returncode == 0, board.stderr
    cells = 0
    for line in board.stdout.splitlines():
        parts = [p.strip() for p in line.split("│")]
        if len(parts) > 2 and parts[1] in BASELINES:
            cells += sum(1 for p in parts[2:] if p.replace(".", "", 1).isdigit())
    assert cells == 9, board.stdout
    again = run_harness("sweep", str(plan), cwd=tmp_path, env=env)
    assert "nothing to submit" in again.stdout


def test_scancel_mid_run_then_resubmit_asks_only_the_missing_samples(
        tmp_path: Path, slurm: dict[str, str]) -> None:
    env = harness_env(**slurm)
    models = [served(f"served-{c}", tmp_path / f"ckpt-{c}", tmp_path / f"requests-{c}",
                     latency=0.2) for c in "abc"]
    plan = write_plan(tmp_path / "served.yaml", models, ["zeroshot/demo"], executor=SLURM)
    out = run_harness("sweep", str(plan), cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    folder = tmp_path / "results/zeroshot/demo+protocol=sound/served-b"
    victim = next(r["job"] for r in status(plan, env) if r["model"] == "served-b")
    deadline = time.time() + 300
    while stored_ok(folder) < 12:
        assert time.time() < deadline, "served-b never started answering"
        time.sleep(0.5)
    subprocess.run(["scancel", victim], env=env, check=True)
    rows = wait_until(plan, env, settled)
    states = {r["model"]: r for r in rows}
    assert states["served-a"]["state"] == states["served-c"]["state"] == "done"
    cancelled = states["served-b"]
    assert cancelled["state"] == "failed" and "CANCELLED" in cancelled["detail"], cancelled
    kept = stored_ok(folder)
    assert 12 <= kept < 80
    # The cancelled job's server went with it (Slurm ends the job's processes).
    first_server = next(iter(request_counts(tmp_path / "requests-b")))
    pid = int(first_server.split(".")[0])
    assert not Path(f"/proc/{pid}").exists()

    again = run_harness("sweep", str(plan), cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "1 pairs in 1 jobs (slurm)" in again.stdout and "served-b" in again.stdout
    rows = wait_until(plan, env, lambda rs: settled(rs) and all(r["state"] == "done"
                                                                 for r in rs))
    counts = request_counts(tmp_path / "requests-b")
    assert len(counts) == 2 and counts[first_server] >= kept
    asked_again = [n for name, n in counts.items() if name != first_server][0]
    assert asked_again == 80 - kept  # only the missing samples
    assert stored_ok(folder) == 80
    for other in "ac":  # the others were not asked again
        assert list(request_counts(tmp_path / f"requests-{other}").values()) == [80]


def test_a_refused_submission_is_one_sentence_in_sbatchs_words(tmp_path: Path,
                                                               slurm: dict[str, str]) -> None:
    env = harness_env(**slurm)
    plan = write_plan(tmp_path / "plan.yaml", [baseline("majority")], ["zeroshot/demo"],
                      executor={**SLURM, "partition": "no-such-partition"})
    out = run_harness("sweep", str(plan), cwd=tmp_path, env=env)
    assert out.returncode == 1
    assert "error: sbatch refused the job array: " in out.stderr
    assert "Invalid partition name specified" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "results/.sweeps/plan/submissions.jsonl").exists()
    status_rows = status(plan, env)
    assert [r["state"] for r in status_rows] == ["pending"]

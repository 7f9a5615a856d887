"""`harness sweep` without Slurm: plans, what the store holds, the local executor, the vLLM
path against the stand-in server (tests/vllm_standin.py), started as a job starts vLLM."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli_helpers import run_harness
from tests.sweep_helpers import request_counts, served, stored_ok, write_plan


def test_a_wrong_plan_field_is_one_sentence_and_exit_2(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text("tasks: [zeroshot/demo]\nmodels:\n  - name: majority\n    optons: {}\n")
    out = run_harness("sweep", "plan", str(plan), cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip() == (f"error: plan {plan}: models.0.optons: Extra inputs are not "
                                  "permitted")
    plan.write_text("tasks: [zeroshot/demo\nmodels: []\n")
    out = run_harness("sweep", "status", str(plan), cwd=tmp_path)
    assert out.returncode == 2 and "not valid YAML" in out.stderr and "Traceback" not in out.stderr


def test_plan_shows_what_the_store_holds_and_what_would_be_submitted(tmp_path: Path) -> None:
    out_dir = tmp_path / "results"
    common = ["--task", "zeroshot/demo", "--protocol", "sound", "--output", str(out_dir)]
    assert run_harness("run", "--model", "majority", *common, cwd=tmp_path).returncode == 0
    assert run_harness("run", "--model", "chance", "--limit", "5", *common,
                       cwd=tmp_path).returncode == 0
    plan = write_plan(tmp_path / "plan.yaml", [{"name": "majority"}, {"name": "chance"},
                                               {"name": "colour-lbp"}],
                      ["zeroshot/demo"], output="results")
    out = run_harness("sweep", "plan", str(plan), "--format", "json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    shown = json.loads(out.stdout)
    rows = {r["model"]: r for r in shown["pairs"]}
    assert rows["majority"]["state"] == "done" and not rows["majority"]["submit"]
    assert rows["chance"]["state"] == "pending" and rows["chance"]["submit"]
    assert rows["chance"]["detail"] == "5/5 answered"  # its --limit 5 run: partial
    assert shown["skipped"] == [["colour-lbp", "zeroshot/demo", "cannot generate"]]
    assert shown["jobs"] == 1
    table = run_harness("sweep", "plan", str(plan), cwd=tmp_path).stdout
    assert "2 pairs: 1 complete, 1 to submit in 1 jobs, 0 in flight, 1 not applicable" in table


def test_served_model_runs_every_task_and_a_rerun_asks_only_what_is_missing(
        tmp_path: Path) -> None:
    log = tmp_path / "requests"
    ckpt = tmp_path / "ckpt"
    plan = write_plan(tmp_path / "plan.yaml", [served("derm-7b", ckpt, log)],
                      ["zeroshot/demo"], executor={"kind": "local"})
    first = run_harness("sweep", str(plan), cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "derm-7b\tzeroshot/demo\tdone" in first.stdout
    folder = tmp_path / "results" / "zeroshot" / "demo+protocol=sound" / "derm-7b"
    run = json.loads((folder / "run.json").read_text())["model"]
    # The results are the served checkpoint's, not "openai-compatible"'s.
    assert run["name"] == "derm-7b" and run["checkpoint"] == str(ckpt)
    assert run["weights"] and run["identity"]["weights"] == run["weights"]
    assert run["identity"]["served_models"] == ["derm-7b"]
    assert run["identity"]["engine"] == "vllm"
    assert list(request_counts(log).values()) == [80]

    again = run_harness("sweep", str(plan), cwd=tmp_path)
    assert again.returncode == 0 and "nothing to submit" in again.stdout

    # Lose the last 30 answers and the scores: the next job's server (another port) is
    # asked those 30 only.
    lines = (folder / "predictions.jsonl").read_text().splitlines(keepends=True)
    (folder / "predictions.jsonl").write_text("".join(lines[:-30]))
    (folder / "metrics.json").unlink()
    assert stored_ok(folder) == 50
    third = run_harness("sweep", str(plan), cwd=tmp_path)
    assert third.returncode == 0, third.stdout + third.stderr
    assert sorted(request_counts(log).values()) == [30, 80]
    assert stored_ok(folder) == 80


def test_a_server_that_dies_fails_its_job_with_the_reason(tmp_path: Path) -> None:
    model = served("broken", tmp_path / "ckpt", tmp_path / "requests")
    model["serve_args"] = ["--port", "not-a-number"]  # the stand-in exits at once
    plan = write_plan(tmp_path / "plan.yaml", [model], ["zeroshot/demo"])
    out = run_harness("sweep", str(plan), cwd=tmp_path)
    assert out.returncode == 3
    status = run_harness("sweep", "status", str(plan), cwd=tmp_path).stdout
    assert "broken\tzeroshot/demo\tfailed" in status
    assert "the server exited with status 2 before answering" in status

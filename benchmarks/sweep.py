"""`harness sweep`: how fast a plan is read against a large store, and a job's own overhead.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/sweep.py --smoke
        planning 10 models x 20 tasks (200 pairs) against a store of 5,000 results (< 1 s)
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/sweep.py --overhead [--slurm] [--repeat 3]
        one served model (the vLLM stand-in) on zeroshot/demo: where a job's time goes
        before its first request reaches the server; --slurm submits to the cluster in
        $SLURM_CONF (tests/slurm/start.sh) instead of running locally

The store is 5,000 copies of one real metrics.json (made by a real run of `majority` on
zeroshot/demo), filed under 250 model names x 20 task folders; 200 of them are the plan's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _result import result  # noqa: E402

from tests.sweep_helpers import served, write_plan  # noqa: E402

# 20 tasks every model below can do (generate, or encode_images for the probes).
TASKS = ["vqa/mm-skin", "caption/mm-skin", "zeroshot/ham10000", "zeroshot/pad-ufes-20",
         "zeroshot/patch16", "zeroshot/dermnet", "zeroshot/isic2019", "zeroshot/bcn20000",
         "zeroshot/hiba", "zeroshot/mskcc", "zeroshot/ddi", "zeroshot/fitzpatrick17k",
         "probe/ham10000", "probe/pad-ufes-20", "probe/patch16", "probe/isic2019",
         "probe/hiba", "probe/dermnet", "probe/ddi", "probe/fitzpatrick17k"]
PLUGINS = ["llava-med-7b", "huatuogpt-vision-7b", "qwen2.5-vl-7b", "internvl2.5-8b",
           "skinvl-pubmm", "llava-v1.6-7b", "skinvl-mm", "skinvl-pub", "skinvl",
           "llava-med-7b"]


def harness(*args: str, cwd: Path, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=cwd, text=True,
                          capture_output=True, env=env, check=False)


def smoke(work: Path) -> None:
    from harness.plugin_manager import get_registries
    from harness.sweep import pairs, plan

    out = work / "results"
    made = harness("run", "--model", "majority", "--task", "zeroshot/demo", "--protocol",
                   "sound", "--output", str(work / "seed"), cwd=work)
    assert made.returncode == 0, made.stderr
    metrics = (work / "seed/zeroshot/demo+protocol=sound/majority/metrics.json").read_bytes()
    models = [{"name": f"model-{i}", "model": PLUGINS[i]} for i in range(10)]
    plan_path = write_plan(work / "plan.yaml", models, TASKS, protocol="paper",
                           output="results")
    regs = get_registries()
    p = plan.load(plan_path)
    expansion = pairs.expand(p, regs)
    task_dirs = sorted({pr.folder.parent for pr in expansion.pairs})
    written = 0
    for d in task_dirs:  # 20 task folders x 250 models = 5,000 results
        for m in range(250):
            name = f"model-{m}" if m < 10 else f"other-{m}"
            if name == "model-3" and d == task_dirs[0]:
                name = "other-250"  # one pair left to submit; still 5,000 results
            (d / name).mkdir(parents=True, exist_ok=True)
            (d / name / "metrics.json").write_bytes(metrics)
            written += 1
    print(f"store: {written} results in {out}")
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        shown = harness("sweep", "plan", str(plan_path), "--format", "json", cwd=work)
        times.append(time.perf_counter() - t0)
        assert shown.returncode == 0, shown.stderr
    rows = json.loads(shown.stdout)
    inner = rows["seconds"]
    done = sum(r["state"] == "done" for r in rows["pairs"])
    print(f"plan: {len(rows['pairs'])} pairs ({done} complete, "
          f"{sum(r['submit'] for r in rows['pairs'])} to submit)")
    print(f"harness sweep plan, planning itself (plan read, tasks built, store read): "
          f"{inner:.3f} s")
    print(f"harness sweep plan, whole command incl. interpreter and plugin start: median "
          f"{statistics.median(times):.2f} s (min {min(times):.2f}, max {max(times):.2f})")
    submit = sum(r["submit"] for r in rows["pairs"])
    result(__file__, len(rows["pairs"]) == done + submit and submit >= 1,
           f"{len(rows['pairs'])} pairs planned, {done} complete in the store, {submit} to "
           "submit")


def overhead(work: Path, use_slurm: bool, repeat: int) -> None:
    import pickle

    rows = []
    for i in range(repeat):
        run_dir = work / f"run{i}"
        run_dir.mkdir()
        log = run_dir / "requests"
        executor = ({"kind": "slurm", "mem_gb": 2, "time_min": 20} if use_slurm
                    else {"kind": "local"})
        plan_path = write_plan(run_dir / "plan.yaml", [served("m", run_dir / "ckpt", log)],
                               ["zeroshot/demo"], executor=executor)
        t0 = time.time()
        args = ["sweep", str(plan_path)] + (["--wait"] if use_slurm else [])
        done = harness(*args, cwd=run_dir, env={**os.environ, "OMP_NUM_THREADS": "1"})
        wall = time.time() - t0
        assert done.returncode == 0, done.stdout + done.stderr
        sub = json.loads((run_dir / "results/.sweeps/plan/submissions.jsonl").read_text())
        result = next((run_dir / "results/.sweeps/plan/logs").glob("*_result.pkl"))
        with open(result, "rb") as fh:
            report = pickle.load(fh)[1]
        first = min(json.loads(line)["t"] for line in next(log.glob("*.jsonl")).open())
        rows.append({
            "submit_to_process": report.process_started - sub["submitted"],
            "process_to_job": report.started - report.process_started,
            "server_ready": report.server_ready_seconds,
            "ready_to_first_request": first - report.started - report.server_ready_seconds,
            "job_start_to_first_request": first - report.process_started,
            "job": report.ended - report.process_started,
            "wall": wall,
        })
    print(f"{'local' if not use_slurm else 'slurm'} executor, {repeat} runs, median seconds:")
    for key in rows[0]:
        print(f"  {key:28s} {statistics.median(r[key] for r in rows):7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--overhead", action="store_true")
    parser.add_argument("--slurm", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sweep-bench-"))
    os.environ.setdefault("XDG_CACHE_HOME", str(work / "cache"))
    try:
        if args.smoke or not args.overhead:
            smoke(work)
        if args.overhead:
            overhead(work, args.slurm, args.repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

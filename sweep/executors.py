"""Submitting sweep jobs through submitit: ``local`` (this machine) and ``slurm`` (an array).

Every submission is appended to ``<job folder>/submissions.jsonl`` (job id, model, tasks),
which ``harness sweep status`` reads beside the store and the scheduler.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import HarnessError, UsageError
from harness.sweep.job import JobSpec, SweepJob
from harness.sweep.plan import SweepPlan

SUBMISSIONS = "submissions.jsonl"
LOGS = "logs"
POLL_SECONDS = 1.0


@dataclass(frozen=True)
class Submission:
    job_id: str
    model: str
    tasks: tuple[str, ...]
    kind: str
    submitted: float


def logs_folder(plan: SweepPlan) -> Path:
    return plan.job_folder / LOGS


def read_submissions(plan: SweepPlan) -> list[Submission]:
    path = plan.job_folder / SUBMISSIONS
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        try:
            rec = json.loads(line)
            out.append(Submission(str(rec["job_id"]), rec["model"], tuple(rec["tasks"]),
                                  rec["kind"], float(rec["submitted"])))
        except (ValueError, KeyError, TypeError):
            continue  # a torn last line (the submitter was killed mid-write)
    return out


def _record(plan: SweepPlan, subs: list[Submission]) -> None:
    plan.job_folder.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps({"job_id": s.job_id, "model": s.model, "tasks": list(s.tasks),
                               "kind": s.kind, "submitted": s.submitted}) + "\n" for s in subs)
    with open(plan.job_folder / SUBMISSIONS, "a", encoding="utf-8") as fh:
        fh.write(text)  # one write: a crash tears at most the last line


def slurm_executor(plan: SweepPlan) -> Any:
    import submitit

    ex_settings = plan.executor
    executor = submitit.SlurmExecutor(folder=logs_folder(plan),
                                      max_num_timeout=plan.executor.max_requeues)
    params: dict[str, Any] = {
        "job_name": f"sweep-{plan.job_folder.name}",
        "time": ex_settings.time_min,
        "signal_delay_s": ex_settings.signal_delay_s,
        "cpus_per_task": ex_settings.cpus_per_job,
        "array_parallelism": ex_settings.parallel,
        "setup": list(ex_settings.setup),
        "additional_parameters": dict(ex_settings.sbatch),
    }
    if ex_settings.gpus_per_job:
        params["gpus_per_node"] = ex_settings.gpus_per_job
    if ex_settings.mem_gb is not None:
        params["mem"] = f"{int(ex_settings.mem_gb * 1024)}M"
    for name in ("partition", "account", "qos"):
        if getattr(ex_settings, name):
            params[name] = getattr(ex_settings, name)
    executor.update_parameters(**params)
    return executor


def submit(plan: SweepPlan, specs: list[JobSpec], wait: bool = False,
           echo: Any = print) -> list[Submission]:
    """Submit one job per spec; ``local`` runs them here (``parallel`` at once) and returns
    when all have ended, ``slurm`` submits one array and returns (or waits, with ``wait``)."""
    if not specs:
        return []
    if plan.executor.kind == "slurm":
        if shutil.which("sbatch") is None:
            raise UsageError("executor kind slurm needs sbatch on PATH (run harness sweep on "
                             "a Slurm login node, or use kind: local)")
        executor = slurm_executor(plan)
        submitted = time.time()
        try:
            with executor.batch():
                jobs = [executor.submit(SweepJob(s)) for s in specs]
        except Exception as exc:  # noqa: BLE001 - sbatch's refusal, in its own words
            lines = [ln for ln in str(exc).strip().splitlines() if ln.strip()]
            raise HarnessError(f"sbatch refused the job array: "
                               f"{lines[-1] if lines else type(exc).__name__}") from None
        subs = [Submission(str(j.job_id), s.model, tuple(s.tasks), "slurm", submitted)
                for j, s in zip(jobs, specs, strict=True)]
        _record(plan, subs)
        for sub in subs:
            echo(f"submitted {sub.model} as Slurm job {sub.job_id} ({len(sub.tasks)} tasks)")
        if wait:
            _wait_all(jobs, echo)
        return subs
    return _run_local(plan, specs, echo)


def _run_local(plan: SweepPlan, specs: list[JobSpec], echo: Any) -> list[Submission]:
    import submitit

    gpus = plan.executor.gpus_per_job
    slots = list(range(plan.executor.parallel))
    queue = list(specs)
    running: list[tuple[Any, int]] = []
    subs: list[Submission] = []
    while queue or running:
        while queue and slots:
            spec, slot = queue.pop(0), slots.pop(0)
            executor = submitit.LocalExecutor(folder=logs_folder(plan))
            params: dict[str, Any] = {"timeout_min": plan.executor.time_min}
            if gpus:  # slot k sees GPUs k*g .. k*g+g-1
                params.update(gpus_per_node=gpus,
                              visible_gpus=tuple(range(slot * gpus, (slot + 1) * gpus)))
            executor.update_parameters(**params)
            submitted = time.time()
            job = executor.submit(SweepJob(spec))
            sub = Submission(str(job.job_id), spec.model, tuple(spec.tasks), "local", submitted)
            _record(plan, [sub])
            subs.append(sub)
            echo(f"started {spec.model} as local job {job.job_id} ({len(spec.tasks)} tasks)")
            running.append((job, slot))
        time.sleep(POLL_SECONDS)
        for job, slot in list(running):
            if job.done():
                running.remove((job, slot))
                slots.append(slot)
                echo(f"job {job.job_id} ended: {_outcome(job)}")
    return subs


def _wait_all(jobs: list[Any], echo: Any) -> None:
    left = list(jobs)
    while left:
        time.sleep(POLL_SECONDS * 5)
        for job in list(left):
            if _slurm_gone(job):
                left.remove(job)
                echo(f"job {job.job_id} ended: {_outcome(job)}")


def _slurm_gone(job: Any) -> bool:
    from harness.sweep.status import queue_states

    return str(job.job_id) not in queue_states([str(job.job_id)])


def _outcome(job: Any) -> str:
    from harness.sweep.status import result_of

    state, value = result_of(job.paths.result_pickle)
    if state == "success":
        tasks = value.tasks
        bad = [t for t, r in tasks.items() if r.get("error") or r.get("answered") != r.get("n")]
        return f"{len(tasks) - len(bad)} of {len(tasks)} tasks complete" + (
            f" (not: {', '.join(bad)})" if bad else "")
    if state == "error":
        lines = [ln for ln in str(value).strip().splitlines() if ln.strip()]
        return f"failed: {lines[-1].strip() if lines else 'no message'}"
    return "no result (killed or cancelled)"

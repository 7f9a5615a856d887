"""Where each pair of a sweep stands: the store first, then the job that was sent for it.

Job states without an accounting database: ``squeue`` while a job is queued or running;
once it has left the queue, submitit's result file (the job's report, or its traceback),
then ``sacct`` where accounting is on, then ``scontrol show job`` (kept for MinJobAge),
then the ``*** JOB ... CANCELLED ... ***`` line slurmstepd writes into the job's stderr.
"""

from __future__ import annotations

import os
import pickle
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import results
from harness.store import PREDICTIONS
from harness.sweep.executors import Submission, logs_folder, read_submissions
from harness.sweep.pairs import Pair, is_complete
from harness.sweep.plan import SweepPlan

QUEUED = {"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD",
          "SUSPENDED"}
CANCEL_LINE = re.compile(rb"\*\*\* (?:JOB|STEP) \S+ ON \S+ CANCELLED AT \S+( DUE TO [A-Z ]+)?")


@dataclass
class PairStatus:
    pair: Pair
    state: str  # done | pending | queued | running | failed
    job: str | None = None
    detail: str = ""  # the reason for failed; stored counts otherwise


def _run(cmd: list[str]) -> str | None:
    if shutil.which(cmd[0]) is None:
        return None
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout if out.returncode == 0 else None


def queue_states(job_ids: list[str]) -> dict[str, str]:
    """Job id -> Slurm state (PENDING, RUNNING, ...) for the jobs still in the queue."""
    if not job_ids:
        return {}
    out = _run(["squeue", "-h", "-r", "-o", "%i|%T", "-j", ",".join(job_ids)])
    states: dict[str, str] = {}
    for line in (out or "").splitlines():
        job, _, state = line.strip().partition("|")
        states[job] = state
    return states


def scheduler_end(job_id: str, stderr: Path) -> str:
    """How the scheduler ended a job that left no result: sacct, scontrol, its stderr."""
    out = _run(["sacct", "-n", "-X", "-P", "-o", "State,ExitCode", "-j", job_id])
    if out and out.strip():
        state, _, code = out.strip().splitlines()[0].partition("|")
        return f"{state.strip()} (exit {code})"
    out = _run(["scontrol", "show", "job", "-o", job_id])
    if out:
        found = re.search(r"JobState=(\S+)", out)
        reason = re.search(r" Reason=(\S+)", out)
        if found:
            why = reason.group(1) if reason and reason.group(1) != "None" else ""
            return found.group(1) + (f" ({why})" if why else "")
    try:
        tail = stderr.read_bytes()[-20000:]
    except OSError:
        tail = b""
    found = list(CANCEL_LINE.finditer(tail))
    if found:
        line = found[-1].group(0).decode().strip("* ")
        kind = ("TIMEOUT" if "TIME LIMIT" in line else
                "PREEMPTED" if "PREEMPT" in line else "CANCELLED")
        return f"{kind} ({line})"
    return "ended without a result (killed, cancelled or out of memory)"


def result_of(path: Path) -> tuple[str | None, Any]:
    """submitit's result file: ("success", report) or ("error", traceback text); (None, None)
    while there is none."""
    try:
        with open(path, "rb") as fh:
            kind, value = pickle.load(fh)
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, AttributeError,
            ModuleNotFoundError):
        return None, None
    return kind, value


def _job_paths(plan: SweepPlan, job_id: str) -> Any:
    from submitit.core.utils import JobPaths

    return JobPaths(logs_folder(plan), job_id=job_id, task_id=0)


def stored_counts(pair: Pair) -> str:
    """What the store holds for an incomplete pair, for the status line."""
    try:
        m = results.read_metrics(pair.folder / results.METRICS)
        text = f"{m.answered}/{m.n} answered"
        if m.failure_summary:
            first = m.failure_summary[0]
            text += f"; {first.count} failed: {first.reason}"
        return text
    except (OSError, results.SchemaError):
        pass
    try:
        with open(pair.folder / PREDICTIONS, "rb") as fh:
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
    except OSError:
        return "nothing stored"
    return f"{lines} predictions stored, not yet scored"


def _local_alive(job_id: str) -> bool:
    try:
        os.kill(int(job_id), 0)
    except (ValueError, ProcessLookupError, PermissionError):
        return False
    return True


def statuses(plan: SweepPlan, pairs: list[Pair]) -> list[PairStatus]:
    latest: dict[tuple[str, str], Submission] = {}
    for sub in read_submissions(plan):
        for task in sub.tasks:
            latest[(sub.model, task)] = sub
    wanted = {s.job_id for s in latest.values() if s.kind == "slurm"}
    queue = queue_states(sorted(wanted)) if wanted else {}
    ends: dict[str, tuple[str, str]] = {}
    out: list[PairStatus] = []
    for pair in pairs:
        if is_complete(pair):
            out.append(PairStatus(pair, "done"))
            continue
        sub = latest.get((pair.model, pair.task))
        if sub is None:
            out.append(PairStatus(pair, "pending", detail=stored_counts(pair)))
            continue
        in_queue = queue.get(sub.job_id) if sub.kind == "slurm" else (
            "RUNNING" if _local_alive(sub.job_id) else None)
        if in_queue is not None:
            state = "queued" if in_queue in QUEUED else "running"
            out.append(PairStatus(pair, state, sub.job_id, f"{in_queue}; {stored_counts(pair)}"))
            continue
        if sub.job_id not in ends:
            ends[sub.job_id] = _ended(plan, sub)
        kind, why = ends[sub.job_id]
        detail = why
        if kind == "success":
            detail = _task_reason(why, pair)
        out.append(PairStatus(pair, "failed", sub.job_id,
                              f"{detail}; {stored_counts(pair)}; resubmit to ask the rest"))
    return out


def _ended(plan: SweepPlan, sub: Submission) -> tuple[str, Any]:
    paths = _job_paths(plan, sub.job_id)
    kind, value = result_of(paths.result_pickle)
    if kind == "success":
        return kind, value
    if kind == "error":
        lines = [ln for ln in str(value).strip().splitlines() if ln.strip()]
        return kind, f"the job failed: {lines[-1].strip() if lines else 'no message'}"
    if sub.kind == "local":
        return "ended", "the local job ended without a result (killed)"
    return "ended", f"Slurm: {scheduler_end(sub.job_id, paths.stderr)}"


def _task_reason(report: Any, pair: Pair) -> str:
    rec = (getattr(report, "tasks", None) or {}).get(pair.task)
    if rec is None:
        return "the job ended without running this task"
    if rec.get("error"):
        return rec["error"]
    return rec.get("reason") or f"answered {rec.get('answered')} of {rec.get('n')}"

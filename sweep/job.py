"""One sweep job: one model over its tasks, in-process through the runner or against a
server the job starts (``serve: vllm``). Runs wherever submitit starts it."""

from __future__ import annotations

import os
import socket
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.sweep.plan import ModelEntry, SweepPlan


@dataclass
class JobSpec:
    """What one job does: the plan (as read at submission), one model, the tasks it lacks."""

    plan: SweepPlan
    model: str
    tasks: list[str]


@dataclass
class JobReport:
    """What a job hands back (submitit stores it in its result file)."""

    model: str
    host: str
    started: float  # time.time() when the job's function began
    process_started: float  # when the job's Python process began (submitit's bootstrap)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)  # task -> counts or error
    server_ready_seconds: float | None = None
    ended: float = 0.0


class SweepJob:
    """A submitit job. On a timeout or preemption submitit calls ``checkpoint`` and requeues
    the same job: the store resumes, so the rerun asks only what is missing."""

    def __init__(self, spec: JobSpec) -> None:
        self.spec = spec

    def __call__(self) -> JobReport:
        return run_job(self.spec)

    def checkpoint(self) -> Any:
        import submitit

        return submitit.helpers.DelayedSubmission(SweepJob(self.spec))


def run_job(spec: JobSpec) -> JobReport:
    from harness.plugin_manager import get_registries

    report = JobReport(spec.model, socket.gethostname(), time.time(), process_started())
    registries = get_registries()
    entry = spec.plan.model(spec.model)
    if entry.serve == "vllm":
        from harness.sweep.serve import Server

        log = spec.plan.job_folder / "servers" / f"{entry.name}-{_job_id()}.log"
        server = Server(entry, log)
        server.start()
        try:
            _warm_up()
            server.wait_ready()
            report.server_ready_seconds = server.ready_seconds
            options = {"base_url": server.base_url, "model_id": entry.name,
                       "api_key_env": "none"}
            _run_tasks(registries, spec, entry, options, report)
        finally:
            server.stop()
    else:
        _run_tasks(registries, spec, entry, {}, report)
    report.ended = time.time()
    failed = {t: r["error"] for t, r in report.tasks.items() if r.get("error")}
    if failed and len(failed) == len(report.tasks):
        raise RuntimeError("every task failed: " + "; ".join(f"{t}: {e}"
                                                             for t, e in failed.items()))
    return report


def process_started() -> float:
    """When this process began, to 10 ms (psutil's create_time rests on the boot time in
    whole seconds, too coarse for a job's start-up)."""
    try:
        with open("/proc/self/stat", encoding="ascii") as fh:
            ticks = int(fh.read().rsplit(")", 1)[1].split()[19])  # field 22: starttime
        with open("/proc/uptime", encoding="ascii") as fh:
            uptime = float(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        import psutil

        return psutil.Process().create_time()
    return time.time() - (uptime - ticks / os.sysconf("SC_CLK_TCK"))


def _warm_up() -> None:
    """Imports the client needs (the OpenAI SDK alone takes seconds), done while the server
    loads its weights rather than after."""
    import openai  # noqa: F401

    import harness.runner  # noqa: F401


def _job_id() -> str:
    import submitit

    try:
        return str(submitit.JobEnvironment().job_id)
    except RuntimeError:  # called outside a submitit job (a test, a notebook)
        return f"pid{os.getpid()}"


def _run_tasks(registries: Any, spec: JobSpec, entry: ModelEntry, served: dict[str, Any],
               report: JobReport) -> None:
    """The tasks in as few runner calls as their -M options allow (the model is built once
    per call); if a call fails, each of its tasks on its own, so one task's failure does not
    cost the others."""
    groups: dict[str, tuple[dict[str, Any], list[str]]] = {}
    for task in spec.tasks:
        options = {**served, **entry.options_of(task)}
        groups.setdefault(repr(sorted(options.items())), (options, []))[1].append(task)
    for options, tasks in groups.values():
        _run_group(registries, spec, entry, options, tasks, report)


def _run_group(registries: Any, spec: JobSpec, entry: ModelEntry, options: dict[str, Any],
               tasks: list[str], report: JobReport) -> None:
    from harness.runner import run

    try:
        outcomes = run(registries, _run_options(spec, entry, options, tasks))
        report.tasks.update(_counts(o) for o in outcomes)
        return
    except Exception:  # noqa: BLE001 - each task is tried alone, and records its own error
        if len(tasks) == 1:
            report.tasks[tasks[0]] = {"error": _error(sys.exc_info()[1])}
            return
    for task in tasks:
        try:
            outcomes = run(registries, _run_options(spec, entry, options, [task]))
            report.tasks.update(_counts(o) for o in outcomes)
        except Exception as exc:  # noqa: BLE001 - one task's failure is its own
            report.tasks[task] = {"error": _error(exc)}


def _run_options(spec: JobSpec, entry: ModelEntry, options: dict[str, Any],
                 tasks: list[str]) -> Any:
    from harness.runstate import RunOptions

    plan = spec.plan
    return RunOptions(
        model=entry.plugin, name=entry.name, tasks=tasks, output=plan.output,
        data_root=plan.data_root, model_path=entry.path,
        model_options={k: _text(v) for k, v in options.items()},
        task_options={k: _text(v) for k, v in plan.task_options.items()},
        batch_size=plan.batch_size, limit=plan.limit, seed=plan.seed, protocol=plan.protocol,
    )


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _counts(outcome: Any) -> tuple[str, dict[str, Any]]:
    m = outcome.metrics
    counts = {"asked": outcome.asked, "cached": outcome.cached, "failed": outcome.failed,
              "folder": str(outcome.folder)}
    if m is not None:
        counts.update(n=m.n, answered=m.answered, complete=m.complete)
        if m.failure_summary:
            first = m.failure_summary[0]
            counts["reason"] = f"{first.count} failed: {first.reason}"
    return outcome.task, counts


def _error(exc: BaseException) -> str:
    line = traceback.format_exception_only(type(exc), exc)[-1].strip()
    return line[:500]


def write_report(report: JobReport, path: Path) -> None:
    from dataclasses import asdict

    from harness.store import atomic_write_json

    atomic_write_json(path, asdict(report))

"""`harness sweep PLAN`, `harness sweep plan PLAN`, `harness sweep status PLAN`."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from harness import hookimpl

PLAN_ARG = click.argument("plan_path", metavar="PLAN", type=click.Path(path_type=Path))


class SweepGroup(click.Group):
    """``harness sweep PLAN`` is ``harness sweep submit PLAN``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["submit", *args]
        return super().parse_args(ctx, args)


@click.group("sweep", cls=SweepGroup)
def sweep() -> None:
    """Every model of a plan on every task, as local or Slurm jobs (resumable).

    \b
    harness sweep plan PLAN      the pairs, what is complete, what would be submitted
    harness sweep PLAN           submit the incomplete pairs (one job per model)
    harness sweep status PLAN    each pair: done, pending, queued, running, failed (why)

    PLAN is a YAML file: docs/scale.md.
    """


def _prepare(plan_path: Path) -> tuple[Any, Any, float]:
    from harness.commands import registries
    from harness.sweep import pairs, plan

    t0 = time.perf_counter()
    p = plan.load(plan_path)
    expansion = pairs.expand(p, registries())
    return p, expansion, t0


def to_submit(p: Any, expansion: Any) -> tuple[list[Any], list[Any]]:
    """The statuses, and the pairs to send: neither complete nor queued or running."""
    from harness.sweep.status import statuses

    states = statuses(p, expansion.pairs)
    return states, [s.pair for s in states if s.state in ("pending", "failed")]


def job_specs(p: Any, send: list[Any]) -> list[Any]:
    from harness.sweep.job import JobSpec

    by_model: dict[str, list[str]] = {}
    for pair in send:
        by_model.setdefault(pair.model, []).append(pair.task)
    return [JobSpec(p, model, tasks) for model, tasks in by_model.items()]


@sweep.command("plan")
@PLAN_ARG
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
def plan_cmd(plan_path: Path, fmt: str) -> None:
    """Show the pairs, what is complete in the store and what would be submitted."""
    p, expansion, t0 = _prepare(plan_path)
    states, send = to_submit(p, expansion)
    seconds = time.perf_counter() - t0
    if fmt == "json":
        click.echo(json.dumps({"pairs": [_row(s, s.pair in send) for s in states],
                               "skipped": [list(x) for x in expansion.skipped],
                               "jobs": len(job_specs(p, send)), "seconds": seconds}, indent=2))
        return
    for s in states:
        verdict = "complete" if s.state == "done" else (
            "submit" if s.pair in send else f"{s.state} (job {s.job})")
        click.echo(f"{s.pair.model}\t{s.pair.task}\t{verdict}")
    for model, task, why in expansion.skipped:
        click.echo(f"{model}\t{task}\tnot applicable ({why})")
    done = sum(s.state == "done" for s in states)
    click.echo(f"{len(states)} pairs: {done} complete, {len(send)} to submit in "
               f"{len(job_specs(p, send))} jobs, {len(states) - done - len(send)} in flight, "
               f"{len(expansion.skipped)} not applicable ({seconds:.2f} s)")


def _row(s: Any, send: bool) -> dict[str, Any]:
    return {"model": s.pair.model, "task": s.pair.task, "folder": str(s.pair.folder),
            "state": s.state, "job": s.job, "detail": s.detail, "submit": send}


@sweep.command("submit")
@PLAN_ARG
@click.option("--wait", is_flag=True, help="slurm: wait for the jobs, then print the "
              "leaderboard (local always waits).")
def submit_cmd(plan_path: Path, wait: bool) -> None:
    """Submit every incomplete pair of PLAN: one job per model, over its missing tasks."""
    from harness.sweep.executors import submit

    p, expansion, _ = _prepare(plan_path)
    _, send = to_submit(p, expansion)
    specs = job_specs(p, send)
    if not specs:
        click.echo(f"nothing to submit: {len(expansion.pairs)} pairs complete or in flight "
                   f"(harness sweep status {plan_path})")
        return
    click.echo(f"{len(send)} pairs in {len(specs)} jobs ({p.executor.kind})")
    submit(p, specs, wait=wait, echo=click.echo)
    if p.executor.kind == "local" or wait:
        states = _show_status(p, expansion)
        _leaderboard(p)
        if any(s.state != "done" for s in states):
            sys.exit(3)


@sweep.command("status")
@PLAN_ARG
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
def status_cmd(plan_path: Path, fmt: str) -> None:
    """Each pair: done, pending, queued, running, or failed with the reason."""
    from harness.sweep.status import statuses

    p, expansion, _ = _prepare(plan_path)
    if fmt == "json":
        click.echo(json.dumps([_row(s, False) for s in statuses(p, expansion.pairs)], indent=2))
        return
    _show_status(p, expansion)


def _show_status(p: Any, expansion: Any) -> list[Any]:
    from harness.sweep.status import statuses

    states = statuses(p, expansion.pairs)
    for s in states:
        job = f" job {s.job}" if s.job else ""
        detail = f": {s.detail}" if s.detail else ""
        click.echo(f"{s.pair.model}\t{s.pair.task}\t{s.state}{job}{detail}")
    counts: dict[str, int] = {}
    for s in states:
        counts[s.state] = counts.get(s.state, 0) + 1
    click.echo(", ".join(f"{n} {state}" for state, n in sorted(counts.items())))
    return states


def _leaderboard(p: Any) -> None:
    from harness.leaderboards.cli import print_leaderboard

    print_leaderboard(p.output, p.output / "leaderboards", console=None)


@hookimpl
def register_commands(cli: click.Group) -> None:
    cli.add_command(sweep)

"""The `harness` command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from harness import __version__
from harness.commands import HarnessGroup, console, registries
from harness.protocol.settings import DEFAULT_PROTOCOL, PROTOCOLS


def parse_pairs(option: str, pairs: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.UsageError(f"{option} expects KEY=VALUE, got {pair!r}")
        out[key.strip()] = value
    return out


@click.group(cls=HarnessGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="harness")
@click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Benchmark dermatology vision-language models (the MM-Skin protocols).

    \b
    harness list models|tasks|metrics|datasets
    harness run --model NAME --task NAME [--task NAME ...] [--protocol paper|sound]
    harness score --model NAME --task NAME
    harness demo
    """
    ctx.ensure_object(dict)["debug"] = debug


@cli.command("list")
@click.argument("what", type=click.Choice(["models", "tasks", "metrics", "datasets"]))
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="json: one object per item, every field, for scripts.")
@click.option("--verbose", "-v", is_flag=True,
              help="models and tasks: each one's options (-M / -T), types, defaults and help.")
def list_cmd(what: str, fmt: str, verbose: bool) -> None:
    """List what the installed plugins registered, and by whom (names never cut)."""
    from harness.listing import show

    show(registries(), what, fmt, terminal=sys.stdout.isatty(), verbose=verbose)


def run_options(f: Any) -> Any:
    options = [
        click.option("--model", "model", required=True, help="Model name (`harness list models`)."),
        click.option("--task", "tasks", multiple=True, required=True,
                     help="Task name or glob, e.g. zeroshot/* (repeatable)."),
        click.option("--data-root", type=click.Path(path_type=Path),
                     help="Folder holding the datasets, laid out as their publishers ship them."),
        click.option("--output", type=click.Path(path_type=Path), default=Path("results"),
                     show_default=True, help="Results folder."),
        click.option("--protocol", type=click.Choice(PROTOCOLS), default=DEFAULT_PROTOCOL,
                     show_default=True,
                     help="paper: the authors' released code's settings (decoding, answer "
                     "matching, precision, folds, image preprocessing, candidate lists), "
                     "comparable with the paper's tables; sound: the harness's alternatives. "
                     "Every setting: docs/fidelity.md."),
        click.option("-T", "--task-option", "task_options", multiple=True, metavar="KEY=VALUE",
                     help="Task option, e.g. -T decoding=greedy (repeatable)."),
        click.option("--allow-modified-splits", is_flag=True,
                     help="Read the paper's split files even where they differ from the pinned "
                     "SHA-256 (each is named in run.json)."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _help_model(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """--help-model NAME: the model's -M options (types, defaults, help), then exit."""
    if value is None or ctx.resilient_parsing:
        return
    from harness.listing import option_lines, option_records

    spec = registries().models.get(value)
    click.echo(f"{spec.name} ({spec.family or 'no family'}, plugin {spec.plugin}): "
               f"{spec.description}")
    click.echo(f"capabilities: {', '.join(sorted(spec.capabilities))}; "
               f"default checkpoint: {spec.checkpoint or '-'}")
    click.echo("\n".join(option_lines(option_records(spec.options), "-M", indent="")))
    ctx.exit(0)


@cli.command()
@run_options
@click.option("--help-model", metavar="NAME", callback=_help_model, expose_value=False,
              is_eager=True, help="Show the -M options model NAME takes, and exit.")
@click.option("--model-path", help="Local checkpoint folder or Hub id (overrides the default).")
@click.option("--name", help="File the results under this name instead of the model's "
              "(to compare several checkpoints of one plugin).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
              show_default=True)
@click.option("-M", "--model-option", "model_options", multiple=True, metavar="KEY=VALUE",
              help="Model option, e.g. -M dtype=bf16 (repeatable).")
@click.option("--batch-size", type=click.IntRange(min=1), help="Samples per model call.")
@click.option("--limit", type=click.IntRange(min=1), help="Evaluate only the first N samples.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--dry-run", is_flag=True, help="Show what would be asked; load no model.")
@click.option("--allow-download", is_flag=True,
              help="Let model plugins fetch weights from a hub (off: local files and the local "
              "Hugging Face cache only).")
@click.option("--min-coverage", type=click.FloatRange(0, 1), default=1.0, show_default=True,
              help="Exit 3 when a task answered less than this share of its samples.")
@click.option("--max-consecutive-failures", type=click.IntRange(min=0), default=20,
              show_default=True, help="Stop asking a task after this many failures in a row "
              "for one reason (0: never stop).")
def run(model: str, tasks: tuple[str, ...], data_root: Path | None, output: Path,
        protocol: str, task_options: tuple[str, ...], model_path: str | None, name: str | None,
        device: str,
        model_options: tuple[str, ...], batch_size: int | None, limit: int | None,
        seed: int, dry_run: bool, allow_modified_splits: bool, allow_download: bool,
        min_coverage: float, max_consecutive_failures: int) -> None:
    """Evaluate one model on one or more tasks (resumes where a previous run stopped).

    Exit status: 0 done; 1 an error; 2 a usage error; 3 a task answered less than
    --min-coverage of its samples (the reasons are listed). See docs/exit-codes.md.
    """
    from harness.runner import RunOptions
    from harness.runner import run as run_tasks

    if data_root is not None and not data_root.is_dir():
        raise click.BadParameter(f"{data_root} is not a folder", param_hint="--data-root")
    if name is not None and not name.strip(" ./"):
        raise click.BadParameter("give a non-empty name", param_hint="--name")
    check_output(output)
    opts = RunOptions(
        model=model, tasks=tasks, output=output, data_root=data_root, model_path=model_path,
        name=name,
        device=device, model_options=parse_pairs("-M", model_options),
        task_options=parse_pairs("-T", task_options), batch_size=batch_size, limit=limit,
        seed=seed, dry_run=dry_run, protocol=protocol, allow_download=allow_download,
        min_coverage=min_coverage, max_consecutive_failures=max_consecutive_failures,
        allow_modified_splits=allow_modified_splits,
    )
    con = console()
    outcomes = run_tasks(registries(), opts, console=con)
    if not dry_run:
        print_outcomes(con, outcomes)
        finish(con, outcomes, min_coverage)


def check_output(output: Path) -> None:
    """--output must be a folder this process can write (or one it can create)."""
    import os

    existing = output
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise click.BadParameter(f"{existing} is a file, not a folder", param_hint="--output")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise click.BadParameter(f"{existing} is not writable by this user",
                                 param_hint="--output")


def finish(con: Any, outcomes: list[Any], min_coverage: float) -> None:
    """The failures grouped by reason, and exit 3 if a task fell short of --min-coverage."""
    from harness.failures import summary_lines

    short = []
    for o in outcomes:
        m = o.metrics
        if m is None:
            continue
        if m.failure_summary or m.missing:
            for line in summary_lines(o.task, m.n, m.failure_summary, m.missing):
                con.print(line, markup=False, highlight=False, soft_wrap=True)
        for warning in m.warnings:
            con.print(f"warning: {o.task}: {warning}", markup=False, highlight=False,
                      soft_wrap=True)
        if m.coverage < min_coverage:
            short.append(f"{o.task} answered {m.answered} of {m.n} "
                         f"({100 * m.coverage:.1f}% < {100 * min_coverage:g}%)")
        short += judged_shortfalls(con, o.task, m, min_coverage)
    if short:
        con.print("incomplete: " + "; ".join(short) + ". Rerun the same command to retry "
                  "the failed samples (answered ones are kept); --min-coverage sets the bar.",
                  markup=False, highlight=False, soft_wrap=True)
        sys.exit(3)


def judged_shortfalls(con: Any, task: str, m: Any, min_coverage: float) -> list[str]:
    """Judged scores count like answers: their failures are listed, and a judged coverage
    below --min-coverage makes the run incomplete (exit 3)."""
    from harness.failures import summary_lines
    from harness.results import FailureGroup

    short = []
    for key, entry in (m.scores.extras.get("judge") or {}).items():
        groups = [FailureGroup.model_validate(g) for g in entry.get("failure_summary", [])]
        if groups:
            for line in summary_lines(f"{task} [{key}]", m.n, groups):
                con.print(line, markup=False, highlight=False, soft_wrap=True)
        tokens = entry.get("tokens") or {}
        if tokens:
            cost = entry.get("cost_usd")
            con.print(f"{task} [{key}]: {entry['judged']}/{m.n} judged; "
                      f"{entry['calls']['asked']} judge calls now, "
                      f"{entry['calls']['stored']} stored; tokens "
                      + ", ".join(f"{k}={v:g}" for k, v in sorted(tokens.items()))
                      + (f"; cost ${cost:.4f}" if cost is not None else ""),
                      markup=False, highlight=False, soft_wrap=True)
        if entry["coverage"] < min_coverage:
            short.append(f"{task} judged {entry['judged']} of {m.n} with {key} "
                         f"({100 * entry['coverage']:.1f}% < {100 * min_coverage:g}%)")
    return short


@cli.command()
@run_options
def score(model: str, tasks: tuple[str, ...], data_root: Path | None, output: Path,
          protocol: str, task_options: tuple[str, ...], allow_modified_splits: bool) -> None:
    """Re-score stored predictions without loading the model."""
    from harness.runner import RunOptions, rescore

    opts = RunOptions(model=model, tasks=tasks, output=output, data_root=data_root,
                      task_options=parse_pairs("-T", task_options), protocol=protocol,
                      allow_modified_splits=allow_modified_splits)
    con = console()
    outcomes = rescore(registries(), opts, console=con)
    print_outcomes(con, outcomes)
    finish(con, outcomes, 0.0)


def print_outcomes(con: Any, outcomes: list[Any]) -> None:
    for o in outcomes:
        m = o.metrics
        if m is None:
            continue
        headline = ", ".join(f"{k}={v:.4f}" for k, v in list(m.scores.overall.items())[:4]
                             if isinstance(v, int | float))
        con.print(
            f"[bold]{o.task}[/]: {m.answered}/{m.n} answered "
            f"({o.cached} stored, {o.asked} asked, {o.failed} failed) {headline} -> {o.folder}"
        )
        skipped = (m.data or {}).get("skipped", 0)
        if skipped:
            con.print(f"[yellow]warning[/]: {skipped} dataset rows were skipped; "
                      f"each is listed in {o.folder / 'run.json'} (data.skipped_rows)")


def _attach_plugin_commands() -> None:
    """Sub-commands come from plugins (built-in ones too) through ``register_commands``."""
    from harness.plugin_manager import attach_commands, get_plugin_manager

    pm, _ = get_plugin_manager()
    for line in attach_commands(pm, cli):
        click.echo(f"warning: {line}", err=True)


_attach_plugin_commands()


def main() -> None:
    cli(prog_name="harness")


if __name__ == "__main__":
    main()

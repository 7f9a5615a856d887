"""The `harness` command line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from harness import __version__
from harness.commands import HarnessGroup, console, registries


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
    harness run --model NAME --task NAME [--task NAME ...]
    harness score --model NAME --task NAME
    harness demo
    """
    ctx.ensure_object(dict)["debug"] = debug


@cli.command("list")
@click.argument("what", type=click.Choice(["models", "tasks", "metrics", "datasets"]))
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="json: one object per item, every field, for scripts.")
def list_cmd(what: str, fmt: str) -> None:
    """List what the installed plugins registered, and by whom (names never cut)."""
    import sys

    from harness.listing import show

    show(registries(), what, fmt, terminal=sys.stdout.isatty())


def run_options(f: Any) -> Any:
    options = [
        click.option("--model", "model", required=True, help="Model name (`harness list models`)."),
        click.option("--task", "tasks", multiple=True, required=True,
                     help="Task name or glob, e.g. zeroshot/* (repeatable)."),
        click.option("--data-root", type=click.Path(path_type=Path),
                     help="Folder holding the datasets, laid out as their publishers ship them."),
        click.option("--output", type=click.Path(path_type=Path), default=Path("results"),
                     show_default=True, help="Results folder."),
        click.option("-T", "--task-option", "task_options", multiple=True, metavar="KEY=VALUE",
                     help="Task option, e.g. -T decoding=paper (repeatable)."),
        click.option("--allow-modified-splits", is_flag=True,
                     help="Read the paper's split files even where they differ from the pinned "
                     "SHA-256 (each is named in run.json)."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


@cli.command()
@run_options
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
def run(model: str, tasks: tuple[str, ...], data_root: Path | None, output: Path,
        task_options: tuple[str, ...], model_path: str | None, name: str | None, device: str,
        model_options: tuple[str, ...], batch_size: int | None, limit: int | None,
        seed: int, dry_run: bool, allow_modified_splits: bool) -> None:
    """Evaluate one model on one or more tasks (resumes where a previous run stopped)."""
    from harness.runner import RunOptions
    from harness.runner import run as run_tasks

    if data_root is not None and not data_root.is_dir():
        raise click.BadParameter(f"{data_root} is not a folder", param_hint="--data-root")
    if name is not None and not name.strip(" ./"):
        raise click.BadParameter("give a non-empty name", param_hint="--name")
    opts = RunOptions(
        model=model, tasks=tasks, output=output, data_root=data_root, model_path=model_path,
        name=name,
        device=device, model_options=parse_pairs("-M", model_options),
        task_options=parse_pairs("-T", task_options), batch_size=batch_size, limit=limit,
        seed=seed, dry_run=dry_run, allow_modified_splits=allow_modified_splits,
    )
    con = console()
    outcomes = run_tasks(registries(), opts, console=con)
    if not dry_run:
        print_outcomes(con, outcomes)


@cli.command()
@run_options
def score(model: str, tasks: tuple[str, ...], data_root: Path | None, output: Path,
          task_options: tuple[str, ...], allow_modified_splits: bool) -> None:
    """Re-score stored predictions without loading the model."""
    from harness.runner import RunOptions, rescore

    opts = RunOptions(model=model, tasks=tasks, output=output, data_root=data_root,
                      task_options=parse_pairs("-T", task_options),
                      allow_modified_splits=allow_modified_splits)
    con = console()
    print_outcomes(con, rescore(registries(), opts))


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

"""`harness leaderboard`: regenerate the Markdown leaderboards from a results folder."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from harness import hookimpl

DEFAULT_OUT = Path("leaderboards")


@click.command("leaderboard")
@click.option("--results", type=click.Path(path_type=Path), default=Path("results"),
              show_default=True, help="Results folder to read (every metrics.json under it).")
@click.option("--out", type=click.Path(path_type=Path), default=DEFAULT_OUT, show_default=True,
              help="Folder the Markdown (and figures/) are written to.")
@click.option("--check", is_flag=True,
              help="Write nothing; exit 1 if the Markdown on disk is not what the results give.")
@click.option("--diff/--no-diff", default=True, show_default=True,
              help="With --check, print the difference.")
def leaderboard(results: Path, out: Path, check: bool, diff: bool) -> None:
    """Regenerate leaderboards/*.md (the paper's Tables 3, 4, 5 layout) from results."""
    from harness.leaderboards import build

    if not results.is_dir():
        raise click.BadParameter(f"{results} is not a folder", param_hint="--results")
    if check:
        outcome = build.check(results, out)
        for line in outcome.problems:
            click.echo(f"warning: skipped {line}", err=True)
        if outcome.stale:
            for line in outcome.stale:
                click.echo(f"out of date: {line}", err=True)
            if diff and outcome.diff:
                click.echo(outcome.diff, err=True)
            click.echo(f"run `harness leaderboard --results {results} --out {out}` to update",
                       err=True)
            sys.exit(1)
        click.echo(f"{out}: up to date with {results}")
        return
    print_leaderboard(results, out, console=None)


def print_leaderboard(results: Path, out: Path, console: Any = None) -> None:
    """Regenerate the leaderboards in ``out`` and print the overview and the files written.

    The function `make demo` (or `harness demo`) can call at its end.
    """
    from harness.leaderboards import build
    from harness.leaderboards.summary import print_summary

    outcome = build.write(results, out)
    for line in outcome.problems:
        click.echo(f"warning: skipped {line}", err=True)
    print_summary(results, console)
    for path in outcome.removed:
        click.echo(f"removed {path} (no longer produced)")
    click.echo("wrote " + ", ".join(str(p) for p in outcome.written if p.suffix == ".md"))
    figures = [p for p in outcome.written if p.suffix == ".png"]
    if figures:
        click.echo(f"and {len(figures)} figures in {out / 'figures'}")


@hookimpl
def register_commands(cli: click.Group) -> None:
    cli.add_command(leaderboard, name="leaderboard")

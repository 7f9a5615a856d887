"""`harness leaderboard`: regenerate the Markdown leaderboards from a results folder."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from harness import hookimpl
from harness.errors import DataError

# Beside the results it is made from, relative to the current folder as --results is: never
# the installed package's folder (harness/leaderboards), which a plain "leaderboards" was when
# run from a checkout.
OUT_IN_RESULTS = "leaderboards"


@click.command("leaderboard")
@click.option("--results", type=click.Path(path_type=Path), default=Path("results"),
              show_default=True, help="Results folder to read (every metrics.json under it).")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help=f"Folder the Markdown (and figures/) are written to [default: "
              f"RESULTS/{OUT_IN_RESULTS}].")
@click.option("--check", is_flag=True,
              help="Write nothing; exit 1 if the Markdown on disk is not what the results give.")
@click.option("--diff/--no-diff", default=True, show_default=True,
              help="With --check, print the difference.")
@click.option("--skip-unreadable", is_flag=True,
              help="Write the tables without results files that cannot be read (each is named "
              "in overview.md) instead of leaving the last good tables in place.")
def leaderboard(results: Path, out: Path | None, check: bool, diff: bool,
                skip_unreadable: bool) -> None:
    """Regenerate the Markdown leaderboards (the paper's Tables 3, 4, 5 layout) from results."""
    from harness.leaderboards import build

    if not results.is_dir():
        raise click.BadParameter(f"{results} is not a folder", param_hint="--results")
    out = out if out is not None else results / OUT_IN_RESULTS
    if check:
        outcome = build.check(results, out)
        refuse_unreadable(results, outcome.problems, skip_unreadable, f"{out} was not checked")
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
    print_leaderboard(results, out, console=None, skip_unreadable=skip_unreadable)


def refuse_unreadable(results: Path, problems: list[str], skip: bool, consequence: str) -> None:
    """Name each unreadable results file; unless ``skip``, stop with exit 1 (DataError)."""
    for line in problems:
        click.echo(f"{'warning: skipped' if skip else 'error:'} {results}/{line}", err=True)
    if problems and not skip:
        raise DataError(
            f"{len(problems)} results file(s) could not be read, so {consequence} (a table "
            "without them would lose their rows unnoticed): fix or remove them, or pass "
            "--skip-unreadable to leave them out"
        )


def print_leaderboard(results: Path, out: Path, console: Any = None,
                      caption: str | None = None, skip_unreadable: bool = False) -> None:
    """Regenerate the leaderboards in ``out`` and print the overview and the files written.

    The function `make demo` (or `harness demo`) calls at its end, with a ``caption``
    printed under the table.
    """
    from harness.leaderboards import build
    from harness.leaderboards.summary import print_summary

    outcome = build.write(results, out, skip_unreadable=skip_unreadable)
    refuse_unreadable(results, outcome.problems, skip_unreadable,
                      f"nothing in {out} was written or removed")
    print_summary(results, console)
    if caption:
        click.echo(caption)
    for path in outcome.removed:
        click.echo(f"removed {path} (no longer produced)")
    click.echo("wrote " + ", ".join(str(p) for p in outcome.written if p.suffix == ".md"))
    figures = [p for p in outcome.written if p.suffix == ".png"]
    if figures:
        click.echo(f"and {len(figures)} figures in {out / 'figures'}")


@hookimpl
def register_commands(cli: click.Group) -> None:
    cli.add_command(leaderboard, name="leaderboard")

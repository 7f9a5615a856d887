"""`harness report`: the results as a static site that opens offline (and Hub YAML)."""

from __future__ import annotations

from pathlib import Path

import click

from harness import hookimpl
from harness.errors import DataError

OUT_IN_RESULTS = "report"  # beside the results it is made from, as the leaderboard's folder


@click.command("report")
@click.option("--results", type=click.Path(path_type=Path), default=Path("results"),
              show_default=True, help="Results folder to read (every metrics.json under it).")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help=f"Folder the site is written to [default: RESULTS/{OUT_IN_RESULTS}].")
@click.option("--format", "formats", type=click.Choice(["html", "hf"]), multiple=True,
              default=("html",), show_default=True,
              help="html: the site; hf: also the Hugging Face Hub's .eval_results YAML per "
              "model and a model-card snippet, in OUT/hf/ (repeat for both; hf implies html).")
@click.option("--skip-unreadable", is_flag=True,
              help="Write the report without results files that cannot be read (each is named "
              "on the leaderboard page) instead of leaving the last report in place.")
@click.option("--hf-dataset", "hf_datasets", multiple=True, metavar="TASK=OWNER/NAME[:TASK_ID]",
              help="The Hub benchmark dataset (and its eval.yaml task id) a task's results "
              "are filed under in .eval_results (repeatable).")
def report(results: Path, out: Path | None, formats: tuple[str, ...], skip_unreadable: bool,
           hf_datasets: tuple[str, ...]) -> None:
    """Write a self-contained site of the results: leaderboard, per-task scores and a sample
    browser with filters and a two-model view. No request leaves the machine when it is
    opened, so it can be zipped and sent."""
    from harness.leaderboards.cli import refuse_unreadable
    from harness.leaderboards.collect import collect
    from harness.report import hf, site

    if not results.is_dir():
        raise click.BadParameter(f"{results} is not a folder", param_hint="--results")
    try:
        datasets = hf.parse_datasets(hf_datasets)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--hf-dataset") from None
    out = out if out is not None else results / OUT_IN_RESULTS
    runs, problems = collect(results)  # decided before anything is written
    refuse_unreadable(results, problems, skip_unreadable, f"nothing in {out} was written")
    if not runs:
        raise DataError(f"no results found under {results}: the report would be empty "
                        "(run `harness run` or `harness demo` first)")
    written = site.write(results, out)
    for task in written.tasks:
        for note in task.notes:
            click.echo(f"note: {task.task}: {note}", err=True)
    if "hf" in formats:
        outcome = hf.write(runs, out / "hf", datasets)
        for task in outcome.unmapped:
            click.echo(f"note: {task} has no Hub benchmark id (pass --hf-dataset "
                       f"{task}=OWNER/NAME before pushing its .eval_results)", err=True)
        click.echo(f"wrote {len(outcome.written)} Hub files in {out / 'hf'}")
    click.echo(f"wrote {written.index}")


@hookimpl
def register_commands(cli: click.Group) -> None:
    cli.add_command(report, name="report")

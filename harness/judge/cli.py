"""``harness judge agreement``: how far two judges, or a judge and people, agree."""

from __future__ import annotations

from pathlib import Path

import click

from harness import hookimpl


@click.group("judge")
def judge_group() -> None:
    """Judged scores: agreement between judges and with human ratings."""


@judge_group.command("agreement")
@click.argument("folders", nargs=-1, required=True,
                type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--human", "human", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="CSV of human ratings: sample_id, rater, score (a header row names them).")
@click.option("--bootstrap", type=click.IntRange(min=0), default=1000, show_default=True,
              help="Resamples of the samples for the 95% intervals (0: none).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
def agreement_cmd(folders: tuple[Path, ...], human: Path | None, bootstrap: int, seed: int,
                  fmt: str) -> None:
    """Agreement of every judged score stored in FOLDERS (results folders holding
    metrics.json): judge with judge on the same answers (Cohen's kappa for verdicts, Spearman
    for scores), judge with each text metric, and with --human, judge with people and people
    with each other. Each figure has a bootstrap 95% interval over samples."""
    import json

    from harness.judge.agreement import collect, compare, per_sample_scores, render, split_judged

    # judgements.jsonl holds every judge that ever judged here, but one line per distinct
    # call: answers that are one text share it. samples.jsonl has the scored judge for each
    # sample, so its series stand where both have one.
    judged, text = split_judged(per_sample_scores(folders))
    series = {**collect(folders), **judged}
    rows = compare(series, human, bootstrap=bootstrap, seed=seed, text=text)
    if fmt == "json":
        click.echo(json.dumps([r.__dict__ for r in rows], indent=2))
    else:
        click.echo(render(rows))


@hookimpl
def register_commands(cli: click.Group) -> None:
    cli.add_command(judge_group)

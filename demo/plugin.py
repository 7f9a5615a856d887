"""The demo as a plugin: its datasets through the dataset hook, `harness demo` through the
command hook."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from harness import hookimpl
from harness.demo import data
from harness.specs import DatasetSpec


def _load_classification(data_root: Path | None, split: str) -> list[Any]:
    return data.classification_samples(split)


def _load_vqa(data_root: Path | None, split: str) -> list[Any]:
    return data.vqa_samples(split)


def _load_caption(data_root: Path | None, split: str) -> list[Any]:
    samples = data.classification_samples(split)
    for s in samples:
        s.dataset = "demo-caption"
        s.question = "Describe the image."
        s.answer = s.meta["caption"]
    return samples


@hookimpl
def register_datasets(register: Callable[[DatasetSpec], None]) -> None:
    common = {"modality": "mixed", "needs_data_root": False}
    register(
        DatasetSpec(
            name="demo",
            load=_load_classification,
            classes=data.CLASSES,
            splits=("train", "val", "test"),
            description="synthetic dermatology-like images with known diagnoses (no download)",
            **common,
        )
    )
    register(
        DatasetSpec(
            name="demo-vqa",
            load=_load_vqa,
            splits=("train", "test"),
            description="question/answer pairs about the demo images' attributes",
            **common,
        )
    )
    register(
        DatasetSpec(
            name="demo-caption",
            load=_load_caption,
            splits=("train", "val", "test"),
            description="captions of the demo images",
            **common,
        )
    )


@click.command("demo")
@click.option("--output", type=click.Path(path_type=Path), default=Path("results"),
              show_default=True, help="Results folder.")
@click.option("--train", is_flag=True,
              help="Also train a tiny SkinVL on the demo data (a few CPU minutes) and "
              "evaluate it beside its untrained base.")
def demo(output: Path, train: bool) -> None:
    """Run every built-in baseline on the three demo tasks and print a leaderboard.

    Needs no download, no GPU and no model weights.
    """
    from harness.commands import console, registries
    from harness.demo.run import run_demo

    run_demo(registries(), output, console(), train=train)


@hookimpl
def register_commands(cli: click.Group) -> None:
    cli.add_command(demo)

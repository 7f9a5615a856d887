"""Registers the demo datasets through the ordinary dataset hook."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

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

"""Registers the public datasets and MM-Skin through the ordinary dataset hook."""

from __future__ import annotations

from collections.abc import Callable

from harness import hookimpl
from harness.datasets import adapters
from harness.specs import DatasetSpec

# name prefix -> description of the public benchmarks' adapters
BENCHMARKS = {
    "dermavqa": "DermaVQA (MEDIQA-M3G 2024) encounters: query, images, weighted references",
    "mediqa-m": "MEDIQA-MAGIC 2025 closed questions over the DermaVQA iiyi encounters",
}


@hookimpl
def register_datasets(register: Callable[[DatasetSpec], None]) -> None:
    for a in adapters():
        if a.name.startswith("mm-skin"):
            caption = a.name == "mm-skin-caption"
            register(DatasetSpec(
                name=a.name, load=a.load, modality="mixed", splits=("train", "test"),
                aliases=("mmskin-caption",) if caption else ("mmskin",),
                description=("MM-Skin-C captions (question 'Describe the image.')" if caption
                             else "MM-Skin-O open-ended QA pairs, per modality"),
                extra={"adapter": a, "modalities": ("clinical", "dermoscopy", "pathology")},
            ))
            continue
        if a.name.startswith(tuple(BENCHMARKS)):  # the challenges' encounters: no class vocabulary
            register(DatasetSpec(name=a.name, load=a.load, modality="clinical", splits=a.splits,
                                 aliases=a.aliases, description=BENCHMARKS[a.name[:8]],
                                 extra={"adapter": a}))
            continue
        extra = {"adapter": a, "classes_source": a.classes_source, "manifest": a.manifest,
                 **a.extra}
        if a.group_key:
            extra["group_key"] = a.group_key
        register(DatasetSpec(
            name=a.name, load=a.load, modality=a.modality, classes=a.classes, splits=a.splits,
            aliases=a.aliases, description=a.description, extra=extra,
        ))

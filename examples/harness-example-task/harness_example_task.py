"""A new task kind, ``yesno``: a yes/no question about each image, scored by accuracy.

The kind is a Task class plus a ``TaskKind`` record (its options, capability, headline
metric and leaderboard columns); each task of the kind is then a one-statement
``TaskSpec`` declaration naming a dataset and the question. ``yesno/demo-malignant`` asks
whether each lesion of the built-in demo set is malignant.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import Field

from harness import hookimpl
from harness.options import Options
from harness.results import MetricInfo, Scores
from harness.specs import TaskContext, TaskKind, TaskSpec
from harness.task import Task
from harness.tasks.common import DataReport, load_split
from harness.types import Decoding, Prediction, Request, Sample

ANSWERS = ("yes", "no")
WORD = re.compile(r"\b(yes|no)\b", re.IGNORECASE)


class YesNoOptions(Options):
    """The ``-T`` options of every yes/no task."""

    split: str | None = Field(None, description="the dataset split to ask; default: the task's")
    max_new_tokens: int = Field(16, ge=1, description="longest answer in tokens")


class YesNoTask(Task):
    """Asks ``spec.prompt`` about each image; the truth is "yes" when the sample's label is one
    of ``spec.params["yes"]``."""

    capability = "generate"

    def __init__(self, spec: TaskSpec, context: TaskContext, options: YesNoOptions) -> None:
        super().__init__(spec, context, options)
        self.split = options.split or spec.split
        self.yes = frozenset(spec.params.get("yes", ()))
        self.decoding = Decoding(max_new_tokens=options.max_new_tokens)

    def config(self) -> dict[str, Any]:  # what shapes the requests: its hash is the fingerprint
        return {"name": self.name, "dataset": self.dataset, "split": self.split,
                "prompt": self.task_spec.prompt, "yes": sorted(self.yes),
                "decoding": self.decoding.to_dict()}

    def load_samples(self, data_root: Path | None) -> list[Sample]:
        self.data_report = DataReport()
        return load_split(self.dataset_spec(), data_root, self.split, self.data_report)

    def build_request(self, sample: Sample) -> Request:
        return Request(sample_id=sample.id, prompt=str(self.task_spec.prompt),
                       images=(sample.image,) if sample.image else (), decoding=self.decoding,
                       choices=ANSWERS)

    def postprocess(self, sample: Sample, output: Any) -> dict[str, Any]:
        found = WORD.search(str(output))
        return {"answer": found.group(1).lower() if found else None}

    def score(self, samples: Sequence[Sample], predictions: dict[str, Prediction]) -> Scores:
        answered = [s for s in samples if s.id in predictions]
        said = [self.postprocess(s, predictions[s.id].output)["answer"] for s in answered]
        truth = ["yes" if s.label in self.yes else "no" for s in answered]
        n = len(answered)
        accuracy = sum(a == t for a, t in zip(said, truth, strict=True)) / n if n else None
        yes_rate = sum(a == "yes" for a in said) / n if n else None
        return Scores(
            n=n, overall={"accuracy": accuracy, "yes_rate": yes_rate},
            metrics={"accuracy": MetricInfo(description="share of answers equal to the truth"),
                     "yes_rate": MetricInfo(description="share of answers that say yes")},
            extras={"unparsed": sum(a is None for a in said)})


KIND = TaskKind(name="yesno", factory=YesNoTask, options=YesNoOptions, capability="generate",
                headline="accuracy", layout="table", title="Yes/no questions",
                columns=(("accuracy", "ACC"), ("yes_rate", "says yes")),
                description="a yes/no question about each image")


@hookimpl
def register_task_kinds(register: Callable[[TaskKind], None]) -> None:
    register(KIND)


@hookimpl
def register_tasks(register: Callable[[TaskSpec], None]) -> None:
    register(TaskSpec(name="yesno/demo-malignant", kind="yesno", dataset="demo",
                      prompt="Is this skin lesion malignant? Answer yes or no.",
                      params={"yes": ("Melanoma", "Basal Cell Carcinoma")},
                      description="is the demo set's lesion malignant?"))

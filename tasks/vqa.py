"""Open-ended VQA and image description (the paper's MM-Skin-O and MM-Skin-C protocols).

Question + image go to the model; the free-text answer is scored against the
reference with the registered VQA metrics, overall and per imaging modality.
Decoding follows the protocol: ``paper`` samples as the authors' VQA_test.py does
(temperature 0.2, top-p 0.9, 5 beams, 20-256 new tokens), ``sound`` is greedy;
``-T decoding=greedy|paper`` overrides it, and the run records which was used.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import Field, NonNegativeInt, PositiveInt

from harness import hookimpl
from harness.options import Options
from harness.protocol import DEFAULT_PROTOCOL
from harness.specs import TaskContext, TaskSpec
from harness.task import Task
from harness.tasks.common import (
    GROUP_FIELDS,
    DataReport,
    decoding_for,
    decoding_variant,
    group_fields,
    load_split,
    task_protocol,
)
from harness.types import Prediction, Request, Sample

CAPTION_INSTRUCTION = "Describe the image."
PROMPT_VERSION = 1


class VqaOptions(Options):
    """The ``-T`` options of the VQA and captioning tasks."""

    split: str = Field("test", description="the dataset split to evaluate")
    decoding: str | None = Field(
        None, description="decoding preset (greedy, paper, ...); default: the protocol's")
    max_new_tokens: PositiveInt | None = Field(
        None, description="longest answer in tokens; default: the preset's")
    metrics: str | None = Field(
        None, description="comma-separated metric names; default: the paper's five (a subset "
        "is a partial result, written beside the complete one)")
    bertscore_model: str | None = Field(
        None, description="folder of bert-base-uncased for the paper's BERTScore")
    bootstrap: NonNegativeInt = Field(
        1000, description="bootstrap resamples for the 95% intervals (0: no intervals)")


class VqaTask(Task):
    capability = "generate"

    def __init__(
        self,
        name: str,
        dataset: str,
        kind: str = "vqa",
        protocol: str = DEFAULT_PROTOCOL,
        split: str = "test",
        decoding: str | None = None,
        max_new_tokens: int | None = None,
        metrics: str | None = None,
        bertscore_model: str | None = None,
        bootstrap: int = 1000,
        context: TaskContext | None = None,
    ) -> None:
        self.name, self.dataset, self.kind, self.split = name, dataset, kind, split
        self.context = context
        self.protocol = task_protocol(name, protocol)
        self.decoding = decoding_for(name, "vqa", self.protocol, decoding, max_new_tokens)
        self.metric_names = metrics.split(",") if metrics else None
        self.bertscore_model = bertscore_model
        self.bootstrap = int(bootstrap)

    def metrics(self) -> list[str]:
        if self.metric_names is not None:
            return self.metric_names
        from harness.metrics import default_vqa_metrics

        return default_vqa_metrics(self.bertscore_model)

    def metric_subset(self) -> list[str] | None:
        if self.metric_names is None:
            return None
        from harness.metrics import default_vqa_metrics

        default = default_vqa_metrics(self.bertscore_model)
        return None if set(default) <= set(self.metric_names) else list(self.metric_names)

    def config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "dataset": self.dataset,
            "split": self.split,
            "protocol": self.protocol,
            "decoding": self.decoding.to_dict(),
            "instruction": CAPTION_INSTRUCTION if self.kind == "caption" else None,
            "prompt_version": PROMPT_VERSION,
        }

    def variant(self) -> str:
        parts = [] if self.split == "test" else [f"split={self.split}"]
        parts += decoding_variant(self.name, "vqa", self.protocol, self.decoding)
        return ",".join(parts)

    def scoring_config(self) -> dict[str, Any]:
        return {"metrics": self.metrics(), "bertscore_model": self.bertscore_model,
                "bootstrap": self.bootstrap}

    def load_samples(self, data_root: Path | None) -> list[Sample]:
        self.data_report = DataReport()
        return load_split(self.dataset_spec(), data_root, self.split, self.data_report)

    def build_request(self, sample: Sample) -> Request:
        prompt = CAPTION_INSTRUCTION if self.kind == "caption" else (sample.question or "")
        images = (sample.image,) if sample.image is not None else ()
        return Request(sample_id=sample.id, prompt=prompt, images=images, decoding=self.decoding)

    def score(
        self, samples: Sequence[Sample], predictions: dict[str, Prediction]
    ) -> dict[str, Any]:
        from harness.metrics import score_text

        answered = [s for s in samples if s.id in predictions]
        # A stored null output (no error) is an empty answer, counted below, never "None".
        outputs = ["" if predictions[s.id].output is None else str(predictions[s.id].output)
                   for s in answered]
        result = score_text(
            outputs,
            [s.answer or "" for s in answered],
            self.metrics(),
            groups=group_fields(answered, GROUP_FIELDS, always=("modality",)),
            bootstrap=self.bootstrap,
            strata=[s.modality or "unknown" for s in answered],
            options={"bertscore_model": self.bertscore_model} if self.bertscore_model else None,
            registry=self.metric_registry(),
            per_sample=True,
        )
        # Each pair's own scores, for samples.jsonl (harness.samples); not kept in metrics.json.
        result["per_sample"] = {"ids": [s.id for s in answered],
                                "scores": result.pop("per_sample", {})}
        result["empty_answers"] = sum(1 for o in outputs if not o.strip())
        if result["empty_answers"]:
            result.setdefault("notes", []).append(
                f"{result['empty_answers']} answers were empty (or null) and scored as empty "
                "strings")
        unknown = sum(1 for s in answered if s.modality is None)
        if unknown:
            result.setdefault("notes", []).append(
                f"modality unknown for {unknown} of {len(answered)} samples: they are scored "
                "overall and under modality 'unknown' (give MM-Skin/modality.csv to split them)"
            )
        result["scoring"] = self.scoring_config()
        return result


def make(spec: TaskSpec, context: TaskContext, options: VqaOptions) -> VqaTask:
    return VqaTask(spec.name, spec.dataset, kind=spec.kind, protocol=context.protocol,
                   context=context, **options.model_dump())


TASKS = (
    ("vqa/mm-skin", "mm-skin", "vqa", "MM-Skin-O open-ended VQA (5,452 test pairs)"),
    ("caption/mm-skin", "mm-skin-caption", "caption", "MM-Skin-C image description"),
    ("vqa/demo", "demo-vqa", "vqa", "open-ended VQA on the built-in synthetic demo set"),
    ("caption/demo", "demo-caption", "caption", "image description on the demo set"),
)


@hookimpl
def register_tasks(register: Callable[[TaskSpec], None]) -> None:
    for name, dataset, kind, description in TASKS:
        register(TaskSpec(name=name, factory=make, kind=kind, dataset=dataset,
                          capability="generate", description=description, options=VqaOptions))

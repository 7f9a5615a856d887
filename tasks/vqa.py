"""Open-ended VQA and image description (the paper's MM-Skin-O and MM-Skin-C protocols).

Question + image go to the model; the free-text answer is scored against the
reference with the registered VQA metrics, overall and per imaging modality.
Decoding follows the protocol: ``paper`` samples as the authors' VQA_test.py does
(temperature 0.2, top-p 0.9, 5 beams, 20-256 new tokens), ``sound`` is greedy;
``-T decoding=greedy|paper`` overrides it, and the run records which was used.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import Field, NonNegativeInt, PositiveInt

from harness import hookimpl
from harness.judge.config import JudgeConfig, JudgeOptions
from harness.specs import TaskContext, TaskKind, TaskSpec
from harness.task import Task
from harness.tasks.common import (
    GROUP_FIELDS,
    DataReport,
    DecodingName,
    decoding_for,
    decoding_variant,
    group_fields,
    load_split,
    with_data,
)
from harness.types import Prediction, Request, Sample

CAPTION_INSTRUCTION = "Describe the image."
PROMPT_VERSION = 1


class VqaOptions(JudgeOptions):
    """The ``-T`` options of the VQA and captioning tasks."""

    split: str | None = Field(None, description="the dataset split to evaluate; default: the "
                              "task's (test)")
    decoding: DecodingName | None = Field(
        None, description="decoding preset (greedy, paper, ...); default: the protocol's")
    max_new_tokens: PositiveInt | None = Field(
        None, description="longest answer in tokens; default: the preset's")
    metrics: str | None = Field(
        None, description="comma-separated metric names; default: the task's (the paper's "
        "five; a subset is a partial result, written beside the complete one)")
    bertscore_model: str | None = Field(
        None, description="folder of bert-base-uncased for the paper's BERTScore")
    bootstrap: NonNegativeInt = Field(
        1000, description="bootstrap resamples for the 95% intervals (0: no intervals)")


class VqaTask(Task):
    """Free-text answers to a question (``vqa``) or a fixed instruction (``caption``) about an
    image, scored against the reference answer with text metrics."""

    capability = "generate"

    def __init__(self, spec: TaskSpec, context: TaskContext, options: VqaOptions) -> None:
        super().__init__(spec, context, options)
        self.split = options.split or spec.split
        self.decoding = decoding_for("vqa", self.protocol, options.decoding,
                                     options.max_new_tokens)
        self.metric_names = options.metrics.split(",") if options.metrics else None
        self.bertscore_model = options.bertscore_model
        self.bootstrap = options.bootstrap
        # A caption task's fixed instruction; a VQA task asks each sample's own question.
        self.instruction = spec.prompt or (CAPTION_INSTRUCTION if self.kind == "caption"
                                           else None)
        self.judge = JudgeConfig.for_task(spec, options, context)

    def default_metrics(self) -> list[str]:
        if self.task_spec.metrics:
            return list(self.task_spec.metrics)
        from harness.metrics import default_vqa_metrics

        return default_vqa_metrics(self.bertscore_model)

    def metrics(self) -> list[str]:
        return self.metric_names if self.metric_names is not None else self.default_metrics()

    def metric_subset(self) -> list[str] | None:
        if self.metric_names is None:
            return None
        default = self.default_metrics()
        return None if set(default) <= set(self.metric_names) else list(self.metric_names)

    def config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "dataset": self.dataset,
            "split": self.split,
            "protocol": self.protocol,
            "decoding": self.decoding.to_dict(),
            "instruction": self.instruction,
            "prompt_version": PROMPT_VERSION,
        }

    def variant(self) -> str:
        parts = [] if self.split == self.task_spec.split else [f"split={self.split}"]
        parts += decoding_variant("vqa", self.protocol, self.decoding)
        return ",".join(parts)

    def scoring_config(self) -> dict[str, Any]:
        return {"metrics": self.metrics(), "bertscore_model": self.bertscore_model,
                "bootstrap": self.bootstrap,
                "judge": self.judge.record() if self.judge is not None else None}

    def load_samples(self, data_root: Path | None) -> list[Sample]:
        self.data_report = DataReport()
        return load_split(self.dataset_spec(), data_root, self.split, self.data_report)

    def build_request(self, sample: Sample) -> Request:
        prompt = self.instruction if self.instruction is not None else (sample.question or "")
        images = (sample.image,) if sample.image is not None else ()
        return Request(sample_id=sample.id, prompt=prompt, images=images, decoding=self.decoding,
                       train_data=self.data_file)

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


# Table 3's metrics, headline first; titles as the paper prints them.
TEXT_COLUMNS = (("bleu4", "Bleu-4"), ("meteor", "Meteor"), ("rougeL", "Rouge-l"),
                ("bertscore", "BertScore"), ("recall", "recall"))
KINDS = (
    TaskKind(name="vqa", factory=VqaTask, options=VqaOptions, capability="generate",
             headline="bleu4", layout="text", columns=TEXT_COLUMNS, title="VQA",
             description="open-ended answers to a question about an image"),
    TaskKind(name="caption", factory=VqaTask, options=VqaOptions, capability="generate",
             headline="bleu4", layout="text", columns=TEXT_COLUMNS, title="Image description",
             description="a description of the image, from a fixed instruction"),
)
TASKS = (
    TaskSpec(name="vqa/mm-skin", kind="vqa", dataset="mm-skin",
             description="MM-Skin-O open-ended VQA (5,452 test pairs)"),
    TaskSpec(name="caption/mm-skin", kind="caption", dataset="mm-skin-caption",
             description="MM-Skin-C image description"),
    TaskSpec(name="vqa/demo", kind="vqa", dataset="demo-vqa",
             description="open-ended VQA on the built-in synthetic demo set"),
    TaskSpec(name="caption/demo", kind="caption", dataset="demo-caption",
             description="image description on the demo set"),
    TaskSpec(name="vqa/custom", kind="vqa", dataset="custom", options=with_data(VqaOptions),
             description="open-ended VQA on your own CSV/JSONL file (-T data=FILE)"),
)


@hookimpl
def register_task_kinds(register: Callable[[TaskKind], None]) -> None:
    for kind in KINDS:
        register(kind)


@hookimpl
def register_tasks(register: Callable[[TaskSpec], None]) -> None:
    for spec in TASKS:
        register(replace(spec))  # a copy: the registry completes it from its kind

"""Zero-shot classification (the paper's Figure 5 prompt, section 4.4, Table 5).

The model sees the image and the list of candidate diagnoses and answers in
free text; the answer is matched to one candidate. Both matchers are scored on
every run; the protocol picks the headline: ``paper`` (the authors' first-substring
rule, their candidate lists and order, their decoding) or ``sound`` (whole-word
matching with synonyms and negation, the dataset's vocabulary, greedy decoding).
``-T matcher=``, ``-T candidates=paper|dataset`` and ``-T decoding=`` override one
setting. ``-T mode=likelihood`` instead picks the candidate with the highest
log-likelihood (models with ``score_choices``). ``-T shuffle=true`` permutes the
class order per sample (seeded) to measure order sensitivity.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, NonNegativeInt, PositiveInt

from harness import hookimpl
from harness.errors import HarnessError
from harness.options import Options
from harness.protocol import candidates as candidates_of
from harness.protocol import value
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
from harness.tasks.matching import match
from harness.types import Prediction, Request, Sample

# The paper's Figure 5 question, verbatim (setting zeroshot.prompt).
PROMPT: str = value("zeroshot.prompt", "paper")
SEPARATOR: str = value("zeroshot.classes_separator", "paper")
PROMPT_VERSION = 1
MAX_LISTED = 50
# Table 5's precision is the authors' (precision_macro_union); ours is reported beside it.
METRICS = ("accuracy", "balanced_accuracy", "precision_macro_union", "precision_macro",
           "recall_macro", "f1_macro")


class ZeroShotOptions(Options):
    """The ``-T`` options of the zero-shot tasks."""

    mode: Literal["generate", "likelihood"] = Field(
        "generate", description="generate: answer in words, matched to a class; likelihood: "
        "the candidate with the highest log-likelihood")
    shuffle: bool = Field(False, description="shuffle the candidates in the prompt per sample")
    seed: int | None = Field(None, description="seed of the shuffle; default: the run's --seed")
    decoding: DecodingName | None = Field(
        None, description="decoding preset (greedy, paper, ...); default: the protocol's")
    max_new_tokens: PositiveInt | None = Field(
        None, description="longest answer in tokens; default: the preset's")
    matcher: Literal["paper", "sound"] | None = Field(
        None, description="paper: the authors' first-substring rule; sound: whole words, "
        "synonyms, negation; default: the protocol's (the other is scored beside it)")
    candidates: Literal["paper", "dataset"] | None = Field(
        None, description="paper: the authors' candidate lists; dataset: the dataset's own "
        "vocabulary; default: the protocol's (a task that declares its candidates uses them)")
    split: str | None = Field(None, description="the dataset split to evaluate; default: the "
                              "task's (test)")
    bootstrap: NonNegativeInt = Field(
        1000, description="bootstrap resamples for the 95% intervals (0: no intervals)")


class ZeroShotTask(Task):
    """The image and the candidate diagnoses go to the model; its free-text answer is matched
    to one candidate (or, with ``-T mode=likelihood``, the likeliest candidate is taken)."""

    kind = "zeroshot"

    def __init__(self, spec: TaskSpec, context: TaskContext, options: ZeroShotOptions) -> None:
        super().__init__(spec, context, options)
        self.split = options.split or spec.split
        self.mode = options.mode
        self.capability = "generate" if self.mode == "generate" else "score_choices"
        self.shuffle = options.shuffle
        self.decoding = decoding_for("zeroshot", self.protocol, options.decoding,
                                     options.max_new_tokens)
        self.prompt = spec.prompt or PROMPT
        # (matcher, candidates) the protocol implies; -T options override each
        self._defaults = (self.protocol, "paper" if self.protocol == "paper" else "dataset")
        self.matcher = options.matcher or self._defaults[0]
        self.candidates = options.candidates or (
            "declared" if spec.candidates else self._defaults[1])
        self.bootstrap = options.bootstrap

    @property
    def spec(self) -> Any:  # the dataset adapter (the task's declaration is ``task_spec``)
        return self.dataset_spec()

    @cached_property  # read for every answer; fixed once the task is built
    def classes(self) -> tuple[str, ...]:
        """The candidates in prompt order: the authors' list, or the dataset's vocabulary."""
        if self.candidates == "declared":
            return tuple(self.task_spec.candidates or ())
        vocabulary = tuple(self.spec.classes)
        authors = candidates_of(self.dataset) if self.candidates == "paper" else None
        if authors is None:
            return vocabulary
        missing = [c for c in vocabulary if c not in authors]
        if missing:
            raise HarnessError(f"task '{self.name}': the authors' candidate list lacks the "
                               f"dataset's class(es) {', '.join(missing)}")
        return authors

    def config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dataset": self.dataset,
            "split": self.split,
            "protocol": self.protocol,
            "classes": list(self.classes),
            "candidates": self.candidates,
            "mode": self.mode,
            "shuffle": self.shuffle,
            "seed": self.seed if self.shuffle else None,
            "decoding": self.decoding.to_dict() if self.mode == "generate" else None,
            "prompt_version": PROMPT_VERSION,
            # a declared prompt only: the built-in tasks' fingerprints stay as they were
            **({"prompt": self.prompt} if self.task_spec.prompt else {}),
        }

    def scoring_config(self) -> dict[str, Any]:
        """Scoring only (changing it re-scores, never re-asks)."""
        return {"matcher": self.matcher, "bootstrap": self.bootstrap, "metrics": list(METRICS)}

    def variant(self) -> str:
        """Options that differ from the protocol's, as a folder-name suffix."""
        matcher, candidates = self._defaults
        parts = [] if self.split == self.task_spec.split else [f"split={self.split}"]
        if self.mode != "generate":
            parts.append(f"mode={self.mode}")
        if self.shuffle:
            parts.append(f"shuffle-seed={self.seed}")
        if self.mode == "generate":
            parts += decoding_variant(self.kind, self.protocol, self.decoding)
        if self.matcher != matcher:
            parts.append(f"matcher={self.matcher}")
        if self.candidates != candidates:
            parts.append(f"candidates={self.candidates}")
        return ",".join(parts)

    def load_samples(self, data_root: Path | None) -> list[Sample]:
        self.data_report = DataReport()
        samples = load_split(self.spec, data_root, self.split, self.data_report)
        if self.candidates == "paper" and candidates_of(self.dataset) is None:
            self.data_report.notes.append(
                f"the authors list no zero-shot candidates for '{self.dataset}': the dataset's "
                "own vocabulary is used")
        return samples

    def choices_for(self, sample: Sample) -> tuple[str, ...]:
        classes = list(self.classes)
        if self.shuffle:
            h = hashlib.sha256(f"{self.seed}:{sample.id}".encode()).digest()
            np.random.default_rng(int.from_bytes(h[:8], "little")).shuffle(classes)
        return tuple(classes)

    def build_request(self, sample: Sample) -> Request:
        choices = self.choices_for(sample)
        images = (sample.image,) if sample.image is not None else ()
        return Request(
            sample_id=sample.id,
            prompt=self.prompt.format(classes=SEPARATOR.join(choices)),
            images=images,
            decoding=self.decoding,
            choices=choices,
            train_data=self.data_file,
        )

    def call(self, model: Any, requests: Sequence[Request]) -> list[Any]:
        if self.mode == "generate":
            return list(model.generate(list(requests)))
        out: list[Any] = []
        for r in requests:
            try:
                out.append([float(x) for x in model.score_choices(r, list(r.choices))])
            except Exception as exc:  # one sample's failure is recorded, not fatal
                out.append(exc)
        return out

    def postprocess(self, sample: Sample, output: Any) -> dict[str, Any]:
        if self.mode == "likelihood":
            choices = self.choices_for(sample)
            scores = [float(x) for x in output]
            if len(scores) != len(choices) or not np.all(np.isfinite(scores)):
                raise ValueError(f"expected {len(choices)} finite scores, got {output!r}")
            return {"matched": choices[int(np.argmax(scores))], "how": "likelihood"}
        sound, paper = self._matches(sample, str(output))
        return {**sound.to_dict(), "paper_matched": paper.label}

    def _matches(self, sample: Sample, text: str) -> tuple[Any, Any]:
        """(sound, paper) matches; the paper's in the order the candidates were asked."""
        sound = match(text, self.classes, "sound", self.spec.extra.get("synonyms"))
        return sound, match(text, self.choices_for(sample), "paper")

    def score(
        self, samples: Sequence[Sample], predictions: dict[str, Prediction]
    ) -> dict[str, Any]:
        from harness.metrics import score_classification

        answered = [s for s in samples if s.id in predictions]
        y_true = [s.label or "" for s in answered]
        groups = group_fields(answered, GROUP_FIELDS)
        labels = list(self.classes)
        if self.mode == "likelihood":
            extras = [predictions[s.id].extra for s in answered]
            result = score_classification(y_true, [e.get("matched") for e in extras], labels,
                                          METRICS, groups=groups, bootstrap=self.bootstrap,
                                          registry=self.metric_registry())
            result["match_counts"] = {"likelihood": len(extras)}
            matched = [e.get("matched") for e in extras]
            result["per_sample"] = {
                "ids": [s.id for s in answered], "fields": {"matched": matched},
                "scores": {"correct": [float(p == t) for p, t in zip(matched, y_true,
                                                                      strict=True)]}}
            result["scoring"] = {"matcher": "likelihood", "also_reported": [],
                                 "candidates": self.candidates}
            result["label_counts"] = dict(Counter(s.label or "" for s in samples))
            return result
        # Matched again from the stored answers, so `harness score` applies the current rules.
        pairs = [self._matches(s, str(predictions[s.id].output)) for s in answered]
        by = {"sound": [m[0].label for m in pairs], "paper": [m[1].label for m in pairs]}
        other = "sound" if self.matcher == "paper" else "paper"
        result = score_classification(y_true, by[self.matcher], labels, METRICS, groups=groups,
                                      bootstrap=self.bootstrap, registry=self.metric_registry())
        beside = score_classification(y_true, by[other], labels, METRICS, bootstrap=0,
                                      registry=self.metric_registry())
        result["alternatives"] = {f"{other}-matcher": {
            "overall": beside["overall"], "metrics": beside["metrics"],
            "extras": {"unmatched": beside.get("unmatched")}}}
        hows = Counter(m[0].how for m in pairs)
        n = max(len(pairs), 1)
        result["match_counts"] = dict(hows)
        # The test split's label distribution, for majority/chance baseline rows.
        result["label_counts"] = dict(Counter(s.label or "" for s in samples))
        result["unmatched_rate"] = sum(1 for p in by[self.matcher] if p is None) / n
        result["ambiguous_rate"] = hows["ambiguous"] / n
        result["unmatched_examples"] = [
            {"id": s.id, "answer": str(predictions[s.id].output)[:300], "how": m[0].how}
            for s, m, label in zip(answered, pairs, by[self.matcher], strict=True)
            if label is None
        ][:MAX_LISTED]
        # Each answer's match, for samples.jsonl (harness.samples); not kept in metrics.json.
        result["per_sample"] = {
            "ids": [s.id for s in answered],
            "scores": {"correct": [float(p == t) for p, t in zip(by[self.matcher], y_true,
                                                                  strict=True)]},
            "fields": {"matched": by[self.matcher], "match": [m[0].how for m in pairs],
                       f"{other}_matched": by[other]}}
        result["scoring"] = {"matcher": self.matcher, "also_reported": [other],
                             "candidates": self.candidates,
                             "precision": {"paper": "precision_macro_union",
                                           "true classes": "precision_macro"}}
        return result


# Table 5's columns: its precision is the authors' (unmatched answers included), ours beside it.
KIND = TaskKind(
    name="zeroshot", factory=ZeroShotTask, options=ZeroShotOptions, capability="generate",
    headline="accuracy", layout="classification", title="Zero-shot classification",
    columns=(("accuracy", "ACC"), ("precision_macro_union", "precision"),
             ("precision_macro", "precision (true classes)")),
    description="diagnosis from a list of candidates, by answer matching")

# Datasets with a published classification test split in the paper's repository,
# plus PAD-UFES-20 (Table 5) and the demo set.
DATASETS = (
    "demo", "ham10000", "pad-ufes-20", "patch16", "dermnet", "isic2019", "bcn20000",
    "hiba", "mskcc", "ddi", "fitzpatrick17k",
)


@hookimpl
def register_task_kinds(register: Callable[[TaskKind], None]) -> None:
    register(KIND)


@hookimpl
def register_tasks(register: Callable[[TaskSpec], None]) -> None:
    register(TaskSpec(name="zeroshot/custom", kind="zeroshot", dataset="custom",
                      options=with_data(ZeroShotOptions),
                      description="zero-shot classification on your own CSV/JSONL file "
                      "(-T data=FILE)"))
    for dataset in DATASETS:
        register(TaskSpec(name=f"zeroshot/{dataset}", kind="zeroshot", dataset=dataset,
                          description=f"zero-shot diagnosis by answer matching on {dataset}"))

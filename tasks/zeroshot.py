"""Zero-shot classification (the paper's Figure 5 prompt, section 4.4, Table 5).

The model sees the image and the list of candidate diagnoses and answers in
free text; the answer is matched to one candidate. Both matchers are scored on
every run: ``sound`` (the headline) and ``paper`` (the reference's
first-substring rule, reported beside it). ``-T mode=likelihood`` instead
picks the candidate with the highest log-likelihood (models with
``score_choices``). ``-T shuffle=true`` permutes the class order per sample
(seeded) to measure order sensitivity.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from harness.tasks.common import (
    GROUP_FIELDS,
    DataReport,
    as_bool,
    as_choice,
    as_int,
    dataset_spec,
    decoding_preset,
    group_fields,
    load_split,
)
from harness.tasks.matching import match

from harness import hookimpl
from harness.specs import TaskSpec
from harness.task import Task
from harness.types import Prediction, Request, Sample

# The paper's Figure 5 question, verbatim.
PROMPT = (
    "This is a skin lesion image. From the following categories: {classes}, "
    "which one is the diagnosis?"
)
PROMPT_VERSION = 1
MAX_LISTED = 50


class ZeroShotTask(Task):
    kind = "zeroshot"

    def __init__(
        self,
        name: str,
        dataset: str,
        mode: str = "generate",
        shuffle: Any = False,
        seed: Any = 0,
        decoding: str = "greedy",
        max_new_tokens: Any = 64,
        split: str = "test",
        bootstrap: Any = 1000,
    ) -> None:
        self.name, self.dataset, self.split = name, dataset, split
        self.mode = as_choice(name, "mode", mode, ("generate", "likelihood"))
        self.capability = "generate" if self.mode == "generate" else "score_choices"
        self.shuffle = as_bool(name, "shuffle", shuffle)
        self.seed = as_int(name, "seed", seed)
        self.decoding = decoding_preset(name, decoding, max_new_tokens)
        self.bootstrap = as_int(name, "bootstrap", bootstrap)
        self._spec = None

    @property
    def spec(self) -> Any:
        if self._spec is None:
            self._spec = dataset_spec(self.dataset)
        return self._spec

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.spec.classes)

    def config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dataset": self.dataset,
            "split": self.split,
            "classes": list(self.classes),
            "mode": self.mode,
            "shuffle": self.shuffle,
            "seed": self.seed if self.shuffle else None,
            "decoding": self.decoding.to_dict() if self.mode == "generate" else None,
            "prompt_version": PROMPT_VERSION,
        }

    def variant(self) -> str:
        parts = [] if self.split == "test" else [f"split={self.split}"]
        if self.mode != "generate":
            parts.append(f"mode={self.mode}")
        if self.shuffle:
            parts.append(f"shuffle-seed={self.seed}")
        if self.decoding.preset != "greedy":
            parts.append(f"decoding={self.decoding.preset}")
        return ",".join(parts)

    def load_samples(self, data_root: Path | None) -> list[Sample]:
        self.data_report = DataReport()
        return load_split(self.spec, data_root, self.split, self.data_report)

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
            prompt=PROMPT.format(classes=", ".join(choices)),
            images=images,
            decoding=self.decoding,
            choices=choices,
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
        text = str(output)
        sound = match(text, self.classes, "sound", self.spec.extra.get("synonyms"))
        paper = match(text, self.classes, "paper")
        return {**sound.to_dict(), "paper_matched": paper.label}

    def score(
        self, samples: Sequence[Sample], predictions: dict[str, Prediction]
    ) -> dict[str, Any]:
        from harness.metrics import score_classification

        answered = [s for s in samples if s.id in predictions]
        extras = [predictions[s.id].extra for s in answered]
        y_true = [s.label or "" for s in answered]
        groups = group_fields(answered, GROUP_FIELDS)
        result = score_classification(
            y_true, [e.get("matched") for e in extras], list(self.classes),
            groups=groups, bootstrap=self.bootstrap,
        )
        hows = Counter(e.get("how", "none") for e in extras)
        n = max(len(extras), 1)
        result["match_counts"] = dict(hows)
        # The test split's label distribution, for majority/chance baseline rows.
        result["label_counts"] = dict(Counter(s.label or "" for s in samples))
        result["unmatched_rate"] = sum(hows[h] for h in ("none", "negated")) / n
        result["ambiguous_rate"] = hows["ambiguous"] / n
        result["unmatched_examples"] = [
            {"id": s.id, "answer": str(predictions[s.id].output)[:300], "how": e.get("how")}
            for s, e in zip(answered, extras, strict=True)
            if e.get("matched") is None
        ][:MAX_LISTED]
        if self.mode == "generate":
            paper = score_classification(
                y_true, [e.get("paper_matched") for e in extras], list(self.classes),
                bootstrap=0,
            )
            result["alternatives"] = {"paper-matcher": {
                "overall": paper["overall"], "metrics": paper["metrics"],
                "extras": {"unmatched": paper.get("unmatched")}}}
        result["scoring"] = {"matcher": "sound" if self.mode == "generate" else "likelihood",
                             "also_reported": ["paper"] if self.mode == "generate" else []}
        return result


def _factory(name: str, dataset: str) -> Callable[..., ZeroShotTask]:
    def make(**options: Any) -> ZeroShotTask:
        return ZeroShotTask(name, dataset, **options)

    return make


# Datasets with a published classification test split in the paper's repository,
# plus PAD-UFES-20 (Table 5) and the demo set.
DATASETS = (
    "demo", "ham10000", "pad-ufes-20", "patch16", "dermnet", "isic2019", "bcn20000",
    "hiba", "mskcc", "ddi", "fitzpatrick17k",
)


@hookimpl
def register_tasks(register: Callable[[TaskSpec], None]) -> None:
    for dataset in DATASETS:
        name = f"zeroshot/{dataset}"
        register(TaskSpec(name=name, factory=_factory(name, dataset), kind="zeroshot",
                          dataset=dataset, capability="generate",
                          description=f"zero-shot diagnosis by answer matching on {dataset}"))

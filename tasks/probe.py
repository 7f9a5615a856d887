"""Linear probe of frozen image features (the paper's "SFT classification", section 4.3, Table 4).

Features come from the model's ``encode_images`` (pooled after the multimodal
projector, f(I) = P_mm(E_vision(I))). A logistic regression is grid-searched
over C by 5-fold stratified cross-validation on the training split (ROC-AUC),
refit with the best C, and scored on the test split (and validation where
there is one). The feature vectors are stored with the run, so a second probe
on the same model and images does no model work.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from harness.tasks.common import (
    GROUP_FIELDS,
    DataReport,
    as_int,
    dataset_spec,
    group_fields,
    load_split,
)

from harness import hookimpl
from harness.errors import HarnessError
from harness.specs import TaskSpec
from harness.task import Task
from harness.types import Prediction, Request, Sample

PARALLEL_FOLDS_FROM = 2000  # training samples


class ProbeTask(Task):
    kind = "probe"
    capability = "encode_images"

    def __init__(
        self,
        name: str,
        dataset: str,
        seed: Any = 0,
        folds: Any = 5,
        subsample: Any = None,
        bootstrap: Any = 1000,
    ) -> None:
        self.name, self.dataset = name, dataset
        self.seed = as_int(name, "seed", seed)
        self.folds = as_int(name, "folds", folds)
        self.bootstrap = as_int(name, "bootstrap", bootstrap)
        self._subsample = subsample
        self._spec = None

    @property
    def spec(self) -> Any:
        if self._spec is None:
            self._spec = dataset_spec(self.dataset)
        return self._spec

    @property
    def subsample(self) -> float | None:
        """Fraction of train/val kept (Patch16: 10%, as in the paper's low-resource setting)."""
        value = self._subsample if self._subsample is not None else self.spec.extra.get(
            "probe_subsample")
        if value is None:
            return None
        try:
            frac = float(value)
        except (TypeError, ValueError):
            raise HarnessError(f"task '{self.name}': subsample={value!r} is not a number") from None
        if not 0 < frac <= 1:
            raise HarnessError(f"task '{self.name}': subsample must be in (0, 1], got {frac}")
        return frac

    def config(self) -> dict[str, Any]:
        # Only what shapes the feature requests: the probe's settings are scoring.
        return {"name": self.name, "dataset": self.dataset, "subsample": self.subsample,
                "seed": self.seed, "protocol": "probe-v1"}

    def load_samples(self, data_root: Path | None) -> list[Sample]:
        samples: list[Sample] = []
        self.data_report = DataReport()
        for split in ("train", "val", "test"):
            if split not in self.spec.splits:
                continue
            part = load_split(self.spec, data_root, split, self.data_report)
            if split != "test" and self.subsample is not None:
                part = [s for s in part if self._keep(s)]
            samples += part
        if not any(s.split == "train" for s in samples):
            raise HarnessError(
                f"task '{self.name}': dataset '{self.dataset}' has no training split"
            )
        return samples

    @staticmethod
    def fold_jobs(n_train: int) -> int:
        """Folds in parallel on large training sets (identical results, see probe_fit);
        on small ones starting worker processes costs more than it saves."""
        return 1 if n_train < PARALLEL_FOLDS_FROM else max(1, min(5, os.cpu_count() or 1))

    def select(self, samples: list[Sample], limit: int) -> list[Sample]:
        """``--limit N`` keeps the first N of each split, so a quick probe still has all three."""
        out: list[Sample] = []
        for split in ("train", "val", "test"):
            out += [s for s in samples if s.split == split][:limit]
        return out

    def _keep(self, sample: Sample) -> bool:
        h = hashlib.sha256(f"{self.seed}:{sample.id}".encode()).digest()
        return int.from_bytes(h[:8], "little") / 2**64 < (self.subsample or 1.0)

    def build_request(self, sample: Sample) -> Request:
        if sample.image is None:
            raise HarnessError(f"sample {sample.id} has no image")
        return Request(sample_id=sample.id, prompt="", images=(sample.image,))

    def call(self, model: Any, requests: Sequence[Request]) -> Any:
        feats = np.asarray(model.encode_images([r.images[0] for r in requests]), dtype=np.float32)
        if feats.ndim != 2 or feats.shape[0] != len(requests):
            raise HarnessError(
                f"encode_images returned shape {feats.shape} for {len(requests)} images"
            )
        return feats

    def score(
        self, samples: Sequence[Sample], predictions: dict[str, Prediction]
    ) -> dict[str, Any]:
        from harness.tasks.probe_fit import evaluate_probe, fit_probe

        from harness.metrics import score_classification

        labels = list(self.spec.classes)
        by_split: dict[str, list[Sample]] = {}
        for s in samples:
            if s.id in predictions:
                by_split.setdefault(s.split or "test", []).append(s)
        train = by_split.get("train", [])
        if not train or "test" not in by_split:
            raise HarnessError(f"task '{self.name}': no answered train or test samples to probe")
        X = {k: np.stack([np.asarray(predictions[s.id].output) for s in v])
             for k, v in by_split.items()}
        group_key = self.spec.extra.get("group_key")
        groups = [str(s.meta.get(group_key, s.id)) for s in train] if group_key else None
        fit = fit_probe(X["train"], [s.label for s in train], groups=groups,
                        n_folds=self.folds, seed=self.seed, n_jobs=self.fold_jobs(len(train)))
        out: dict[str, Any] = {"probe": fit.to_dict(), "splits": {}}
        for split in ("test", "val"):
            if split not in by_split:
                continue
            part = by_split[split]
            ev = evaluate_probe(fit, X[split], [s.label for s in part], labels)
            res = score_classification(
                [s.label or "" for s in part], ev["y_pred"], labels,
                metrics=("accuracy", "balanced_accuracy", "precision_macro", "recall_macro",
                         "f1_macro", "auc_ovr"),
                scores=np.asarray(ev["proba"]),
                groups=group_fields(part, GROUP_FIELDS) if split == "test" else None,
                bootstrap=self.bootstrap if split == "test" else 0,
            )
            out["splits"][split] = res
        out.update({k: v for k, v in out["splits"]["test"].items() if k != "groups"} | {
            "groups": out["splits"]["test"].get("groups", {})})
        out["sizes"] = {k: len(v) for k, v in by_split.items()}
        out["label_counts"] = dict(Counter(s.label or "" for s in samples if s.split == "test"))
        return out


def _factory(name: str, dataset: str) -> Callable[..., ProbeTask]:
    def make(**options: Any) -> ProbeTask:
        return ProbeTask(name, dataset, **options)

    return make


# The eight datasets of the paper's Table 4, plus the demo set.
DATASETS = ("demo", "patch16", "pad-ufes-20", "isic2019", "hiba", "ham10000",
            "fitzpatrick17k", "dermnet", "ddi")


@hookimpl
def register_tasks(register: Callable[[TaskSpec], None]) -> None:
    for dataset in DATASETS:
        name = f"probe/{dataset}"
        register(TaskSpec(name=name, factory=_factory(name, dataset), kind="probe",
                          dataset=dataset, capability="encode_images",
                          description=f"logistic-regression probe of image features on {dataset}"))

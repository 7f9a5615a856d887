"""Linear probe of frozen image features (the paper's "SFT classification", section 4.3, Table 4).

Features come from the model's ``encode_images`` (pooled after the multimodal
projector, f(I) = P_mm(E_vision(I))). A logistic regression is grid-searched
over C by 5-fold stratified cross-validation (ROC-AUC), refit with the best C on
the training split, and scored on the validation and test splits. The feature
vectors are stored with the run, so a second probe on the same model and images
does no model work.

Under ``--protocol paper`` (the authors' SFT_classification.py): the validation
split is a seeded random 20% of the training images unless the authors publish
one (``-T val=random``), the grid search runs on training + validation images
(``-T grid=train+val``) with unshuffled ``StratifiedKFold(5)`` over the training
images in shuffled order followed by the validation images (``-T folds=plain``).
Under ``sound``: the dataset's own seeded 3:1 split (``val=dataset``), the grid on
the training split only (``grid=train``), and folds that keep each lesion or
patient on one side (``folds=grouped``).
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, NonNegativeInt

from harness import hookimpl
from harness.errors import HarnessError
from harness.options import Options
from harness.protocol import value
from harness.specs import TaskContext, TaskKind, TaskSpec
from harness.task import Task
from harness.tasks.common import (
    GROUP_FIELDS,
    DataReport,
    group_fields,
    load_split,
    with_data,
)
from harness.types import Prediction, Request, Sample

PARALLEL_FOLDS_FROM = 2000  # training samples


VAL_FRACTION = 0.2  # the authors' random validation share (setting probe.val)
PAPER_FILE = "paper-split-file"  # split_method prefix of samples read from the authors' files


class ProbeOptions(Options):
    """The ``-T`` options of the linear-probe tasks."""

    seed: int | None = Field(None, description="seed of the random validation split, the "
                             "subsample and the fold order; default: the run's --seed")
    folds: Literal["plain", "grouped"] | None = Field(
        None, description="plain: unshuffled stratified folds (the authors'); grouped: folds "
        "that keep each lesion or patient on one side; default: the protocol's")
    n_folds: int = Field(5, ge=2, description="cross-validation folds of the C grid search")
    grid: Literal["train+val", "train"] | None = Field(
        None, description="the samples the grid search runs on; default: the protocol's")
    val: Literal["random", "dataset"] | None = Field(
        None, description="random: a seeded 20% of the training images (the authors'); "
        "dataset: the dataset's own split; default: the protocol's")
    subsample: float | None = Field(
        None, gt=0, le=1, description="share of the train/val images kept (default: the "
        "dataset's, e.g. 10% for Patch16 as in the paper)")
    bootstrap: NonNegativeInt = Field(
        1000, description="bootstrap resamples for the 95% intervals (0: no intervals)")
    solver: Literal["torch", "sklearn", "exact"] = Field(
        "torch", description="how the fits are computed: torch (batched, warm starts along C; "
        "default), sklearn (lbfgs per fit), exact (GridSearchCV's computation fit for fit); "
        "see docs/probe.md")
    solver_device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="device of the torch solver (auto: the GPU when torch sees one)")


class ProbeTask(Task):
    kind = "probe"
    capability = "encode_images"

    def __init__(self, spec: TaskSpec, context: TaskContext, options: ProbeOptions) -> None:
        super().__init__(spec, context, options)
        self.defaults = {k: value(f"probe.{k}", self.protocol)
                         for k in ("folds", "grid_on", "val")}
        self.folds = options.folds or self.defaults["folds"]
        self.grid_on = options.grid or self.defaults["grid_on"]
        self.val = options.val or self.defaults["val"]
        self.n_folds = options.n_folds
        self.bootstrap = options.bootstrap
        # How the fits are computed, not what they are: scoring settings, outside config().
        self.solver, self.solver_device = options.solver, options.solver_device

    @property
    def spec(self) -> Any:
        return self.dataset_spec()

    @property
    def subsample(self) -> float | None:
        """Fraction of train/val kept (Patch16: 10%, as in the paper's low-resource setting):
        ``-T subsample=`` (checked when parsed), else the dataset's declared share."""
        if self.options.subsample is not None:
            return self.options.subsample
        value = self.spec.extra.get("probe_subsample")
        return None if value is None else float(value)

    def config(self) -> dict[str, Any]:
        # Only what shapes the feature requests: the probe's settings are scoring.
        return {"name": self.name, "dataset": self.dataset, "subsample": self.subsample,
                "seed": self.seed, "protocol": self.protocol, "probe": "probe-v1"}

    def scoring_config(self) -> dict[str, Any]:
        return {"folds": self.folds, "n_folds": self.n_folds, "grid_on": self.grid_on,
                "refit_on": "train", "val": self.val, "bootstrap": self.bootstrap,
                "solver": self.solver}

    def variant(self) -> str:
        chosen = {"folds": self.folds, "grid_on": self.grid_on, "val": self.val}
        names = {"grid_on": "grid"}
        parts = [f"{names.get(k, k)}={v}" for k, v in chosen.items() if v != self.defaults[k]]
        if self.n_folds != 5:
            parts.append(f"n_folds={self.n_folds}")
        return ",".join(parts)

    def load_samples(self, data_root: Path | None) -> list[Sample]:
        parts: dict[str, list[Sample]] = {}
        self.data_report = DataReport()
        for split in ("train", "val", "test"):
            if split in self.spec.splits:
                parts[split] = load_split(self.spec, data_root, split, self.data_report)
        if not parts.get("train"):
            raise HarnessError(
                f"task '{self.name}': dataset '{self.dataset}' has no training split"
            )
        if self.val == "random":
            self._random_val(parts)
        samples: list[Sample] = []
        for split in ("train", "val", "test"):
            part = parts.get(split, [])
            if split != "test" and self.subsample is not None:
                part = [s for s in part if self._keep(s)]
            samples += part
        return samples

    def _random_val(self, parts: dict[str, list[Sample]]) -> None:
        """The authors' validation split: a random 20% of the training images (int(0.2 n),
        as torch's random_split), drawn by a seeded hash; kept where they publish a file."""
        val = parts.get("val", [])
        if val and all(str(s.meta.get("split_method", "")).startswith(PAPER_FILE) for s in val):
            return
        pool = parts["train"] + val
        order = sorted(pool, key=lambda s: self._rank("val", s.id))
        n_val = int(len(pool) * VAL_FRACTION)
        method = f"random-{int(VAL_FRACTION * 100)}%-of-train(seed={self.seed})"
        for i, s in enumerate(order):
            s.split = "val" if i < n_val else "train"
            s.meta["split_method"] = method
        parts["train"] = [s for s in pool if s.split == "train"]
        parts["val"] = [s for s in pool if s.split == "val"]
        self.data_report.notes.append(
            f"validation split: {n_val} of {len(pool)} training images drawn at random "
            f"({method}), as the authors' SFT_classification.py does")

    def _rank(self, purpose: str, sid: str) -> bytes:
        return hashlib.sha256(f"{purpose}:{self.seed}:{sid}".encode()).digest()

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

    def grid_set(self, train: list[Sample], val: list[Sample]) -> tuple[list[Sample], int]:
        """The grid search's samples in fold order and how many of them are training samples.

        Plain folds follow the order: the authors' training loader shuffles, so the training
        samples come in a seeded random order, then the validation samples."""
        train = sorted(train, key=lambda s: self._rank("order", s.id))
        return (train + val if self.grid_on == "train+val" else train), len(train)

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
        from harness.metrics import score_classification
        from harness.tasks.probe_fit import evaluate_probe, fit_probe

        labels = list(self.spec.classes)
        by_split: dict[str, list[Sample]] = {}
        for s in samples:
            if s.id in predictions:
                by_split.setdefault(s.split or "test", []).append(s)
        train = by_split.get("train", [])
        if not train or "test" not in by_split:
            raise HarnessError(f"task '{self.name}': no answered train or test samples to probe")
        def features(part: Sequence[Sample]) -> np.ndarray:  # one stacked copy, in order
            return np.stack([np.asarray(predictions[s.id].output) for s in part])

        grid, n_train = self.grid_set(train, by_split.get("val", []))
        X_grid = features(grid)
        group_key = self.spec.extra.get("group_key")
        groups = None
        if self.folds == "grouped" and group_key:
            groups = [str(s.meta.get(group_key, s.id)) for s in grid]
        fit = fit_probe(X_grid, [s.label for s in grid], groups=groups, n_folds=self.n_folds,
                        seed=self.seed, n_jobs=self.fold_jobs(len(grid)),
                        refit_on=np.arange(len(grid)) < n_train, solver=self.solver,
                        device=self.solver_device)
        out: dict[str, Any] = {"probe": fit.to_dict(), "splits": {}}
        for split in ("test", "val"):
            if split not in by_split:
                continue
            part = by_split[split]
            ev = evaluate_probe(fit, features(part), [s.label for s in part], labels)
            res = score_classification(
                [s.label or "" for s in part], ev["y_pred"], labels,
                metrics=("accuracy", "balanced_accuracy", "precision_macro", "recall_macro",
                         "f1_macro", "auc_ovr"),
                scores=np.asarray(ev["proba"]),
                groups=group_fields(part, GROUP_FIELDS) if split == "test" else None,
                bootstrap=self.bootstrap if split == "test" else 0,
                registry=self.metric_registry(),
            )
            out["splits"][split] = res
            if split == "test":  # each test image's predicted class, for samples.jsonl
                out["per_sample"] = {
                    "ids": [s.id for s in part], "fields": {"predicted": list(ev["y_pred"])},
                    "scores": {"correct": [float(p == s.label) for p, s in zip(
                        ev["y_pred"], part, strict=True)]}}
        out.update({k: v for k, v in out["splits"]["test"].items() if k != "groups"} | {
            "groups": out["splits"]["test"].get("groups", {})})
        out["sizes"] = {k: len(v) for k, v in by_split.items()}
        # How this fit was made (the protocol itself is the plan's, recorded once)
        out["fit_settings"] = {**self.scoring_config(), "grid_size": len(grid),
                           "grouped_by": group_key if groups is not None else None}
        out["label_counts"] = dict(Counter(s.label or "" for s in samples if s.split == "test"))
        return out


# Table 4's columns.
KIND = TaskKind(
    name="probe", factory=ProbeTask, options=ProbeOptions, capability="encode_images",
    headline="accuracy", layout="classification", title="Linear probe",
    columns=(("accuracy", "ACC"), ("recall_macro", "Recall")),
    description="logistic-regression probe of frozen image features")

# The eight datasets of the paper's Table 4, plus the demo set.
DATASETS = ("demo", "patch16", "pad-ufes-20", "isic2019", "hiba", "ham10000",
            "fitzpatrick17k", "dermnet", "ddi")


@hookimpl
def register_task_kinds(register: Callable[[TaskKind], None]) -> None:
    register(KIND)


@hookimpl
def register_tasks(register: Callable[[TaskSpec], None]) -> None:
    register(TaskSpec(name="probe/custom", kind="probe", dataset="custom",
                      options=with_data(ProbeOptions),
                      description="linear probe on your own CSV/JSONL file with train and "
                      "test rows (-T data=FILE)"))
    for dataset in DATASETS:
        register(TaskSpec(name=f"probe/{dataset}", kind="probe", dataset=dataset,
                          description=f"logistic-regression probe of image features on {dataset}"))

"""The state of one run: its options, each task's prepared work, each task's outcome, and
where results go on disk."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import results
from harness.options import Options
from harness.plan import TaskPlan
from harness.protocol import DEFAULT_PROTOCOL
from harness.specs import LoadContext, ModelSpec
from harness.store import ResultStore
from harness.task import Task
from harness.types import Request, Sample

MAX_ERROR_CHARS = 500
MAX_LISTED_FAILURES = 50

@dataclass
class RunOptions:
    model: str
    tasks: Sequence[str]
    name: str | None = None  # results are filed under this name (default: the model name)
    output: Path = Path("results")
    data_root: Path | None = None
    model_path: str | None = None
    device: str = "auto"
    model_options: dict[str, str] = field(default_factory=dict)
    task_options: dict[str, str] = field(default_factory=dict)
    batch_size: int | None = None
    limit: int | None = None
    seed: int = 0
    dry_run: bool = False
    protocol: str = DEFAULT_PROTOCOL  # paper | sound (harness/protocol)
    allow_download: bool = False
    allow_modified_splits: bool = False  # go on when a pinned split file's SHA-256 differs
    min_coverage: float = 1.0  # below this share of answered samples the CLI exits 3
    max_consecutive_failures: int = 20  # stop a task after this many in a row (0: never)


@dataclass
class TaskRun:
    """A task prepared for one model: its plan, samples, requests and what is still to ask."""

    task: Task
    plan: TaskPlan
    samples: list[Sample]
    requests: list[Request]
    fingerprints: list[str]
    store: ResultStore
    pending: list[int]  # indices into samples
    cached: int
    stopped: str | None = None  # why asking stopped early, if it did
    asked: int = 0


@dataclass
class TaskOutcome:
    task: str
    folder: Path
    metrics: results.MetricsFile | None
    asked: int
    cached: int
    failed: int


def results_folder(output: Path, plan: TaskPlan) -> Path:
    """Where a plan's results are stored: ``<output>/<task folder>/<model folder>``."""
    return output / plan.folder / plan.model_folder


def model_key(spec: ModelSpec, opts: RunOptions, options: Options) -> dict[str, Any]:
    """The requested model configuration; part of every request fingerprint.

    The options are those the user gave, parsed (``dtype=BF16`` and ``dtype=bf16`` are one
    configuration), without the runtime ones that never change an answer.
    """
    given = options.given()
    key = {
        "name": opts.name or spec.name,
        "model": spec.name,
        "checkpoint": opts.model_path or spec.checkpoint,
        "options": dict(sorted(given.items())),
    }
    if spec.weights_key is not None:
        # the weights' content: new bytes at the same path are asked again
        key["weights"] = spec.weights_key(spec, load_context(opts), options)
    return key


def load_context(opts: RunOptions, datasets: Any = None) -> LoadContext:
    """What the harness hands a model factory beside the user's options."""
    return LoadContext(model_path=opts.model_path, device=opts.device, seed=opts.seed,
                       protocol=opts.protocol, allow_download=opts.allow_download,
                       datasets=datasets)



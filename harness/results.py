"""The schema of ``metrics.json`` and ``run.json``: written and read only through these classes.

Everything that leaves a run for a reader (the leaderboard, ``harness score``, a user's
notebook) goes through ``MetricsFile`` and ``RunFile``. Each file carries
``schema_version``; a file from a newer harness is refused with a sentence, and files
written before the schema existed (no ``schema_version``) are read and converted.

Scores travel with what they mean: every number in ``Scores.overall`` has a
``MetricInfo`` (version, parameters, whether higher is better). Task-specific numbers go
in ``Scores.extras`` under the keys the task declares (see ``docs/results.md``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.errors import HarnessError
from harness.plan import TaskPlan

SCHEMA_VERSION = 1
METRICS = "metrics.json"
RUN = "run.json"
# a partial result (--limit, a metric subset) beside a complete one
PARTIAL_METRICS = "metrics.partial.json"
PARTIAL_RUN = "run.partial.json"


class SchemaError(HarnessError):
    """A results file this harness cannot read (corrupt, foreign, or from a newer harness)."""


class _Record(BaseModel):
    # Unknown keys are ignored, so a reader survives fields added in a later minor release.
    model_config = ConfigDict(extra="ignore")


class MetricInfo(_Record):
    """What one metric's number means."""

    version: str = "1"
    params: dict[str, Any] = Field(default_factory=dict)
    higher_is_better: bool = True
    description: str = ""


class Confusion(_Record):
    """A confusion matrix: rows are true classes, columns predicted (``unmatched`` last)."""

    rows: list[str]
    columns: list[str]
    matrix: list[list[int]]


class Scores(_Record):
    """One way of scoring a run's predictions."""

    overall: dict[str, float | None] = Field(default_factory=dict)
    metrics: dict[str, MetricInfo] = Field(default_factory=dict)
    ci: dict[str, list[float | None] | None] = Field(default_factory=dict)
    # field -> group -> {metric: value, "n": count, "ci": {...}}
    groups: dict[str, dict[str, dict[str, Any]]] = Field(default_factory=dict)
    n: int | None = None
    bootstrap: dict[str, Any] | None = None
    scoring: dict[str, Any] = Field(default_factory=dict)  # how: metric list, matcher, ...
    label_counts: dict[str, int] = Field(default_factory=dict)
    confusion: Confusion | None = None
    notes: list[str] = Field(default_factory=list)
    # The same predictions scored another way (e.g. another answer matcher), by name.
    alternatives: dict[str, Scores] = Field(default_factory=dict)
    extras: dict[str, Any] = Field(default_factory=dict)

    def info(self, metric: str) -> MetricInfo:
        return self.metrics.get(metric) or MetricInfo()


class FailureGroup(_Record):
    """Failed samples sharing one reason."""

    reason: str
    count: int
    example_id: str
    example_error: str
    hint: str = ""


class Partial(_Record):
    """Why a metrics file covers less than the whole task (``--limit``, a metric subset)."""

    limit: int | None = None
    metrics: list[str] | None = None


class MetricsFile(_Record):
    """``metrics.json``: the scores of one model on one task, and how complete they are.

    ``plan`` is the run's resolved plan (harness/plan.py), verbatim; the identifying fields
    beside it (task, kind, dataset, model, protocol, fingerprint, model key) are copied from
    it for readers that grep, and filled from them in files written before plans existed.
    """

    schema_version: int = SCHEMA_VERSION
    plan: TaskPlan | None = None
    task: str
    kind: str
    dataset: str = ""
    model: str
    protocol: str | None = None
    n: int
    answered: int
    failed: int
    missing: int = 0
    coverage: float
    scores: Scores
    partial: Partial | None = None
    failures: list[dict[str, Any]] = Field(default_factory=list)
    failure_summary: list[FailureGroup] = Field(default_factory=list)
    data: dict[str, Any] | None = None
    task_fingerprint: str = ""
    model_key: dict[str, Any] = Field(default_factory=dict)
    harness_version: str = "?"
    warnings: list[str] = Field(default_factory=list)
    scores_key: str = ""  # what the scores were computed from; equal key, same scores

    @property
    def complete(self) -> bool:
        return self.partial is None


class TaskRecord(_Record):
    name: str
    config: dict[str, Any] = Field(default_factory=dict)
    fingerprint: str = ""
    folder: str = ""
    scoring: dict[str, Any] = Field(default_factory=dict)  # scoring-only settings
    options: dict[str, Any] = Field(default_factory=dict)  # the -T options as given


class ModelRecord(_Record):
    name: str
    model: str = ""
    checkpoint: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    weights: str | None = None  # content key of the weights (plugins that declare one)
    model_path: str | None = None
    device: str | None = None
    identity: Any = None
    previous_identity: Any = None


class RunFile(_Record):
    """``run.json``: provenance of the last run that wrote a results folder."""

    schema_version: int = SCHEMA_VERSION
    plan: TaskPlan | None = None
    environment: dict[str, Any] = Field(default_factory=dict)  # versions, git commit, host, argv
    seed: int = 0
    protocol: str | None = None
    task: TaskRecord
    decoding: dict[str, Any] | None = None
    # The arguments generate() received, under transformers' names, plus the seed.
    generation: dict[str, Any] | None = None
    model: ModelRecord
    data_root: str | None = None
    batch_size: int | None = None
    limit: int | None = None
    started: str = ""
    ended: str = ""
    counts: dict[str, int] = Field(default_factory=dict)
    store: dict[str, Any] = Field(default_factory=dict)
    data: dict[str, Any] | None = None

    @property
    def harness_version(self) -> str:
        return str(self.environment.get("harness_version") or "?")

    def model_key(self) -> dict[str, Any]:
        """The model configuration the run asked (its plan's; older files: the model record)."""
        if self.plan is not None:
            return dict(self.plan.model_key)
        key = {"name": self.model.name, "model": self.model.model,
               "checkpoint": self.model.checkpoint, "options": self.model.options}
        if self.model.weights is not None:
            key["weights"] = self.model.weights
        return key

    @property
    def git(self) -> dict[str, Any]:
        return self.environment.get("git") or {}


# ------------------------------------------------------------------- reading and writing

def write(path: Path, record: MetricsFile | RunFile) -> None:
    from harness.store import atomic_write_json

    atomic_write_json(path, record.model_dump(mode="json"))


def read_metrics(path: Path) -> MetricsFile:
    return _read(path, MetricsFile, _legacy_metrics)


def read_run(path: Path) -> RunFile:
    return _read(path, RunFile, _legacy_run)


def _read(path: Path, cls: type[Any], legacy: Any) -> Any:
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SchemaError(f"{path} does not exist") from None
    except OSError as exc:
        raise SchemaError(f"{path} could not be read ({exc.strerror or exc})") from None
    except (ValueError, UnicodeDecodeError):
        raise SchemaError(f"{path} is not valid JSON; delete it and run `harness score` "
                          "to write it again") from None
    if not isinstance(data, dict):
        raise SchemaError(f"{path} is not a harness results file (not a JSON object)")
    version = data.get("schema_version")
    if version is None:
        data = legacy(data)
    elif not isinstance(version, int) or version > SCHEMA_VERSION:
        raise SchemaError(
            f"{path} has schema_version {version!r}, newer than this harness reads "
            f"({SCHEMA_VERSION}): upgrade derm-harness to read it"
        )
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise SchemaError(
            f"{path} is not a valid {cls.__name__} ({where}: {first['msg']})"
        ) from None


# Files written before schema_version existed (harness 0.1.0 up to this change).
_SCORE_FIELDS = ("overall", "metrics", "ci", "groups", "n", "bootstrap", "scoring", "notes",
                 "label_counts")


def scores_from_task(scores: dict[str, Any] | Scores) -> Scores:
    """A task's scores as the schema holds them; keys the schema does not name go to extras."""
    if isinstance(scores, Scores):
        return scores
    old = dict(scores)
    out: dict[str, Any] = {k: old.pop(k) for k in _SCORE_FIELDS if k in old}
    if "confusion" in old and "confusion_rows" in old:
        out["confusion"] = {"matrix": old.pop("confusion"), "rows": old.pop("confusion_rows"),
                            "columns": old.pop("confusion_columns", [])}
    if isinstance(old.get("alternatives"), dict):
        out["alternatives"] = {k: scores_from_task(v) for k, v in old.pop("alternatives").items()}
    out["extras"] = {**old.pop("extras", {}), **old}
    return Scores.model_validate(out)


def _legacy_metrics(data: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(data.get("scores"), dict) or "kind" not in data:
        return data  # validation names what is missing
    scores = dict(data["scores"])
    if isinstance(scores.get("paper_matcher"), dict):
        scores["alternatives"] = {"paper-matcher": scores.pop("paper_matcher")}
    partial = {"limit": data["limit"]} if data.get("limit") is not None else None
    return {**data, "scores": scores_from_task(scores).model_dump(), "partial": partial}


def _legacy_run(data: dict[str, Any]) -> dict[str, Any]:
    env_keys = ("harness_version", "git", "python", "platform", "host", "packages", "argv")
    return {**data, "environment": {k: data[k] for k in env_keys if k in data}}

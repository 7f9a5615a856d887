"""The plan of one (task, model, protocol): every derived fact of a run, resolved once.

``resolve`` is called when a run (or a re-score) starts; the plan is frozen, stored verbatim
in run.json and metrics.json, and read, never re-derived, by the runner, finalize,
``harness score``, the leaderboard, the report and sweeps.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from harness.fingerprint import digest
from harness.protocol import DEFAULT_PROTOCOL


class TableLayout(BaseModel):
    """How the leaderboard shows the task's results: declared by its kind (TaskKind)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    layout: str = "table"  # text | classification | table (harness.specs.LAYOUTS)
    title: str = ""
    columns: list[tuple[str, str]] = Field(default_factory=list)  # (metric, title)


class TaskPlan(BaseModel):
    """What one task run is, as resolved when it started."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    task: str
    kind: str
    dataset: str = ""
    headline: str = "accuracy"  # the metric the overview shows
    table: TableLayout = Field(default_factory=TableLayout)
    protocol: str = DEFAULT_PROTOCOL
    seed: int = 0
    capability: str = "generate"
    options: dict[str, Any] = Field(default_factory=dict)  # -T options as given (parsed)
    config: dict[str, Any] = Field(default_factory=dict)  # what shapes requests
    scoring: dict[str, Any] = Field(default_factory=dict)  # what shapes only the scores
    decoding: dict[str, Any] | None = None
    variant: str = ""  # request-shaping settings that differ from the protocol's
    folder: str = ""  # the task's results folder, e.g. vqa/mm-skin+protocol=sound
    model_folder: str = ""  # the model's folder inside it
    fingerprint: str = ""  # of ``config``: part of every request fingerprint
    model_key: dict[str, Any] = Field(default_factory=dict)  # the model configuration asked
    limit: int | None = None

    @property
    def model(self) -> str:
        """The name the results are filed under."""
        return str(self.model_key.get("name", ""))


def safe_name(name: str) -> str:
    """A model or task name as a folder name (``openai:gpt-4o`` -> ``openai_gpt-4o``)."""
    return re.sub(r"[^A-Za-z0-9._/+=,-]+", "_", name).strip("/")


def task_folder(name: str, variant: str, protocol: str) -> str:
    """The task's results folder: its name, plus its non-default options and protocol, so
    that runs under different settings or protocols never share a folder."""
    parts = [variant]
    if protocol != DEFAULT_PROTOCOL:
        parts.append(f"protocol={protocol}")
    suffix = ",".join(p for p in parts if p)
    return safe_name(f"{name}+{suffix}" if suffix else name)


def variant_of(task: Any) -> str:
    """The task's folder variant: its data file (``*/custom``), then its own settings."""
    return ",".join(v for v in (task.data_variant(), task.variant()) if v)


def folder_of(task: Any, protocol: str) -> str:
    """Where the task's results go under the output folder (before the model's folder)."""
    return task_folder(task.name, variant_of(task), protocol)


def model_folder(name: str) -> str:
    return safe_name(name).replace("/", "_")


def resolve(task: Any, spec: Any, model_key: dict[str, Any], *, protocol: str, seed: int,
            options: dict[str, Any], limit: int | None, kind: Any = None) -> TaskPlan:
    """The plan of ``task`` (built from ``spec``) for the model configuration ``model_key``.

    ``kind`` is the task's registered ``TaskKind`` (None for a task without one: its results
    get the generic table)."""
    config = task.config()
    variant = variant_of(task)
    if task.data_file is not None:  # the data's content is what the task is
        config = {**config, "data": task.data_variant()}
    decoding = task.decoding_settings()
    table = TableLayout()
    if kind is not None:
        table = TableLayout(layout=kind.layout, title=kind.title or kind.name,
                            columns=list(kind.columns))
    return TaskPlan(
        task=task.name, kind=task.kind, dataset=task.dataset,
        headline=getattr(spec, "headline", None) or (kind.headline if kind else "accuracy"),
        table=table, protocol=protocol, seed=seed, capability=task.capability,
        options=dict(options), config=config, scoring=task.scoring_config(),
        decoding=decoding, variant=variant,
        folder=task_folder(task.name, variant, protocol),
        model_folder=model_folder(str(model_key["name"])),
        fingerprint=digest(config), model_key=dict(model_key), limit=limit,
    )

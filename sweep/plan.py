"""The sweep plan: a small YAML file naming models (with options), tasks, protocol, executor.

Relative paths in a plan (output, data_root, a model's path, the executor's folder) are
read relative to the plan file's folder, so a plan means the same from any directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from harness.errors import UsageError
from harness.protocol import DEFAULT_PROTOCOL, PROTOCOLS

Scalar = str | int | float | bool


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelEntry(_Strict):
    """One model of the sweep: one job runs it over every task of the plan."""

    name: str = Field(min_length=1, description="results are filed under this name")
    model: str | None = Field(None, description="the plugin (default: name); ignored "
                              "with serve: vllm, which asks through an OpenAI-compatible API")
    path: str | None = Field(None, description="checkpoint folder or Hub id (--model-path; "
                             "what vLLM serves)")
    options: dict[str, Scalar] = Field(default_factory=dict, description="-M options")
    options_for: dict[str, dict[str, Scalar]] = Field(
        default_factory=dict, description="more -M options for the tasks a glob matches, e.g. "
        "{caption/*: {vqa_index: demo-caption}}: a baseline's training split per task")
    serve: Literal["vllm"] | None = None
    serve_command: list[str] = Field(default_factory=lambda: ["vllm", "serve"])
    serve_args: list[str] = Field(default_factory=list, description="more `vllm serve` "
                                  "arguments, e.g. [--data-parallel-size, '4']")
    serve_timeout: float = Field(1800.0, gt=0, description="seconds to wait for the server")

    def options_of(self, task: str) -> dict[str, Scalar]:
        """The -M options for ``task``: the model's, then each matching ``options_for``."""
        from fnmatch import fnmatchcase

        out = dict(self.options)
        for pattern, extra in self.options_for.items():
            if fnmatchcase(task, pattern):
                out.update(extra)
        return out

    @property
    def plugin(self) -> str:
        return "vllm-served" if self.serve == "vllm" else (self.model or self.name)


class ExecutorSettings(_Strict):
    kind: Literal["local", "slurm"] = "local"
    folder: Path | None = None  # submitit's logs and the submission record
    parallel: int = Field(1, ge=1, description="jobs at once (slurm: the array's limit)")
    gpus_per_job: int = Field(0, ge=0)
    cpus_per_job: int = Field(1, ge=1)
    mem_gb: float | None = Field(None, gt=0)
    time_min: int = Field(240, ge=1)
    signal_delay_s: int = Field(90, ge=1, description="Slurm warns a job this long before "
                                "its time limit; the job then requeues itself (and resumes)")
    max_requeues: int = Field(3, ge=0, description="slurm: requeues on time limit or "
                              "preemption before a job gives up (submitit's max_num_timeout)")
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    sbatch: dict[str, Scalar] = Field(default_factory=dict, description="more #SBATCH lines")
    setup: list[str] = Field(default_factory=list, description="shell lines run before a job")


class SweepPlan(_Strict):
    output: Path = Path("results")
    data_root: Path | None = None
    protocol: str = DEFAULT_PROTOCOL
    tasks: list[str] = Field(min_length=1)
    task_options: dict[str, Scalar] = Field(default_factory=dict, description="-T options")
    models: list[ModelEntry] = Field(min_length=1)
    batch_size: int | None = Field(None, ge=1)
    limit: int | None = Field(None, ge=1)
    seed: int = 0
    executor: ExecutorSettings = Field(default_factory=ExecutorSettings)
    source: Path | None = Field(None, exclude=True)  # the plan file, set by load()

    @field_validator("protocol")
    @classmethod
    def _known_protocol(cls, value: str) -> str:
        if value not in PROTOCOLS:
            raise ValueError(f"must be one of {', '.join(PROTOCOLS)}")
        return value

    @field_validator("models")
    @classmethod
    def _unique_names(cls, models: list[ModelEntry]) -> list[ModelEntry]:
        names = [m.name for m in models]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"model names must be unique; given twice: {', '.join(twice)}")
        return models

    def model(self, name: str) -> ModelEntry:
        return next(m for m in self.models if m.name == name)

    @property
    def job_folder(self) -> Path:
        if self.executor.folder is not None:
            return self.executor.folder
        stem = self.source.stem if self.source is not None else "sweep"
        return self.output / ".sweeps" / stem


def load(path: Path) -> SweepPlan:
    """The plan in ``path``; a wrong field is refused with one sentence naming it (exit 2)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"plan {path}: cannot be read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise UsageError(f"plan {path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})"
                         ) from None
    if not isinstance(raw, dict):
        raise UsageError(f"plan {path}: expected a mapping with models: and tasks:")
    try:
        plan = SweepPlan.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise UsageError(f"plan {path}: {where}: {err['msg']}") from None
    return _anchored(plan, path)


def _anchored(plan: SweepPlan, path: Path) -> SweepPlan:
    base = path.resolve().parent

    def at(p: Path | None) -> Path | None:
        return None if p is None else (p if p.is_absolute() else base / p)

    models = [m.model_copy(update={"path": str(base / m.path)})
              if m.path and not Path(m.path).is_absolute() and (base / m.path).exists() else m
              for m in plan.models]
    executor = plan.executor.model_copy(update={"folder": at(plan.executor.folder)})
    return plan.model_copy(update={"output": at(plan.output), "data_root": at(plan.data_root),
                                   "models": models, "executor": executor,
                                   "source": path.resolve()})

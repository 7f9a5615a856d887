"""Typed registration records. Plugins build these and hand them to ``register``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.options import Options
from harness.registry import Registry

# Capabilities a model may declare; each maps to one method of the model contract
# (see harness/model.py).
CAPABILITIES = ("generate", "encode_images", "score_choices")


@dataclass
class ModelSpec:
    """A model plugin. ``factory(spec, context, options)`` builds the model: ``context`` is
    the harness's ``LoadContext``, ``options`` the user's ``-M`` options parsed into the
    ``options`` class. Heavy imports (torch, transformers) belong inside the factory."""

    name: str
    factory: Callable[..., Any]
    family: str = ""
    checkpoint: str | None = None
    capabilities: frozenset[str] = frozenset({"generate"})
    aliases: tuple[str, ...] = ()
    description: str = ""
    options: type[Options] = Options  # the -M options it takes (none by default)
    # ``weights_key(spec, context, options) -> str | None``: a content key of the weights the
    # factory would load, computed without loading them; folded into every request
    # fingerprint, so new weights at the same path are re-asked.
    weights_key: Callable[..., str | None] | None = None
    plugin: str = ""  # filled in by the registry: which plugin registered it


@dataclass(frozen=True)
class LoadContext:
    """What the harness hands every model factory beside the user's options."""

    model_path: str | None = None  # --model-path: a local folder or Hub id, else the default
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    seed: int = 0
    protocol: str = "paper"
    allow_download: bool = False  # --allow-download: may the factory fetch from a hub?
    # The dataset registry, for models that learn from a training split (the CPU baselines).
    datasets: Any = None


# Leaderboard layouts a task kind can ask for (harness/leaderboards): per-modality text
# metrics like the paper's Table 3, dataset x metric like Tables 4-5, or one table of the
# kind's declared columns.
LAYOUTS = ("text", "classification", "table")


@dataclass
class TaskKind:
    """A kind of task (VQA, zero-shot, probe, closed questions, ...): the behaviour every
    task of the kind shares, and how its results are shown.

    ``factory(spec, context, options)`` builds a task of the kind (usually the Task class
    itself); ``options`` are the kind's ``-T`` options. A task of an existing kind is then a
    ``TaskSpec`` naming the kind and its dataset, nothing more.
    """

    name: str
    factory: Callable[..., Any]
    options: type[Options] = Options
    capability: str = "generate"
    headline: str = "accuracy"  # the metric the overview shows for the kind's tasks
    layout: str = "table"  # one of LAYOUTS
    columns: tuple[tuple[str, str], ...] = ()  # (metric, column title) in the kind's table
    title: str = ""  # e.g. "Zero-shot classification"
    description: str = ""
    aliases: tuple[str, ...] = ()
    plugin: str = ""


@dataclass(frozen=True)
class JudgeSpec:
    """A judge declared with a task (``TaskSpec(judge=JudgeSpec("rule-judge", "binary"))``):
    the task's answers are judged by default; ``-T judge*`` options given on the command
    line override it (``judge_options`` are added to the declared ``options``)."""

    model: str  # a registered model name that can generate, e.g. openai:gpt-4o
    protocol: str | None = None  # llava-med (default), binary, rubric
    options: dict[str, str] = field(default_factory=dict)
    prices: tuple[float, float] | None = None  # dollars per million tokens in, out


@dataclass
class TaskSpec:
    """A task: one protocol on one dataset, e.g. ``zeroshot/ham10000``.

    A declaration names its ``kind`` and ``dataset``; the kind supplies the factory, the
    options, the capability and the headline metric unless the spec sets them. The other
    fields are what a declaration may change: ``split``, ``prompt`` (``{classes}`` stands
    for the candidate list where the kind has one), ``candidates``, ``metrics`` and
    ``headline``; ``judge`` a judge for kinds that judge answers (vqa, caption,
    vqa-multiref); ``params`` holds anything else the kind reads.
    """

    name: str
    kind: str = ""
    dataset: str = ""
    factory: Callable[..., Any] | None = None  # None: the kind's
    options: type[Options] | None = None  # None: the kind's
    capability: str = ""  # "": the kind's
    split: str = "test"
    prompt: str | None = None
    candidates: tuple[str, ...] | None = None
    metrics: tuple[str, ...] | None = None
    headline: str | None = None  # None: the kind's
    judge: JudgeSpec | None = None
    params: dict[str, Any] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    description: str = ""
    plugin: str = ""


@dataclass(frozen=True)
class TaskContext:
    """What the harness hands every task factory: the registries it may read, and the run's
    protocol and seed. Tasks never fetch registries themselves."""

    datasets: Registry[DatasetSpec]
    metrics: Registry[MetricSpec]
    protocol: str = "paper"
    seed: int = 0
    kind: TaskKind | None = None  # the task's registered kind (None: a task without one)
    # The model registry, for tasks that use a model of their own (a judge: harness/judge).
    models: Registry[ModelSpec] | None = None


@dataclass
class MetricSpec:
    """A metric. ``fn`` signature depends on ``kind`` (see harness/metrics)."""

    name: str
    fn: Callable[..., Any]
    kind: str = "text"  # text | classification
    higher_is_better: bool = True
    version: str = "1"
    params: dict[str, Any] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    description: str = ""
    plugin: str = ""


@dataclass
class DatasetSpec:
    """A dataset adapter. ``load(data_root, split)`` yields Samples of one split."""

    name: str
    load: Callable[[Path | None, str], Iterable[Any]]
    modality: str = ""  # clinical | dermoscopy | pathology | mixed
    classes: tuple[str, ...] = ()
    splits: tuple[str, ...] = ("test",)
    needs_data_root: bool = True
    aliases: tuple[str, ...] = ()
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    plugin: str = ""

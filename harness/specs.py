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
    # The -M options it takes. None: a factory of the older form
    # ``factory(model_path=, device=, seed=, **raw_options)`` (being phased out).
    options: type[Options] | None = None
    runtime_options: tuple[str, ...] = ()  # for the older form: options left out of fingerprints
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


@dataclass
class TaskSpec:
    """A task: one protocol on one dataset, e.g. ``zeroshot/ham10000``.

    ``factory(spec, context, options)`` builds it: ``context`` is a ``TaskContext``,
    ``options`` the user's ``-T`` options parsed into the ``options`` class."""

    name: str
    factory: Callable[..., Any]
    kind: str = ""  # vqa | caption | probe | zeroshot | ...
    dataset: str = ""
    capability: str = "generate"
    aliases: tuple[str, ...] = ()
    description: str = ""
    options: type[Options] | None = None  # None: ``factory(**raw_options)`` (being phased out)
    plugin: str = ""


@dataclass(frozen=True)
class TaskContext:
    """What the harness hands every task factory: the registries it may read, and the run's
    protocol and seed. Tasks never fetch registries themselves."""

    datasets: Registry[DatasetSpec]
    metrics: Registry[MetricSpec]
    protocol: str = "paper"
    seed: int = 0
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

"""Typed registration records. Plugins build these and hand them to ``register``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Capabilities a model may declare; each maps to one method of the model contract
# (see harness/model.py).
CAPABILITIES = ("generate", "encode_images", "score_choices")


@dataclass
class ModelSpec:
    """A model plugin. ``factory(**options)`` builds the model; heavy imports belong inside it."""

    name: str
    factory: Callable[..., Any]
    family: str = ""
    checkpoint: str | None = None
    capabilities: frozenset[str] = frozenset({"generate"})
    aliases: tuple[str, ...] = ()
    description: str = ""
    # -M options that change how requests are sent, never what is answered (concurrency,
    # rate limits, timeouts): left out of the request fingerprint, so changing them on
    # resume re-asks nothing.
    runtime_options: tuple[str, ...] = ()
    # ``weights_key(model_path, options) -> str | None``: a content key of the weights the
    # factory would load, computed without loading them; folded into every request
    # fingerprint, so new weights at the same path are re-asked.
    weights_key: Callable[[str | None, dict[str, str]], str | None] | None = None
    plugin: str = ""  # filled in by the registry: which plugin registered it


@dataclass
class TaskSpec:
    """A task: one protocol on one dataset, e.g. ``zeroshot/ham10000``."""

    name: str
    factory: Callable[..., Any]
    kind: str = ""  # vqa | caption | probe | zeroshot | ...
    dataset: str = ""
    capability: str = "generate"
    aliases: tuple[str, ...] = ()
    description: str = ""
    plugin: str = ""


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

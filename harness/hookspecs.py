"""The four hooks every plugin (built-in or third-party) implements some of."""

from collections.abc import Callable
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("harness")


@hookspec
def register_models(register: Callable[[Any], None]) -> None:
    """Register model plugins: call ``register(ModelSpec(...))`` once per model."""


@hookspec
def register_tasks(register: Callable[[Any], None]) -> None:
    """Register tasks: call ``register(TaskSpec(...))`` once per task."""


@hookspec
def register_metrics(register: Callable[[Any], None]) -> None:
    """Register metrics: call ``register(MetricSpec(...))`` once per metric."""


@hookspec
def register_datasets(register: Callable[[Any], None]) -> None:
    """Register dataset adapters: call ``register(DatasetSpec(...))`` once per dataset."""

"""The hooks a plugin (built-in or third-party) implements some of: five registries and the CLI."""

from collections.abc import Callable
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("harness")


@hookspec
def register_task_kinds(register: Callable[[Any], None]) -> None:
    """Register kinds of task: call ``register(TaskKind(...))`` once per kind. A task of a
    registered kind is then a ``TaskSpec(name=..., kind=..., dataset=...)`` declaration."""


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


@hookspec
def register_commands(cli: Any) -> None:
    """Attach command-line sub-commands: call ``cli.add_command(click_command)``."""

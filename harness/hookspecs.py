"""The hooks a plugin (built-in or third-party) implements some of: four registries and the CLI."""

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


@hookspec
def register_commands(cli: Any) -> None:
    """Attach command-line sub-commands: call ``cli.add_command(click_command)``."""

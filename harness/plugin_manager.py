"""The plugin manager: built-in plugins and third-party ones found through entry points.

Built-ins are registered through the same hooks as third-party plugins, so the
core never special-cases its own models, tasks, metrics or datasets.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pluggy

from harness import hookspecs
from harness.errors import HarnessError
from harness.registry import Registry
from harness.specs import DatasetSpec, MetricSpec, ModelSpec, TaskSpec

ENTRY_POINT_GROUP = "harness"

# Modules shipped with the harness that implement hooks. Each is loaded like a
# third-party plugin: if one fails to import, the others still work.
BUILTIN_PLUGINS: tuple[str, ...] = (
    "harness.datasets.builtin",
    "harness.metrics.builtin",
    "harness.demo.plugin",
    "harness.plugins.baselines",
    "harness.plugins.llava",
    "harness.plugins.llava_med",
    "harness.plugins.huatuo",
    "harness.plugins.qwen_vl",
    "harness.plugins.internvl",
    "harness.plugins.skinvl",
    "harness.plugins.openai_compat",
    "harness.plugins.gemini",
    "harness.tasks.vqa",
    "harness.tasks.probe",
    "harness.tasks.zeroshot",
)


@dataclass
class Registries:
    models: Registry[ModelSpec] = field(default_factory=lambda: Registry("model"))
    tasks: Registry[TaskSpec] = field(default_factory=lambda: Registry("task"))
    metrics: Registry[MetricSpec] = field(default_factory=lambda: Registry("metric"))
    datasets: Registry[DatasetSpec] = field(default_factory=lambda: Registry("dataset"))
    warnings: list[str] = field(default_factory=list)


def make_plugin_manager(
    builtins: tuple[str, ...] = BUILTIN_PLUGINS, entry_points: bool = True
) -> tuple[pluggy.PluginManager, list[str]]:
    """Build a plugin manager; returns it with one warning line per plugin that failed to load."""
    pm = pluggy.PluginManager("harness")
    pm.add_hookspecs(hookspecs)
    warnings: list[str] = []
    for module_name in builtins:
        try:
            pm.register(importlib.import_module(module_name), name=module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue  # a built-in package not present in this install: nothing to load
            warnings.append(_load_warning(module_name, exc))
        except Exception as exc:  # a broken built-in must not break the CLI
            warnings.append(_load_warning(module_name, exc))
    if entry_points:
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            if pm.has_plugin(ep.name):
                continue
            try:
                pm.register(ep.load(), name=ep.name)
            except Exception as exc:
                warnings.append(_load_warning(ep.name, exc))
    return pm, warnings


def _load_warning(name: str, exc: BaseException) -> str:
    return f"plugin '{name}' failed to load and was skipped: {type(exc).__name__}: {exc}"


def collect(pm: pluggy.PluginManager, warnings: list[str] | None = None) -> Registries:
    """Call every plugin's register_* hooks, recording which plugin registered what."""
    regs = Registries(warnings=list(warnings or []))
    hooks: list[tuple[str, Registry[Any]]] = [
        ("register_datasets", regs.datasets),
        ("register_metrics", regs.metrics),
        ("register_models", regs.models),
        ("register_tasks", regs.tasks),
    ]
    for hook_name, registry in hooks:
        hook = getattr(pm.hook, hook_name)
        for impl in reversed(hook.get_hookimpls()):  # registration order
            register = partial(_register, registry, impl.plugin_name)
            try:
                impl.function(register=register)
            except HarnessError:
                raise
            except Exception as exc:
                regs.warnings.append(
                    f"plugin '{impl.plugin_name}' failed in {hook_name} and was skipped: "
                    f"{type(exc).__name__}: {exc}"
                )
    return regs


def _register(registry: Registry[Any], plugin_name: str, spec: Any) -> None:
    spec.plugin = plugin_name
    registry.add(spec)


_cached: Registries | None = None


def get_registries(refresh: bool = False) -> Registries:
    """The process-wide registries, built on first use."""
    global _cached
    if _cached is None or refresh:
        pm, warnings = make_plugin_manager()
        _cached = collect(pm, warnings)
    return _cached

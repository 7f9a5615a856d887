"""The plugin manager: built-in plugins and third-party ones found through entry points.

Built-ins are registered through the same hooks as third-party plugins, so the
core never special-cases its own models, tasks, metrics or datasets.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from dataclasses import dataclass, field
from typing import Any

import pluggy

from harness import hookspecs
from harness.errors import DuplicateNameError, HarnessError
from harness.registry import Registry
from harness.specs import DatasetSpec, MetricSpec, ModelSpec, TaskSpec

ENTRY_POINT_GROUP = "harness"

# Modules shipped with the harness that implement hooks. Each is loaded like a
# third-party plugin: if one fails to import, the others still work.
BUILTIN_PLUGINS: tuple[str, ...] = (
    "harness.datasets.builtin",
    "harness.datasets.cli",
    "harness.metrics.builtin",
    "harness.demo.plugin",
    "harness.plugins.baselines",
    "harness.plugins.llava",
    "harness.plugins.llava_convert",
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
    "harness.leaderboards.cli",
    "harness.report.cli",
    "harness.training.cli",
    "harness.dataset_builder.cli",
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


REGISTRY_HOOKS = ("register_datasets", "register_metrics", "register_models", "register_tasks")


def collect(pm: pluggy.PluginManager, warnings: list[str] | None = None) -> Registries:
    """Call every plugin's register_* hooks, recording which plugin registered what.

    Plugins are taken in registration order (built-ins first). A plugin that registers a
    name another plugin already holds is left out whole, with a warning naming both: one
    bad install never breaks every command.
    """
    regs = Registries(warnings=list(warnings or []))
    staged: dict[str, list[tuple[str, Any]]] = {}  # plugin -> [(hook, spec)], in order
    for hook_name in REGISTRY_HOOKS:
        hook = getattr(pm.hook, hook_name)
        for impl in reversed(hook.get_hookimpls()):  # registration order
            mine: list[Any] = []
            try:
                impl.function(register=mine.append)
            except HarnessError:
                raise
            except Exception as exc:
                regs.warnings.append(
                    f"plugin '{impl.plugin_name}' failed in {hook_name} and was skipped: "
                    f"{type(exc).__name__}: {exc}"
                )
                continue
            staged.setdefault(impl.plugin_name, []).extend((hook_name, s) for s in mine)
    order = [name for name, _ in pm.list_name_plugin()]
    for plugin in sorted(staged, key=order.index):
        _add_plugin(regs, plugin, staged[plugin])
    return regs


def _add_plugin(regs: Registries, plugin: str, specs: list[tuple[str, Any]]) -> None:
    targets = {"register_datasets": regs.datasets, "register_metrics": regs.metrics,
               "register_models": regs.models, "register_tasks": regs.tasks}
    trial = {hook: Registry(reg.kind) for hook, reg in targets.items()}
    for hook, spec in specs:
        spec.plugin = plugin
        try:
            targets[hook].check_new(spec)
            trial[hook].add(spec)  # a plugin that names one thing twice is also a duplicate
        except DuplicateNameError as exc:
            regs.warnings.append(f"plugin '{plugin}' was not loaded: {exc}")
            return
    for hook, spec in specs:
        targets[hook].add(spec)


def attach_commands(pm: pluggy.PluginManager, cli: Any) -> list[str]:
    """Let every plugin attach its sub-commands; a failing or clashing one is a warning."""
    warnings: list[str] = []
    for impl in reversed(pm.hook.register_commands.get_hookimpls()):
        before = dict(cli.commands)
        try:
            impl.function(cli=cli)
        except Exception as exc:
            warnings.append(f"plugin '{impl.plugin_name}' failed in register_commands and was "
                            f"skipped: {type(exc).__name__}: {exc}")
            cli.commands = before
            continue
        clash = sorted(n for n in before if cli.commands.get(n) is not before[n])
        if clash:
            cli.commands = {**cli.commands, **{n: before[n] for n in clash}}
            warnings.append(f"plugin '{impl.plugin_name}' tried to replace the command(s) "
                            f"{', '.join(clash)}; the first one registered stays")
    return warnings


_manager: tuple[pluggy.PluginManager, list[str]] | None = None
_cached: Registries | None = None


def get_plugin_manager() -> tuple[pluggy.PluginManager, list[str]]:
    """The process-wide plugin manager and its load warnings, built on first use."""
    global _manager
    if _manager is None:
        _manager = make_plugin_manager()
    return _manager


def get_registries(refresh: bool = False) -> Registries:
    """The process-wide registries, built on first use (only the CLI calls this)."""
    global _cached, _manager
    if _cached is None or refresh:
        if refresh:
            _manager = None
        pm, warnings = get_plugin_manager()
        _cached = collect(pm, warnings)
    return _cached

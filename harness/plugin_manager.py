"""The plugin manager: built-in plugins and third-party ones found through entry points.

Built-ins are registered through the same hooks as third-party plugins, so the
core never special-cases its own models, tasks, metrics or datasets.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pluggy

from harness import hookspecs
from harness.errors import DuplicateNameError, HarnessError
from harness.options import Options
from harness.registry import Registry
from harness.specs import LAYOUTS, DatasetSpec, MetricSpec, ModelSpec, TaskKind, TaskSpec

ENTRY_POINT_GROUP = "harness"

# Modules shipped with the harness that implement hooks. Each is loaded like a
# third-party plugin: if one fails to import, the others still work.
BUILTIN_PLUGINS: tuple[str, ...] = (
    "harness.datasets.builtin",
    "harness.datasets.cli",
    "harness.metrics.builtin",
    "harness.demo.plugin",
    "harness.plugins.baselines",
    "harness.plugins.rule_judge",
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
    "harness.tasks.dermavqa",
    "harness.tasks.closedqa",
    "harness.leaderboards.cli",
    "harness.judge.cli",
    "harness.report.cli",
    "harness.training.cli",
    "harness.dataset_builder.cli",
    "harness.sweep.plugin",
)


@dataclass
class Registries:
    models: Registry[ModelSpec] = field(default_factory=lambda: Registry("model"))
    tasks: Registry[TaskSpec] = field(default_factory=lambda: Registry("task"))
    metrics: Registry[MetricSpec] = field(default_factory=lambda: Registry("metric"))
    datasets: Registry[DatasetSpec] = field(default_factory=lambda: Registry("dataset"))
    kinds: Registry[TaskKind] = field(default_factory=lambda: Registry("task kind"))
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


REGISTRY_HOOKS = ("register_datasets", "register_metrics", "register_task_kinds",
                  "register_models", "register_tasks")


@contextmanager
def isolated(hook: Any, on_start: Any, on_fail: Any, on_end: Any = None) -> Iterator[None]:
    """Within the block, a call of ``hook`` goes through pluggy (so ``tryfirst``/``trylast``
    and hook wrappers work) with each implementation guarded: ``on_start(plugin)`` before it,
    ``on_end(plugin)`` after it, and ``on_fail(plugin, exc)`` instead when it raises, while
    the other plugins still run.

    pluggy stops a hook call at the first exception; swapping each implementation's function
    for a guarded one for the length of the call is the one way to keep plugins apart.
    """
    impls = [i for i in hook.get_hookimpls() if not (i.wrapper or i.hookwrapper)]
    originals = [impl.function for impl in impls]

    def guard(plugin: str, fn: Any) -> Any:
        def call(*args: Any) -> Any:
            on_start(plugin)
            try:
                result = fn(*args)
            except HarnessError:
                raise
            except Exception as exc:
                on_fail(plugin, exc)
                return None
            if on_end is not None:
                on_end(plugin)
            return result
        return call

    for impl, fn in zip(impls, originals, strict=True):
        impl.function = guard(impl.plugin_name, fn)  # type: ignore[misc]
    try:
        yield
    finally:
        for impl, fn in zip(impls, originals, strict=True):
            impl.function = fn  # type: ignore[misc]


def collect(pm: pluggy.PluginManager, warnings: list[str] | None = None) -> Registries:
    """Call every plugin's register_* hooks, recording which plugin registered what.

    Hooks are called through pluggy, in its order. A plugin that fails in a hook is left
    out of that hook with a warning. Name clashes are settled by load order, not call
    order: built-ins first, then entry points, so an installed package never silently
    replaces a built-in; a plugin that registers a name another already holds is left out
    whole, with a warning naming both.
    """
    regs = Registries(warnings=list(warnings or []))
    staged: dict[str, list[tuple[str, Any]]] = {}  # plugin -> [(hook, spec)]
    for hook_name in REGISTRY_HOOKS:
        current = [""]

        def register(spec: Any, hook_name: str = hook_name, current: list[str] = current
                     ) -> None:
            staged.setdefault(current[0], []).append((hook_name, spec))

        def failed(plugin: str, exc: Exception, hook_name: str = hook_name) -> None:
            staged[plugin] = [(h, s) for h, s in staged.get(plugin, []) if h != hook_name]
            regs.warnings.append(f"plugin '{plugin}' failed in {hook_name} and was skipped: "
                                 f"{type(exc).__name__}: {exc}")

        def start(plugin: str, current: list[str] = current) -> None:
            current[0] = plugin

        hook = getattr(pm.hook, hook_name)
        with isolated(hook, start, failed):
            hook(register=register)
    order = [name for name, _ in pm.list_name_plugin()]
    for plugin in sorted(staged, key=lambda p: order.index(p) if p in order else len(order)):
        _add_plugin(regs, plugin, staged[plugin])
    for spec in list(regs.tasks):
        problem = complete_task_spec(regs, spec)
        if problem:
            regs.tasks.remove(spec.name)
            regs.warnings.append(f"task '{spec.name}' of plugin '{spec.plugin}' was not "
                                 f"loaded: {problem}")
    return regs


def complete_task_spec(regs: Registries, spec: TaskSpec) -> str | None:
    """Fill what a task declaration leaves to its kind; the reason it cannot be used, if any."""
    kind = regs.kinds.get(spec.kind) if spec.kind in regs.kinds else None
    if kind is None and spec.factory is None:
        known = ", ".join(regs.kinds.names()) or "none"
        return f"its kind '{spec.kind}' is not registered (kinds: {known})"
    if kind is not None:
        spec.kind = kind.name
        spec.factory = spec.factory or kind.factory
        spec.options = spec.options or kind.options
        spec.capability = spec.capability or kind.capability
        spec.headline = spec.headline or kind.headline
    spec.options = spec.options or Options
    spec.capability = spec.capability or "generate"
    spec.headline = spec.headline or "accuracy"
    return None


def _add_plugin(regs: Registries, plugin: str, specs: list[tuple[str, Any]]) -> None:
    targets = {"register_datasets": regs.datasets, "register_metrics": regs.metrics,
               "register_task_kinds": regs.kinds, "register_models": regs.models,
               "register_tasks": regs.tasks}
    trial = {hook: Registry(reg.kind) for hook, reg in targets.items()}
    for hook, spec in specs:
        spec.plugin = plugin
        if isinstance(spec, TaskKind) and spec.layout not in LAYOUTS:
            regs.warnings.append(f"plugin '{plugin}' was not loaded: task kind '{spec.name}' "
                                 f"asks for layout '{spec.layout}' (one of "
                                 f"{', '.join(LAYOUTS)})")
            return
        try:
            targets[hook].check_new(spec)
            trial[hook].add(spec)  # a plugin that names one thing twice is also a duplicate
        except DuplicateNameError as exc:
            regs.warnings.append(f"plugin '{plugin}' was not loaded: {exc}")
            return
    for hook, spec in specs:
        targets[hook].add(spec)


def attach_commands(pm: pluggy.PluginManager, cli: Any) -> list[str]:
    """Let every plugin attach its sub-commands, through pluggy. A plugin that fails is undone
    with a warning; when two plugins name one command, the one loaded first (built-ins before
    entry points) keeps it, whatever order pluggy called them in."""
    warnings: list[str] = []
    order = [name for name, _ in pm.list_name_plugin()]
    owner = dict.fromkeys(cli.commands, "")  # command -> plugin ("" for the core's own)
    before: dict[str, Any] = {}

    def start(plugin: str) -> None:
        before.clear()
        before.update(cli.commands)

    def fail(plugin: str, exc: Exception) -> None:
        cli.commands = dict(before)
        warnings.append(f"plugin '{plugin}' failed in register_commands and was skipped: "
                        f"{type(exc).__name__}: {exc}")

    def end(plugin: str) -> None:
        lost = []
        for name, command in list(cli.commands.items()):
            if before.get(name) is command:
                continue
            if name not in owner:
                owner[name] = plugin
                continue
            held = owner[name]
            first = held == "" or (held in order and plugin in order
                                   and order.index(held) < order.index(plugin))
            if first:
                cli.commands[name] = before[name]
                lost.append((plugin, held, name))
            else:  # this plugin was loaded first: it takes the name back
                lost.append((held, plugin, name))
                owner[name] = plugin
        for loser, _, name in lost:
            warnings.append(f"plugin '{loser}' tried to replace the command(s) {name}; the "
                            "first one registered stays")

    hook = pm.hook.register_commands
    with isolated(hook, start, fail, end):
        hook(cli=cli)
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

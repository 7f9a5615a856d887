import pytest

from harness.errors import DuplicateNameError, UnknownNameError
from harness.plugin_manager import collect, make_plugin_manager
from harness.registry import Registry
from harness.specs import ModelSpec


def spec(name: str, plugin: str, aliases: tuple[str, ...] = ()) -> ModelSpec:
    s = ModelSpec(name=name, factory=lambda spec, context, options: None, aliases=aliases)
    s.plugin = plugin
    return s


def test_duplicate_name_names_both_plugins() -> None:
    reg: Registry[ModelSpec] = Registry("model")
    reg.add(spec("llava", "plugin-a"))
    with pytest.raises(DuplicateNameError) as exc:
        reg.add(spec("llava", "plugin-b"))
    assert "plugin-a" in str(exc.value) and "plugin-b" in str(exc.value)


def test_alias_clash_is_a_duplicate() -> None:
    reg: Registry[ModelSpec] = Registry("model")
    reg.add(spec("skinvl-pubmm", "a", aliases=("skinvl",)))
    with pytest.raises(DuplicateNameError):
        reg.add(spec("skinvl", "b"))


def test_unknown_name_suggests_close_ones() -> None:
    reg: Registry[ModelSpec] = Registry("model")
    reg.add(spec("skinvl-pubmm", "a"))
    reg.add(spec("skinvl-mm", "a"))
    with pytest.raises(UnknownNameError) as exc:
        reg.get("skinvl-pubm")
    assert "did you mean 'skinvl-pubmm'" in str(exc.value)
    with pytest.raises(UnknownNameError) as exc:
        reg.get("gpt-9")
    assert "harness list models" in str(exc.value)


def test_alias_and_glob_resolution() -> None:
    reg: Registry[ModelSpec] = Registry("model")
    reg.add(spec("zeroshot/ham10000", "t", aliases=("zs-ham",)))
    reg.add(spec("zeroshot/patch16", "t"))
    reg.add(spec("probe/ham10000", "t"))
    assert reg.get("zs-ham").name == "zeroshot/ham10000"
    assert [s.name for s in reg.match("zeroshot/*")] == ["zeroshot/ham10000", "zeroshot/patch16"]
    with pytest.raises(UnknownNameError):
        reg.match("caption/*")


def test_builtins_register_through_the_hooks() -> None:
    pm, warnings = make_plugin_manager(entry_points=False)
    regs = collect(pm, warnings)
    assert regs.models.get("colour-lbp").plugin == "harness.plugins.baselines"
    assert regs.tasks.get("zeroshot/demo").plugin == "harness.tasks.zeroshot"
    assert regs.datasets.get("demo").plugin == "harness.demo.plugin"


def test_a_plugin_failing_in_its_hook_is_skipped_with_a_warning() -> None:
    from harness import hookimpl

    class Broken:
        @hookimpl
        def register_models(self, register):  # noqa: ANN001
            raise RuntimeError("boom")

    pm, warnings = make_plugin_manager(entry_points=False)
    pm.register(Broken(), name="broken-plugin")
    regs = collect(pm, warnings)
    assert any("broken-plugin" in w and "boom" in w for w in regs.warnings)
    assert "colour-lbp" in regs.models


def make_registries():  # noqa: ANN201
    from harness.plugin_manager import Registries

    return Registries()


def test_prefix_spec_resolves_any_model_id() -> None:
    reg: Registry[ModelSpec] = Registry("model")
    got: dict[str, object] = {}
    s = ModelSpec(name="openai:*", factory=lambda spec, context, options: got.update(
        name=spec.name))
    s.plugin = "api"
    reg.add(s)
    spec = reg.get("openai:Qwen/Qwen2.5-VL-7B-Instruct")
    assert spec.name == "openai:Qwen/Qwen2.5-VL-7B-Instruct"
    spec.factory(spec, None, None)
    assert got == {"name": "openai:Qwen/Qwen2.5-VL-7B-Instruct"}
    assert "openai:x" in reg and "other:x" not in reg
    with pytest.raises(UnknownNameError):
        reg.get("openai:")


def test_runtime_options_stay_out_of_the_fingerprint() -> None:
    from typing import ClassVar

    from harness.options import Options
    from harness.runner import RunOptions, model_key, model_options

    class ApiOptions(Options):
        runtime: ClassVar[tuple[str, ...]] = ("concurrency",)
        concurrency: int = 4
        model_id: str = ""

    s = ModelSpec(name="api", factory=lambda spec, context, options: None, options=ApiOptions)
    keys = []
    for concurrency in ("1", "16"):
        opts = RunOptions(model="api", tasks=[], model_options={"concurrency": concurrency,
                                                                "model_id": "m"})
        keys.append(model_key(s, opts, model_options(s, opts)))
    assert keys[0] == keys[1] and keys[0]["options"] == {"model_id": "m"}


def test_a_model_spec_without_options_builds_as_the_tutorial_shows() -> None:
    """A ModelSpec without ``options=`` takes no -M options and is built by the one factory
    signature (the 0.1.0 form, ``factory(model_path=...)``, is gone)."""
    from harness.errors import UsageError
    from harness.runner import RunOptions, _build_model, model_options

    built = []
    s = ModelSpec(name="plain", factory=lambda spec, context, options: built.append(
        (spec.name, context.device, type(options).__name__)) or object())
    opts = RunOptions(model="plain", tasks=[], device="cpu")
    _build_model(s, opts, model_options(s, opts), make_registries())
    assert built == [("plain", "cpu", "Options")]
    with pytest.raises(UsageError, match="has no option -M x"):
        model_options(s, RunOptions(model="plain", tasks=[], model_options={"x": "1"}))


def test_capabilities_declared_twice_must_agree() -> None:
    from harness.errors import HarnessError
    from harness.runner import RunOptions, _build_model, model_options

    class Encoder:
        capabilities = frozenset({"encode_images"})

    s = ModelSpec(name="liar", factory=lambda spec, context, options: Encoder(),
                  capabilities=frozenset({"generate"}), plugin="liar-plugin")
    opts = RunOptions(model="liar", tasks=[])
    with pytest.raises(HarnessError, match="plugin 'liar-plugin'.*declare them once"):
        _build_model(s, opts, model_options(s, opts), make_registries())

    class Quiet:  # declares none: it gets the spec's, the one place they are declared
        pass

    s = ModelSpec(name="quiet", factory=lambda spec, context, options: Quiet(),
                  capabilities=frozenset({"generate"}))
    assert _build_model(s, opts, model_options(s, opts), make_registries()).capabilities == {
        "generate"}


def test_hooks_are_called_through_pluggy_with_ordering_and_wrappers() -> None:
    """tryfirst decides the call order and a hook wrapper sees the whole registration;
    a plugin that raises is still isolated."""
    import pluggy

    from harness import hookimpl
    from harness.specs import DatasetSpec

    calls: list[str] = []

    class Late:
        @hookimpl(trylast=True)
        def register_datasets(self, register):  # noqa: ANN001
            calls.append("late")
            register(DatasetSpec(name="late-data", load=lambda root, split: []))

    class Early:
        @hookimpl(tryfirst=True)
        def register_datasets(self, register):  # noqa: ANN001
            calls.append("early")
            register(DatasetSpec(name="early-data", load=lambda root, split: []))

    class Broken:
        @hookimpl
        def register_datasets(self, register):  # noqa: ANN001
            calls.append("broken")
            raise RuntimeError("boom")

    class Wrapper:
        @pluggy.HookimplMarker("harness")(wrapper=True)
        def register_datasets(self, register):  # noqa: ANN001
            calls.append("wrapper-before")
            result = yield
            calls.append("wrapper-after")
            return result

    pm, warnings = make_plugin_manager(entry_points=False)
    for name, plugin in (("late", Late()), ("early", Early()), ("broken", Broken()),
                         ("wrapper", Wrapper())):
        pm.register(plugin, name=name)
    regs = collect(pm, warnings)
    mine = [c for c in calls if c in ("early", "late", "broken", "wrapper-before",
                                      "wrapper-after")]
    assert mine[0] == "wrapper-before" and mine[-1] == "wrapper-after"
    assert mine.index("early") < mine.index("broken") < mine.index("late")
    assert "early-data" in regs.datasets and "late-data" in regs.datasets
    assert regs.datasets.get("early-data").plugin == "early"
    assert any("'broken' failed in register_datasets" in w for w in regs.warnings)


def test_a_task_declaration_takes_everything_else_from_its_kind() -> None:
    from harness import hookimpl
    from harness.specs import TaskSpec

    class Declares:
        @hookimpl
        def register_tasks(self, register):  # noqa: ANN001
            register(TaskSpec(name="zeroshot/demo-declared", kind="zeroshot", dataset="demo",
                              headline="balanced_accuracy"))
            register(TaskSpec(name="nokind/x", kind="no-such-kind", dataset="demo"))

    pm, warnings = make_plugin_manager(entry_points=False)
    pm.register(Declares(), name="declares")
    regs = collect(pm, warnings)
    spec = regs.tasks.get("zeroshot/demo-declared")
    kind = regs.kinds.get("zeroshot")
    assert spec.factory is kind.factory and spec.options is kind.options
    assert spec.capability == "generate" and spec.headline == "balanced_accuracy"
    assert "nokind/x" not in regs.tasks
    assert any("task 'nokind/x'" in w and "kind 'no-such-kind' is not registered" in w
               for w in regs.warnings)


def test_a_duplicate_name_disables_only_the_later_plugin() -> None:
    """The later plugin is left out whole (not half-registered); everything else works."""
    from harness import hookimpl
    from harness.specs import DatasetSpec

    class Clashing:
        @hookimpl
        def register_datasets(self, register):  # noqa: ANN001
            register(DatasetSpec(name="clash-only-data", load=lambda root, split: []))

        @hookimpl
        def register_models(self, register):  # noqa: ANN001
            register(ModelSpec(name="colour-lbp", factory=lambda spec, context, options: None))
            register(ModelSpec(name="clash-own-model",
                               factory=lambda spec, context, options: None))

    pm, warnings = make_plugin_manager(entry_points=False)
    pm.register(Clashing(), name="clashing-plugin")
    regs = collect(pm, warnings)
    assert regs.models.get("colour-lbp").plugin == "harness.plugins.baselines"
    assert "clash-own-model" not in regs.models and "clash-only-data" not in regs.datasets
    [warning] = [w for w in regs.warnings if "clashing-plugin" in w]
    assert "'harness.plugins.baselines'" in warning and "colour-lbp" in warning
    assert "zeroshot/demo" in regs.tasks


def test_a_plugin_command_never_replaces_another() -> None:
    import click

    from harness import hookimpl
    from harness.plugin_manager import attach_commands

    @click.command("run")
    def hijack() -> None:
        """Not the harness's run."""

    class Hijacker:
        @hookimpl
        def register_commands(self, cli):  # noqa: ANN001
            cli.add_command(hijack)

    group = click.Group(commands={"run": click.Command("run")})
    original = group.commands["run"]
    pm, _ = make_plugin_manager(builtins=(), entry_points=False)
    pm.register(Hijacker(), name="hijacker")
    warnings = attach_commands(pm, group)
    assert group.commands["run"] is original
    assert warnings and "hijacker" in warnings[0] and "run" in warnings[0]

import pytest

from harness.errors import DuplicateNameError, UnknownNameError
from harness.plugin_manager import collect, make_plugin_manager
from harness.registry import Registry
from harness.specs import ModelSpec


def spec(name: str, plugin: str, aliases: tuple[str, ...] = ()) -> ModelSpec:
    s = ModelSpec(name=name, factory=lambda **kw: None, aliases=aliases)
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


def test_prefix_spec_resolves_any_model_id() -> None:
    reg: Registry[ModelSpec] = Registry("model")
    got: dict[str, object] = {}
    s = ModelSpec(name="openai:*", factory=lambda **kw: got.update(kw))
    s.plugin = "api"
    reg.add(s)
    spec = reg.get("openai:Qwen/Qwen2.5-VL-7B-Instruct")
    assert spec.name == "openai:Qwen/Qwen2.5-VL-7B-Instruct"
    spec.factory(seed=1)
    assert got == {"model_id": "Qwen/Qwen2.5-VL-7B-Instruct", "seed": 1}
    assert "openai:x" in reg and "other:x" not in reg
    with pytest.raises(UnknownNameError):
        reg.get("openai:")


def test_runtime_options_stay_out_of_the_fingerprint() -> None:
    from harness.runner import RunOptions, model_key

    s = ModelSpec(name="api", factory=lambda **kw: None, runtime_options=("concurrency",))
    a = model_key(s, RunOptions(model="api", tasks=[], model_options={"concurrency": "1",
                                                                       "model_id": "m"}))
    b = model_key(s, RunOptions(model="api", tasks=[], model_options={"concurrency": "16",
                                                                       "model_id": "m"}))
    assert a == b and a["options"] == {"model_id": "m"}


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
            register(ModelSpec(name="colour-lbp", factory=lambda **kw: None))
            register(ModelSpec(name="clash-own-model", factory=lambda **kw: None))

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

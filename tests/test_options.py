"""One typed options mechanism for models and tasks: parsing, sentences, help, fingerprints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import pytest
from pydantic import Field, PositiveInt

from harness.errors import UsageError
from harness.options import Options, describe, parse
from harness.plugin_manager import collect, make_plugin_manager
from harness.runner import RunOptions, model_key, model_options
from tests.cli_helpers import run_harness


class Example(Options):
    runtime = ("concurrency",)
    refused = {"api_key": "takes no key as an option"}

    dtype: Literal["auto", "bf16"] = Field("auto", description="precision")
    batch_size: PositiveInt = Field(4, description="samples per call")
    verbose: bool = False
    concurrency: PositiveInt = 8
    path: str | None = None


def test_text_from_the_command_line_becomes_typed_values() -> None:
    opts = parse(Example, {"batch_size": "16", "verbose": "yes", "concurrency": "2"},
                 "model 'x'", "-M")
    assert (opts.batch_size, opts.verbose, opts.dtype) == (16, True, "auto")
    # what shapes answers: the options given, parsed, without the runtime ones
    assert opts.given() == {"batch_size": 16, "verbose": True}


@pytest.mark.parametrize(("raw", "sentence"), [
    ({"batch_sise": "2"}, "model 'x' has no option -M batch_sise; did you mean 'batch_size'? "
                          "(its options: dtype, batch_size, verbose, concurrency, path)"),
    ({"dtype": "fp64"}, "model 'x': option -M dtype='fp64' is not valid (input should be "
                        "'auto' or 'bf16')"),
    ({"batch_size": "0"}, "model 'x': option -M batch_size='0' is not valid (input should be "
                          "greater than 0)"),
    ({"verbose": "perhaps"}, "model 'x': option -M verbose='perhaps' is not valid"),
    ({"api_key": "sk-123"}, "model 'x' takes no key as an option"),
])
def test_every_mistake_is_one_sentence_naming_the_option(raw: dict[str, str],
                                                         sentence: str) -> None:
    with pytest.raises(UsageError) as info:
        parse(Example, raw, "model 'x'", "-M")
    assert str(info.value).startswith(sentence)
    assert "\n" not in str(info.value) and "sk-123" not in str(info.value)


def test_described_for_help() -> None:
    rows = {i.name: i for i in describe(Example)}
    assert rows["dtype"].type == "auto|bf16" and rows["dtype"].help == "precision"
    assert rows["batch_size"].type == "int" and rows["batch_size"].default == 4
    assert rows["path"].type == "str" and rows["path"].default is None


def test_equal_settings_written_differently_share_a_fingerprint() -> None:
    regs = collect(*make_plugin_manager(entry_points=False))
    spec = regs.models.get("knn-retrieval")

    def key(**options: str) -> dict:
        opts = RunOptions(model=spec.name, tasks=[], model_options=options)
        return model_key(spec, opts, model_options(spec, opts))

    assert key(label_index="ham10000") == key(label_index=" ham10000 ")
    assert key(label_index="ham10000") != key()


def test_every_builtin_plugin_declares_its_options() -> None:
    regs = collect(*make_plugin_manager(entry_points=False))
    assert [m.name for m in regs.models if m.options is None] == []
    assert [t.name for t in regs.tasks if t.options is None] == []
    for spec in [*regs.models, *regs.tasks]:
        for info in describe(spec.options):
            assert info.help, f"{spec.name}: option {info.name} has no help text"


def test_list_verbose_and_help_model_print_the_options(tmp_path: Path) -> None:
    shown = run_harness("run", "--help-model", "llava-med-7b", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "-M dtype (auto|fp32|fp16|bf16, default 'auto')" in shown.stdout
    assert "-M vision_tower (str, default None)" in shown.stdout
    listed = run_harness("list", "tasks", "--verbose", cwd=tmp_path)
    assert "-T matcher (paper|sound, default None)" in listed.stdout
    records = json.loads(run_harness("list", "models", "--format", "json", cwd=tmp_path).stdout)
    api = next(r for r in records if r["name"] == "openai-compatible")
    assert {o["name"]: o["runtime"] for o in api["options"]}["concurrency"] is True

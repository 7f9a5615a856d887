"""The original-LLaVA-format converter: caching, errors, the CLI, tower rules.

That a converted model computes what the original code computes (token ids, logits,
greedy tokens) is proven against the original code itself by ``tests/test_oracle_*.py``;
these tests cover the converter's structure on tiny checkpoints written in the original
format by ``tiny_models.build_original_llava``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from safetensors.torch import load_file, save_file
from tiny_models import build_original_llava, write_images

from harness.errors import HarnessError, UsageError
from harness.plugins.llava_convert import convert, convert_command, ensure_converted
from tests.load import load


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_images(tmp_path_factory.mktemp("images"))


def test_conversion_is_cached_by_source_hash(tmp_path: Path) -> None:
    source = build_original_llava(tmp_path / "src", "mistral")
    first, _ = ensure_converted("t", source, None, False)
    stamp = (first / "model.safetensors").stat().st_mtime_ns
    again, _ = ensure_converted("t", source, None, False)
    assert again == first and (first / "model.safetensors").stat().st_mtime_ns == stamp
    config = json.loads((source / "config.json").read_text())
    config["mm_vision_select_layer"] = -1  # a different source: a different cache entry
    (source / "config.json").write_text(json.dumps(config))
    other, _ = ensure_converted("t", source, None, False)
    assert other != first


def test_missing_projector_weight_is_an_error(tmp_path: Path) -> None:
    source = build_original_llava(tmp_path / "src", "mistral",
                                  drop_keys=["model.mm_projector.2.bias"])
    with pytest.raises(HarnessError, match="multi_modal_projector"):
        load("llava-med-7b", model_path=str(source), device="cpu", seed=0)


def test_unexpected_weight_is_an_error(tmp_path: Path) -> None:
    source = build_original_llava(tmp_path / "src", "mistral")
    state = load_file(str(source / "model.safetensors"))
    state["model.image_newline"] = state["model.norm.weight"].clone()
    save_file(state, str(source / "model.safetensors"))
    with pytest.raises(HarnessError, match="model.image_newline"):
        convert(source, tmp_path / "out")


def test_pickle_source_needs_permission(tmp_path: Path) -> None:
    import torch

    source = build_original_llava(tmp_path / "src", "mistral")
    torch.save(load_file(str(source / "model.safetensors")), source / "pytorch_model.bin")
    (source / "model.safetensors").unlink()
    with pytest.raises(UsageError, match="allow-pickle"):
        convert(source, tmp_path / "out")
    out = convert(source, tmp_path / "out2", allow_pickle=True)
    assert (out / "model.safetensors").is_file()


def test_convert_command(tmp_path: Path) -> None:
    source = build_original_llava(tmp_path / "src", "qwen2")
    out = tmp_path / "converted"
    result = CliRunner().invoke(convert_command, [str(source), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(out)
    config = json.loads((out / "config.json").read_text())
    assert config["architectures"] == ["LlavaForConditionalGeneration"]
    assert config["text_config"]["model_type"] == "qwen2"
    again = CliRunner().invoke(convert_command, [str(source), "--output", str(out)])
    # the CLI group turns this UsageError into one sentence and exit code 2
    assert isinstance(again.exception, UsageError) and "not empty" in str(again.exception)


def test_converted_features_differ_per_image(tmp_path: Path, images: list[Path]) -> None:
    source = build_original_llava(tmp_path / "src", "mistral")
    model = load("llava-med-7b", model_path=str(source), device="cpu", seed=0)
    feats = model.encode_images(images)
    assert feats.shape[0] == len(images) and not np.allclose(feats[0], feats[2])


def _with_config(source: Path, **fields: Any) -> Path:
    config = json.loads((source / "config.json").read_text())
    config.update(fields)
    (source / "config.json").write_text(json.dumps(config))
    return source


def test_tower_rule_per_family(tmp_path: Path) -> None:
    """LLaVA-Med: mm_vision_tower always; SkinVL (MM-Skin's LLaVA code): the checkpoint's
    tower when unfreeze_mm_vision_tower is set; HuatuoGPT-Vision: the checkpoint's."""
    source = _with_config(build_original_llava(tmp_path / "src", "mistral"),
                          unfreeze_mm_vision_tower=True)
    rules = {}
    for family in ("llava-med", "skinvl", "huatuogpt-vision"):
        _, record = ensure_converted("t", source, None, False, family)
        rules[family] = record["tower_from_checkpoint"]
    assert rules == {"llava-med": False, "skinvl": True, "huatuogpt-vision": True}


def test_unresolvable_relative_tower_is_one_sentence(tmp_path: Path) -> None:
    source = _with_config(build_original_llava(tmp_path / "src", "mistral"),
                          mm_vision_tower="./vit/missing")
    with pytest.raises(UsageError, match="neither an existing folder nor an openai/laion"):
        ensure_converted("t", source, None, False, "llava-med")

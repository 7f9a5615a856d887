"""SkinVL: a merged checkpoint and a peft LoRA adapter over a LLaVA-architecture base."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from model_contract import check_generate_batches, check_identity
from tiny_models import build_llava, write_images

from harness.errors import HarnessError, UsageError
from tests.load import load


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_llava(tmp_path_factory.mktemp("skinvl") / "base", "mistral")


@pytest.fixture(scope="module")
def adapter(base: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LoRA adapter (with the projector saved whole) whose weights are not the identity."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlavaForConditionalGeneration

    model = LlavaForConditionalGeneration.from_pretrained(base)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=r".*language_model.*\.(q_proj|v_proj)",
                        modules_to_save=["multi_modal_projector"], task_type="CAUSAL_LM")
    peft_model = get_peft_model(model, config)
    torch.manual_seed(1)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_" in name or "modules_to_save" in name:
                p.add_(torch.randn_like(p) * 0.2)
    folder = tmp_path_factory.mktemp("skinvl") / "adapter"
    peft_model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_images(tmp_path_factory.mktemp("images"))


def _logits(model: Any, image: Path) -> Any:
    import torch

    enc = model._encode([model.prompt_text("What is it?", 1)], model._images([image]))
    with torch.no_grad():
        return model.model(**enc).logits


def test_merged_checkpoint(base: Path, images: list[Path]) -> None:
    model = load("skinvl", model_path=str(base), device="cpu", seed=0)
    check_generate_batches(model, images)
    assert "adapter" not in check_identity(model, "skinvl")


def test_adapter_is_merged_into_its_base(base: Path, adapter: Path, images: list[Path]) -> None:
    import torch
    from peft import PeftModel
    from transformers import LlavaForConditionalGeneration

    model = load("skinvl", model_path=str(adapter), device="cpu", seed=0)
    ident = check_identity(model, "skinvl")
    assert ident["checkpoint"] == str(adapter) and ident["adapter"]["base"] == str(base)
    reference = PeftModel.from_pretrained(LlavaForConditionalGeneration.from_pretrained(base),
                                          adapter).eval()
    plain = load("skinvl", model_path=str(base), device="cpu", seed=0)
    enc = model._encode([model.prompt_text("What is it?", 1)], model._images(images[:1]))
    with torch.no_grad():
        expected = reference(**enc).logits
    got = _logits(model, images[0])
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
    assert (got - _logits(plain, images[0])).abs().max() > 1e-3  # the adapter changed it
    check_generate_batches(model, images)


def test_adapter_that_does_not_fit_is_an_error(base: Path, adapter: Path,
                                               tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "adapter_config.json").write_text((adapter / "adapter_config.json").read_text())
    weights = load_file(str(adapter / "adapter_model.safetensors"))
    key = next(k for k in weights if "lora_A" in k)
    weights[key.replace("layers.0", "layers.7")] = weights[key].clone()
    save_file(weights, str(broken / "adapter_model.safetensors"))
    with pytest.raises(HarnessError, match="does not fit"):
        load("skinvl", model_path=str(broken), device="cpu", seed=0)


def test_adapter_without_base_or_path(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="needs --model-path"):
        load("skinvl", model_path=None, device="cpu", seed=0)
    (tmp_path / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA"}))
    with pytest.raises(UsageError, match="names no base model"):
        load("skinvl", model_path=str(tmp_path), device="cpu", seed=0)

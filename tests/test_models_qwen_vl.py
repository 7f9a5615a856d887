"""Qwen2.5-VL (``qwen2.5-vl-7b``) on a tiny checkpoint: the model contract, without torchvision."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from model_contract import (
    check_encode_images,
    check_generate_batches,
    check_identity,
    check_score_choices,
)
from tiny_models import HIDDEN, build_qwen2_5_vl, write_images

from tests.load import load


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = build_qwen2_5_vl(tmp_path_factory.mktemp("qwen") / "ckpt")
    return load("qwen2.5-vl-7b", model_path=str(folder), device="cpu", seed=0)


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_images(tmp_path_factory.mktemp("images"))


def test_generate_batch_rows_equal_single(model: Any, images: list[Path]) -> None:
    check_generate_batches(model, images)


def test_encode_images_pooled_after_merger(model: Any, images: list[Path]) -> None:
    check_encode_images(model, images, HIDDEN)


def test_score_choices_equal_one_at_a_time(model: Any, images: list[Path]) -> None:
    # mrope: the cached continuation needs the prefill's rope deltas to match a full pass
    check_score_choices(model, images)


def test_checkpoint_chatml_template(model: Any) -> None:
    text = model.prompt_text("What is it?", 1)
    assert text == ("<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>What is it?"
                    "<|im_end|>\n<|im_start|>assistant\n")
    check_identity(model, "qwen2.5-vl")

"""LLaVA-1.6 (``llava-v1.6-7b``) on a tiny LlavaNext checkpoint: the model contract."""

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
from tiny_models import HIDDEN, build_llava_next, write_images

from harness.plugins.llava import VICUNA_SYSTEM
from tests.load import load


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = build_llava_next(tmp_path_factory.mktemp("llava-next") / "ckpt")
    return load("llava-v1.6-7b", model_path=str(folder), device="cpu", seed=0)


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_images(tmp_path_factory.mktemp("images"))


def test_generate_batch_rows_equal_single(model: Any, images: list[Path]) -> None:
    check_generate_batches(model, images)


def test_encode_images_pooled_after_projector(model: Any, images: list[Path]) -> None:
    check_encode_images(model, images, HIDDEN)


def test_score_choices_equal_one_at_a_time(model: Any, images: list[Path]) -> None:
    check_score_choices(model, images)


def test_vicuna_prompt_and_identity(model: Any) -> None:
    text = model.prompt_text("What is it?", 1)
    assert text == f"<s>{VICUNA_SYSTEM} USER: <image>\nWhat is it? ASSISTANT:"
    ident = check_identity(model, "llava-next")
    assert ident["architecture"] == "LlavaNextForConditionalGeneration"
    assert ident["dtype"] == "float32" and ident["device"] == "cpu"

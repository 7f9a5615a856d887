"""LLaVA-Med (``llava-med-7b``): a tiny original-format checkpoint, converted on load."""

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
from tiny_models import HIDDEN, build_original_llava, write_images

from tests.load import load


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = build_original_llava(tmp_path_factory.mktemp("llava-med") / "ckpt", "mistral")
    return load("llava-med-7b", model_path=str(folder), device="cpu", seed=0)


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_images(tmp_path_factory.mktemp("images"))


def test_generate_batch_rows_equal_single(model: Any, images: list[Path]) -> None:
    check_generate_batches(model, images)


def test_encode_images(model: Any, images: list[Path]) -> None:
    check_encode_images(model, images, HIDDEN)


def test_score_choices_equal_one_at_a_time(model: Any, images: list[Path]) -> None:
    check_score_choices(model, images)


def test_mistral_instruct_prompt(model: Any, images: list[Path]) -> None:
    text = model.prompt_text("What is it?", 1)
    assert text == "<s>[INST] <image>\nWhat is it? [/INST]"
    enc = model._encode([text], model._images(images[:1]))
    assert enc["input_ids"][0].tolist().count(model.tokenizer.bos_token_id) == 1


def test_identity_records_the_conversion(model: Any) -> None:
    ident = check_identity(model, "llava-med")
    assert ident["converted_from"]["source_architecture"] == "LlavaMistralForCausalLM"
    assert ident["pad_to_square"] is True
    # the added <image> row is never generated nor scored: the source had no such token
    assert ident["blocked_token_ids"] == [model.model.config.image_token_id]

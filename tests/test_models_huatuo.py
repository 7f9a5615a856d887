"""HuatuoGPT-Vision (``huatuogpt-vision-7b``): llava_qwen2 format converted; expand-to-square."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
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
    folder = build_original_llava(tmp_path_factory.mktemp("huatuo") / "ckpt", "qwen2")
    return load("huatuogpt-vision-7b", model_path=str(folder), device="cpu", seed=0)


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_images(tmp_path_factory.mktemp("images"))


def test_generate_batch_rows_equal_single(model: Any, images: list[Path]) -> None:
    check_generate_batches(model, images)


def test_encode_images(model: Any, images: list[Path]) -> None:
    check_encode_images(model, images, HIDDEN)


def test_score_choices_equal_one_at_a_time(model: Any, images: list[Path]) -> None:
    check_score_choices(model, images)


def test_authors_prompt_format(model: Any) -> None:
    assert model.prompt_text("  What is it? ", 1) == (
        "<|user|>\n<image>\nWhat is it?\n<|assistant|>\n")
    check_identity(model, "huatuogpt-vision")


def test_expand_to_square_with_mean_colour(model: Any, images: list[Path]) -> None:
    from PIL import Image

    wide = images[0]  # 48 x 32
    padded = model._images([wide])[0]
    assert padded.size == (48, 48)
    arr = np.asarray(padded)
    mean = [int(x * 255) for x in model.processor.image_processor.image_mean]
    assert (arr[:8] == mean).all() and (arr[-8:] == mean).all()
    assert (arr[8:40] == np.asarray(Image.open(wide).convert("RGB"))).all()
    # the features are those of the padded image, not of a centre crop of the original; the
    # harness pads itself (the processor's own do_pad is off), and transformers' own padding
    # of the original image agrees
    feats = model.encode_images([wide])
    processor = model.processor.image_processor
    assert processor.do_pad is False
    model.pad_to_square = False
    try:
        cropped = model.encode_images([wide])
        processor.do_pad = True
        by_processor = model.encode_images([wide])
    finally:
        model.pad_to_square, processor.do_pad = True, False
    assert np.abs(feats - cropped).max() > 1e-5
    np.testing.assert_allclose(feats, by_processor, rtol=1e-5, atol=1e-7)

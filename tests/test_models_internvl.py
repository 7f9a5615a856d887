"""InternVL (``internvl2.5-8b``) on a tiny -hf style checkpoint: the model contract."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from model_contract import (
    check_encode_images,
    check_generate_batches,
    check_identity,
    check_score_choices,
)
from tiny_models import HIDDEN, build_internvl, write_images

from harness.errors import UsageError
from harness.plugins.internvl import INTERNVL_SYSTEM
from tests.load import load


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_internvl(tmp_path_factory.mktemp("internvl") / "ckpt")


@pytest.fixture(scope="module")
def model(checkpoint: Path) -> Any:
    return load("internvl2.5-8b", model_path=str(checkpoint), device="cpu", seed=0)


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_images(tmp_path_factory.mktemp("images"))


def test_generate_batch_rows_equal_single(model: Any, images: list[Path]) -> None:
    check_generate_batches(model, images)


def test_encode_images_pooled_over_tiles(model: Any, images: list[Path]) -> None:
    # non-square images are cut into several tiles: features are pooled per image
    check_encode_images(model, images, HIDDEN)


def test_score_choices_equal_one_at_a_time(model: Any, images: list[Path]) -> None:
    check_score_choices(model, images)


def test_authors_system_message(model: Any) -> None:
    text = model.prompt_text("What is it?", 1)
    assert text.startswith(f"<|im_start|>system\n{INTERNVL_SYSTEM}<|im_end|>\n")
    assert text.endswith("<|im_start|>user\n<IMG_CONTEXT>\nWhat is it?<|im_end|>\n"
                         "<|im_start|>assistant\n")
    check_identity(model, "internvl")


def test_original_remote_code_format_refused(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["InternVLChatModel"],
                                                      "model_type": "internvl_chat"}))
    with pytest.raises(UsageError, match="remote-code InternVL format"):
        load("internvl2.5-8b", model_path=str(tmp_path), device="cpu", seed=0)

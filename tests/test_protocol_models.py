"""What the protocol changes in the model plugins: SkinVL's image preprocessing, the system
sentence of LLaVA-1.6, and the generation arguments that reach transformers."""

from __future__ import annotations

import ast
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from authors_code import show
from PIL import Image
from tiny_models import build_llava, write_images

from harness.errors import UsageError
from harness.plugins.llava import VICUNA_SYSTEM
from harness.protocol.settings import AUTHORS_COMMIT, AUTHORS_REPO
from harness.types import DECODING_PRESETS, Request
from tests.load import load


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_llava(tmp_path_factory.mktemp("protocol-skinvl") / "base", "mistral")


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_images(tmp_path_factory.mktemp("images"), n=4)[3]  # 64 x 24: far from square


def pixels(model, path: Path) -> np.ndarray:  # noqa: ANN001
    return model.processor.image_processor(model._images([path]),
                                           return_tensors="np")["pixel_values"][0]


def padded(original: Image.Image, colour: tuple[int, int, int]) -> Image.Image:
    """expand2square restated: the short side padded equally with ``colour``."""
    w, h = original.size
    canvas = Image.new(original.mode, (max(w, h), max(w, h)), colour)
    canvas.paste(original, ((max(w, h) - w) // 2, (max(w, h) - h) // 2))
    return canvas


def test_paper_protocol_crops_as_the_authors_and_sound_pads(base: Path, image: Path) -> None:
    original = Image.open(image).convert("RGB")
    assert original.size[0] != original.size[1]
    paper = load("skinvl", model_path=str(base), device="cpu", seed=0, protocol="paper")
    processor = paper.processor.image_processor
    # the authors' process_images with expand2square commented out: the processor alone
    authors = processor.preprocess(original, return_tensors="np")["pixel_values"][0]
    np.testing.assert_array_equal(pixels(paper, image), authors)
    assert paper.identity()["image_preprocessing"].startswith("the processor")

    sound = load("skinvl", model_path=str(base), device="cpu", seed=0, protocol="sound")
    colour = tuple(int(x * 255) for x in processor.image_mean)
    expected = processor.preprocess(padded(original, colour), return_tensors="np")
    np.testing.assert_array_equal(pixels(sound, image), expected["pixel_values"][0])
    assert not np.array_equal(pixels(sound, image), authors)

    override = load("skinvl", model_path=str(base), device="cpu", protocol="paper",
                    square="pad")
    np.testing.assert_array_equal(pixels(override, image), pixels(sound, image))
    with pytest.raises(UsageError, match=r"square='round' is not valid \(input should be 'pad' "
                       r"or 'crop'\)"):
        load("skinvl", model_path=str(base), device="cpu", seed=0, square="round")


def test_generate_receives_the_recorded_arguments(base: Path, image: Path) -> None:
    model = load("skinvl", model_path=str(base), device="cpu", seed=0, protocol="paper")
    decoding = DECODING_PRESETS["paper-zeroshot"].with_seed(0)
    kwargs = model._generation_kwargs(decoding)
    assert {k: v for k, v in kwargs.items() if k != "pad_token_id"} == decoding.generate_kwargs()
    # transformers runs the authors' beam sampling (5 beams, do_sample) on the tiny model
    short = Request("a", "What is it?", images=(image,),
                    decoding=replace(decoding, max_new_tokens=4))
    [answer] = model.generate([short])
    assert isinstance(answer, str)


def test_llava_next_system_sentence_is_the_authors_v1() -> None:
    tree = ast.parse(show(AUTHORS_REPO, AUTHORS_COMMIT, "llava/conversation.py"))
    systems = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            for kw in node.value.keywords:
                if kw.arg == "system":
                    systems[node.targets[0].id] = ast.literal_eval(kw.value)  # type: ignore
    assert VICUNA_SYSTEM == systems["conv_vicuna_v1"]  # what conv-mode v1 names
    assert VICUNA_SYSTEM != systems["conv_llava_v1"]  # 'human', the old mistake
    assert systems["conv_mistral_instruct"] == ""  # SkinVL/LLaVA-Med: no system sentence

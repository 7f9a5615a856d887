"""SkinVL through the harness equals ZwQ803/MM-Skin's own code (transformers 4.36.2).

The MM-Skin code (a fork of haotian-liu/LLaVA) loads the tower from ``mm_vision_tower``
unless ``unfreeze_mm_vision_tower`` is set; the fixture's checkpoint holds a different
tower copy, so taking it would fail here. MM-Skin's evaluation does not pad images to a
square (``llava/mm_utils.py:177`` has ``expand2square`` commented out): the paper protocol
(the default) resizes and centre-crops SkinVL's images likewise, and the wide and tall
cases check it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from oracle_check import assert_matches, load_fixture

from tests.load import load

FIXTURE = load_fixture("skinvl")


@pytest.fixture(scope="module")
def model() -> Iterator[Any]:
    mp = pytest.MonkeyPatch()
    mp.chdir(FIXTURE.folder)  # MM-Skin resolves ``mm_vision_tower: tower`` from here
    yield load("skinvl-mm", model_path=str(Path("checkpoint").resolve()), device="cpu", seed=0)
    mp.undo()


@pytest.mark.parametrize("case", FIXTURE.cases, ids=[c["key"] for c in FIXTURE.cases])
def test_oracle_skinvl(model: Any, case: dict[str, Any]) -> None:
    assert not model.pad_to_square, "the paper protocol crops SkinVL's images, as MM-Skin does"
    assert_matches(model, FIXTURE, case)


def test_oracle_skinvl_token_ids_for_every_image(model: Any) -> None:
    from harness.plugins.llava_tokens import harness_ids

    for case in FIXTURE.cases:
        assert harness_ids(model, model.prompt_text(case["question"], 1)) == case["input_ids"]

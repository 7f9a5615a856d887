"""HuatuoGPT-Vision through the harness equals FreedomIntelligence/HuatuoGPT-Vision's
``cli.py`` (transformers 4.40.0, the version its published config names).

As published, the fixture's ``mm_vision_tower`` is relative (``./vit/...``, resolved
against the checkpoint folder) and the checkpoint holds its own tower weights, which
``HuatuoChatbot`` uses (``init_vision_encoder_from_ckpt=True``); the ``vit`` folder's
tower differs from them, so taking it would fail here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from oracle_check import assert_matches, load_fixture, measure

from harness.plugins.llava_convert import RECORD
from tests.load import load

FIXTURE = load_fixture("huatuo")
CHECKPOINT = FIXTURE.folder / "huatuogpt-vision-7b"


@pytest.fixture(scope="module")
def model() -> Any:
    return load("huatuogpt-vision-7b", model_path=str(CHECKPOINT), device="cpu", seed=0)


@pytest.mark.parametrize("case", FIXTURE.cases, ids=[c["key"] for c in FIXTURE.cases])
def test_oracle_huatuo(model: Any, case: dict[str, Any]) -> None:
    assert_matches(model, FIXTURE, case)


def test_oracle_tower_from_the_checkpoint_relative_path_resolved(model: Any) -> None:
    record = json.loads((model.folder / RECORD).read_text())
    assert record["tower_from_checkpoint"]
    tower = CHECKPOINT / "vit" / "clip_vit_tiny"
    assert Path(record["vision_tower"]).resolve() == tower.resolve()


def test_vision_tower_option_overrides_the_family_rule(model: Any) -> None:
    """-M vision_tower=DIR: that tower's weights (here the vit folder's pickle) are used."""
    tower = CHECKPOINT / "vit" / "clip_vit_tiny"
    other = load("huatuogpt-vision-7b", model_path=str(CHECKPOINT), device="cpu", seed=0,
                        vision_tower=str(tower), allow_pickle="true")
    record = json.loads((other.folder / RECORD).read_text())
    assert not record["tower_from_checkpoint"] and other.folder != model.folder
    assert measure(other, FIXTURE, FIXTURE.cases[0]).max_logit_diff > 1e-2

"""LLaVA-Med through the harness equals microsoft/LLaVA-Med's own code (transformers 4.36.2).

The fixture's checkpoint holds tower weights that differ from its ``mm_vision_tower``
folder, as LLaVA-Med ignores the former (``llava/model/builder.py:71-72``): taking the
checkpoint's tower would fail these tests. Its tokenizer is the real Mistral
SentencePiece model, slow-only, as LLaVA training saves it.

LLaVA-Med's own code pads images to a square (``expand2square``); the paper protocol
evaluates it as the authors' scripts did, which crop (docs/fidelity.md). The oracle is the
model's own code, so these tests load it with ``square=pad``, the ``sound`` protocol's choice.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from oracle_check import ORACLE, assert_matches, load_fixture

from harness.errors import HarnessError
from harness.plugins.llava_convert import RECORD
from tests.load import load

FIXTURE = load_fixture("llava-med")


@pytest.fixture(scope="module")
def in_fixture() -> Iterator[Path]:
    """LLaVA-Med resolves ``mm_vision_tower: tower`` from the working directory."""
    mp = pytest.MonkeyPatch()
    mp.chdir(FIXTURE.folder)
    yield FIXTURE.folder
    mp.undo()


@pytest.fixture(scope="module")
def model(in_fixture: Path) -> Any:
    return load("llava-med-7b", model_path=str(in_fixture / "checkpoint"), device="cpu", seed=0,
                          square="pad")


@pytest.mark.parametrize("case", FIXTURE.cases, ids=[c["key"] for c in FIXTURE.cases])
def test_oracle_llava_med(model: Any, case: dict[str, Any]) -> None:
    assert_matches(model, FIXTURE, case)


def test_oracle_tower_comes_from_mm_vision_tower(model: Any) -> None:
    record = json.loads((model.folder / RECORD).read_text())
    assert record["tower_in_checkpoint"] and not record["tower_from_checkpoint"]


def _variant(tmp_path: Path, legacy: object, tokenizer_json: bool = False) -> Path:
    """The fixture's checkpoint with ``legacy`` set (or absent) and maybe a tokenizer.json."""
    from transformers import AutoTokenizer

    src = tmp_path / "checkpoint"
    shutil.copytree(FIXTURE.folder / "checkpoint", src)
    path = src / "tokenizer_config.json"
    config = json.loads(path.read_text())
    config.pop("legacy")
    if legacy is not None:
        config["legacy"] = legacy
    path.write_text(json.dumps(config))
    if tokenizer_json:  # as a transformers 5 save writes it: no legacy key, tokenizer.json
        AutoTokenizer.from_pretrained(src).save_pretrained(src)
        assert "legacy" not in json.loads(path.read_text())
    return src


@pytest.mark.parametrize(("legacy", "tokenizer_json"),
                         [(False, False), (None, False), (None, True)],
                         ids=["legacy-false", "legacy-absent", "tokenizer-json"])
def test_oracle_ids_whatever_the_legacy_flag(tmp_path: Path, in_fixture: Path, legacy: object,
                                             tokenizer_json: bool) -> None:
    """transformers 4.36 splits legacy-style whatever the flag; so must the harness."""
    from harness.plugins.llava_tokens import harness_ids

    source = _variant(tmp_path, legacy, tokenizer_json)
    model = load("llava-med-7b", model_path=str(source), device="cpu", seed=0, square="pad")
    for case in FIXTURE.cases[:2]:
        assert harness_ids(model, model.prompt_text(case["question"], 1)) == case["input_ids"]


def test_a_tokenizer_that_splits_differently_is_refused(tmp_path: Path, model: Any) -> None:
    converted = tmp_path / "converted"
    shutil.copytree(model.folder, converted)
    path = converted / "tokenizer.json"
    spec = json.loads(path.read_text())
    assert spec["pre_tokenizer"]["prepend_scheme"] == "always"  # the legacy spacing
    spec["pre_tokenizer"]["prepend_scheme"] = "first"  # the new one: "▁[" becomes "["
    path.write_text(json.dumps(spec))
    with pytest.raises(HarnessError, match="does not split the prompt as the family's original"):
        load("llava-med-7b", model_path=str(converted), device="cpu", seed=0)


def test_oracle_fixture_is_small() -> None:
    total = sum(p.stat().st_size for p in ORACLE.rglob("*") if p.is_file())
    assert total < 5_000_000

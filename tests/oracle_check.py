"""Compare the harness's loading path with a fixture made by a family's original code.

The fixtures under ``tests/oracle/<family>/`` were written by
``tests/oracle/upstream_build.py`` running the upstream code (see
``tests/oracle/make_fixtures.py``): an original-format checkpoint, and for each image
and question the upstream prompt ids (image as -200), logits at the last prompt
positions for a fixed vocabulary subset, and 10 greedy tokens. Here the same checkpoint
goes through the harness exactly as a user's would (conversion, tokenizer, processor,
model) and must reproduce them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ORACLE = Path(__file__).resolve().parent / "oracle"
LOGIT_TOLERANCE = 1e-4


@dataclass
class Fixture:
    folder: Path
    record: dict[str, Any]
    arrays: dict[str, np.ndarray]

    @property
    def cases(self) -> list[dict[str, Any]]:
        return self.record["cases"]


def load_fixture(family: str) -> Fixture:
    folder = ORACLE / family
    arrays = np.load(folder / "expected.npz")
    return Fixture(folder, json.loads((folder / "expected.json").read_text()),
                   {k: arrays[k] for k in arrays.files})


@dataclass
class Measured:
    ids: list[int]
    n_positions: int
    max_logit_diff: float
    greedy: list[int]


def measure(model: Any, fixture: Fixture, case: dict[str, Any]) -> Measured:
    """Run one oracle case through the harness's model: ids, logits, greedy tokens."""
    import torch

    from harness.plugins.llava_tokens import harness_ids
    from harness.types import Decoding

    text = model.prompt_text(case["question"], 1)
    ids = harness_ids(model, text)
    image = ORACLE / "images" / case["image"]
    enc = model._encode([text], model._images([image]))
    n_new = fixture.record["new_tokens"]
    with torch.inference_mode():
        logits = model.model(**enc).logits[0].float()
        out = model.model.generate(**enc, **model._generation_kwargs(
            Decoding(max_new_tokens=n_new, min_new_tokens=n_new)))
    subset = torch.as_tensor(fixture.arrays["vocab_subset"])
    tail = logits[-fixture.record["logit_positions"]:][:, subset].numpy()
    diff = float(np.abs(tail - fixture.arrays[case["key"]]).max())
    greedy = out[0, enc["input_ids"].shape[1]:].tolist()
    return Measured(ids, int(logits.shape[0]), diff, greedy)


def assert_matches(model: Any, fixture: Fixture, case: dict[str, Any]) -> Measured:
    got = measure(model, fixture, case)
    assert got.ids == case["input_ids"], "prompt token ids differ from the original code's"
    assert got.n_positions == case["n_positions"]
    assert got.max_logit_diff <= LOGIT_TOLERANCE, f"max |logit diff| {got.max_logit_diff:.2e}"
    assert got.greedy == case["greedy_ids"], "greedy tokens differ from the original code's"
    return got

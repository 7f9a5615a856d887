"""Prompt snapshots: the exact text and settings sent for one sample of each task.

A change to a prompt changes every score; it must be deliberate. Regenerate with
`UPDATE_SNAPSHOTS=1 pytest tests/test_prompts.py` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.load import task as build

SNAPSHOTS = Path(__file__).parent / "snapshots" / "prompts.json"
# The default protocol is `paper`; `+sound` keys are the same tasks under `--protocol sound`.
TASKS = {
    "vqa/demo": {},
    "vqa/demo+sound": {"protocol": "sound"},
    "caption/demo": {},
    "zeroshot/demo": {},
    "zeroshot/demo+sound": {"protocol": "sound"},
    "zeroshot/demo+shuffle": {"shuffle": "true", "seed": "3"},
    "zeroshot/demo+sound+paper-decoding": {"protocol": "sound", "decoding": "paper"},
    "vqa/demo+greedy": {"decoding": "greedy"},
    "probe/demo": {},
}


def current() -> dict[str, dict]:
    out = {}
    for key, options in TASKS.items():
        options = dict(options)
        protocol = options.pop("protocol", "paper")
        task = build(key.split("+")[0], protocol=protocol, **options)
        sample = task.load_samples(None)[-1]
        req = task.build_request(sample)
        out[key] = {
            "sample": sample.id,
            "prompt": req.prompt,
            "choices": list(req.choices),
            "decoding": req.decoding.to_dict(),
            "images": [Path(p).name for p in req.images],
        }
    return out


def test_prompts_match_snapshot() -> None:
    now = current()
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOTS.write_text(json.dumps(now, indent=2, sort_keys=True) + "\n")
    if not SNAPSHOTS.exists():
        pytest.fail(f"{SNAPSHOTS} is missing; create it with UPDATE_SNAPSHOTS=1")
    assert now == json.loads(SNAPSHOTS.read_text())


def test_zeroshot_prompt_is_the_papers_figure_5() -> None:
    snap = json.loads(SNAPSHOTS.read_text())["zeroshot/demo"]
    assert snap["prompt"] == (
        "This is a skin lesion image. From the following categories: Basal Cell Carcinoma, "
        "Melanoma, Nevus, Seborrheic Keratosis, which one is the diagnosis?"
    )

"""Prediction sets built from the real MM-Skin VQA test answers (read in place from ../shared/data).

References are the real answers; predictions are the same answers rearranged so the
scores are far from trivial: another row's answer, a shortened answer, and the answer
of another row with the same question (the hardest "plausible" set).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
VQA_CSV = SHARED / "mmskin-splits" / "vqa" / "MM-Skin_test.csv"
HAM_CSV = SHARED / "metadata" / "ham10000" / "HAM10000_metadata.csv"


def read_rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        pytest.skip(f"reference data {path} is absent (expected ../shared/data beside the repo)")
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def vqa_sets() -> dict[str, object]:
    rows = read_rows(VQA_CSV)
    refs = [r["answer"] for r in rows]
    n = len(refs)
    rng = np.random.default_rng(0)
    perm = rng.permutation(n)
    shuffled = [refs[i] for i in perm]
    truncated = [" ".join(a.split()[: len(a.split()) // 2]) for a in refs]
    by_question: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        by_question.setdefault(r["question"], []).append(i)
    same_question = list(shuffled)
    for members in by_question.values():
        if len(members) > 1:
            for pos, i in enumerate(members):
                same_question[i] = refs[members[(pos + 1) % len(members)]]
    # The source book of each image (dataset/bk5_630.png -> bk5): a real grouping field.
    book = [m.group(1) if (m := re.match(r"dataset/(bk\d+)", r["image"])) else None for r in rows]
    return {"refs": refs, "book": book, "questions": [r["question"] for r in rows],
            "sets": {"shuffled": shuffled, "truncated": truncated,
                     "same_question": same_question}}


def test_prediction_sets_are_built_from_the_real_split() -> None:
    data = vqa_sets()
    refs, sets = data["refs"], data["sets"]
    assert len(refs) == 5452
    for name, preds in sets.items():
        assert len(preds) == len(refs), name
    # A derangement-like shuffle: almost no prediction is its own reference.
    assert sum(p == r for p, r in zip(sets["shuffled"], refs, strict=True)) < 60
    # Most questions are shared, so most same-question predictions come from a sibling row.
    same = sum(p != s for p, s in zip(sets["same_question"], sets["shuffled"], strict=True))
    assert same > 2000
    assert sum(1 for b in data["book"] if b is None) == 0

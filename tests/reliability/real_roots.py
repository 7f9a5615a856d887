"""Data roots built from the real reference files (linked, never copied) with stand-in images."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from PIL import Image

from tests.cli_helpers import REPO

SHARED = REPO.parent / "shared" / "data"
HAM_SPLIT = "mmskin-splits/classification/HAM10000_test.csv"
VQA_SPLIT = "mmskin-splits/vqa/MM-Skin_test.csv"


def shared_or_skip() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"reference data folder {SHARED} is absent (these tests read the real files)")
    return SHARED


def split_images(split: Path) -> list[str]:
    with open(split, newline="", encoding="utf-8") as fh:
        return [row["image"] for row in csv.DictReader(fh)]


def stand_in(path: Path, k: int) -> None:
    """A tiny distinct picture where the dataset's image would be."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (k % 256, (k // 256) * 40 % 256, 90)).save(path)


def ham10000_root(root: Path) -> Path:
    """HAM10000 as published: the paper's test split file and the metadata, both linked; a
    stand-in image for every test row (the metadata's own images are not needed)."""
    shared = shared_or_skip()
    for rel, src in ((HAM_SPLIT, HAM_SPLIT),
                     ("HAM10000/HAM10000_metadata.csv", "metadata/ham10000/HAM10000_metadata.csv")):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).symlink_to(shared / src)
    for k, rel in enumerate(split_images(root / HAM_SPLIT)):
        stand_in(root / rel, k)
    return root


def mm_skin_root(root: Path, rows: int) -> Path:
    """The paper's MM-Skin VQA test file (linked) with stand-ins for its first ``rows`` images."""
    shared = shared_or_skip()
    (root / VQA_SPLIT).parent.mkdir(parents=True, exist_ok=True)
    (root / VQA_SPLIT).symlink_to(shared / VQA_SPLIT)
    for k, rel in enumerate(split_images(root / VQA_SPLIT)[:rows]):
        stand_in(root / "MM-Skin" / rel, k)
    return root

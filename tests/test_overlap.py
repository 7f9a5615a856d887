"""The contamination audit: planted duplicates among distinct images, and ISIC 2019 vs HAM10000."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from cli_helpers import run_harness
from datasets_helpers import REPO, lesion_image, linked_root, write_image
from PIL import Image

from harness.datasets import adapter
from harness.datasets import overlap as ov


def _planted(tmp: Path) -> tuple[Path, Path, set[tuple[str, str]]]:
    """220 distinct images in a/, and in b/ 20 altered copies of some of them + 40 new ones."""
    a, b = tmp / "a", tmp / "b"
    for k in range(220):
        write_image(a / f"a{k:03d}.{'png' if k % 2 else 'jpg'}", seed=k)
    planted: set[tuple[str, str]] = set()
    for n, k in enumerate(range(0, 200, 10)):
        src = next(a.glob(f"a{k:03d}.*"))
        dst = b / f"b{n:03d}.jpg"
        dst.parent.mkdir(parents=True, exist_ok=True)
        im = Image.open(src).convert("RGB")
        kind = n % 5
        if kind == 0:  # byte-identical copy
            dst = dst.with_suffix(src.suffix)
            shutil.copy(src, dst)
        elif kind == 1:  # downscaled, re-encoded
            im.resize((48, 48), Image.LANCZOS).save(dst, quality=75)
        elif kind == 2:  # upscaled, strong JPEG
            im.resize((200, 200), Image.BICUBIC).save(dst, quality=50)
        elif kind == 3:  # same pixels, other container
            dst = dst.with_suffix(".png") if src.suffix == ".jpg" else dst.with_suffix(".bmp")
            im.save(dst)
        else:  # odd size, re-encoded twice
            small = im.resize((70, 61), Image.BILINEAR)
            small.save(dst, quality=85)
            Image.open(dst).save(dst, quality=60)
        planted.add((src.stem, dst.stem))
    for k in range(40):
        write_image(b / f"new{k:03d}.jpg", seed=1000 + k)
    return a, b, planted


def test_planted_duplicates_found_without_false_pairs(tmp_path: Path) -> None:
    a, b, planted = _planted(tmp_path)
    items_a, items_b = ov.folder_items(a), ov.folder_items(b)
    assert len(items_a) == 220 and len(items_b) == 60
    ov.hash_items(items_a)
    ov.hash_items(items_b)
    result = ov.audit("a", items_a, "b", items_b)
    found = {(p.a.id, p.b.id) for p in result.pairs}
    assert found == planted
    methods = {(p.a.id, p.b.id): set(p.methods) for p in result.pairs}
    assert sum("file" in m for m in methods.values()) == 4
    assert sum("pixels" in m for m in methods.values()) == 8  # identical files + re-containered
    assert all("perceptual" in m for m in methods.values())
    # Within one set of distinct images, nothing pairs with anything else.
    within = ov.audit("a", items_a, "a", items_a, same_source=True, by_id=False)
    assert within.pairs == []


def test_overlap_cli_writes_pairs_csv(tmp_path: Path) -> None:
    a, b, planted = _planted(tmp_path)
    out_csv = tmp_path / "pairs.csv"
    out = run_harness("data", "overlap", str(a), str(b), "--out", str(out_csv), cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert "20 shared pair(s)" in out.stdout
    with open(out_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {(r["a_id"], r["b_id"]) for r in rows} == planted


def test_isic2019_contains_ham10000_by_id(tmp_path: Path) -> None:
    root = linked_root(tmp_path)
    isic, ham = adapter("isic2019"), adapter("ham10000")

    def items(a, splits):  # type: ignore[no-untyped-def]
        return ov.items_from_samples([s for sp in splits for s in a.load(root, sp)])

    all_isic = items(isic, ("train", "val", "test"))
    result = ov.audit("isic2019", all_isic, "ham10000", items(ham, ("train",)), by_pixels=False)
    assert len(result.pairs) == 10015  # every HAM10000 training image is an ISIC 2019 image
    # The paper's ISIC 2019 test split holds 2,981 of them; its HAM10000 test split
    # (ISIC 2018 test images) shares none with ISIC 2019.
    test_vs_train = ov.audit("t", items(isic, ("test",)), "h", items(ham, ("train",)),
                             by_pixels=False)
    assert len(test_vs_train.pairs) == 2981
    assert ov.audit("i", all_isic, "h", items(ham, ("test",)), by_pixels=False).pairs == []


def test_isic2019_contains_ham10000_by_pixels(tmp_path: Path) -> None:
    root = linked_root(tmp_path)
    ham_train = adapter("ham10000").load(root, "train")
    shared_ids = [s.id for s in ham_train[:30]]
    for k, sid in enumerate(shared_ids):
        write_image(root / f"HAM10000/HAM10000_images_part_1/{sid}.jpg", seed=k, size=120)
        # The ISIC 2019 copy: downsampled and re-encoded, as ISIC redistributes images.
        Image.fromarray(lesion_image(k, 120)).resize((90, 90)).save(
            root / f"ISIC/{sid}.jpg", quality=70)
    # One HAM image planted under an unrelated ISIC id, and distinct ISIC-only images.
    Image.fromarray(lesion_image(0, 120)).save(root / "ISIC/ISIC_0000000.jpg", quality=65)
    for k in range(1, 6):
        write_image(root / f"ISIC/ISIC_{k:07d}.jpg", seed=500 + k)
    isic = ov.items_from_samples(adapter("isic2019").load(root, "test")
                                 + adapter("isic2019").load(root, "train")
                                 + adapter("isic2019").load(root, "val"))
    ham = ov.items_from_samples(ham_train)
    ov.hash_items(isic)
    ov.hash_items(ham)
    result = ov.audit("isic2019", isic, "ham10000", ham)
    perceptual = {(p.a.id, p.b.id) for p in result.pairs if "perceptual" in p.methods}
    assert perceptual == {(i, i) for i in shared_ids} | {("ISIC_0000000", shared_ids[0])}
    assert len([p for p in result.pairs if p.methods == ["id"]]) == 10015 - 30


@pytest.mark.parametrize("distance", [0, 64])
def test_thresholds_are_parameters(tmp_path: Path, distance: int) -> None:
    a = [ov.Item("x", write_image(tmp_path / "x.png", 1))]
    b = [ov.Item("y", write_image(tmp_path / "y.png", 2))]
    ov.hash_items(a)
    ov.hash_items(b)
    pairs = ov.audit("a", a, "b", b, phash_max=distance, dhash_max=distance).pairs
    assert len(pairs) == (1 if distance == 64 else 0)

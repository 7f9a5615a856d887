"""Shared by the dataset tests: a data root built from the real reference files, stand-in images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"

# Real files linked (never copied) into a temporary data root, at the publisher's places.
LINKS = {
    "HAM10000/HAM10000_metadata.csv": "metadata/ham10000/HAM10000_metadata.csv",
    "ISIC/ISIC_2019_Training_GroundTruth.csv":
        "metadata/isic2019/ISIC_2019_Training_GroundTruth.csv",
    "PAD-UFES-20/metadata.csv": "metadata/padufes20/metadata.csv",
    "Fitzpatrick/fitzpatrick17k.csv": "metadata/fitzpatrick17k/fitzpatrick17k.csv",
    "DDI/ddi_metadata.csv": "metadata/ddi/ddi_metadata.csv",
    "mmskin-splits": "mmskin-splits",
}


def shared_or_skip() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"reference data folder {SHARED} is absent (tests read the real files there)")
    return SHARED


def linked_root(tmp: Path) -> Path:
    """A data root whose metadata and split files are links to the real reference copies."""
    shared = shared_or_skip()
    for rel, src in LINKS.items():
        dst = tmp / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.symlink_to(shared / src)
    return tmp


def lesion_image(seed: int, size: int = 96) -> np.ndarray:
    """A distinct lesion-like picture per seed: smooth background, irregular blob, noise."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    low = rng.normal(0, 1, (6, 6, 3))
    low = ((low - low.min()) / (np.ptp(low) + 1e-9) * 255).astype(np.uint8)
    bg = np.asarray(Image.fromarray(low).resize((size, size), Image.BICUBIC), dtype=np.float32)
    img = 0.5 * np.array([225, 185, 155]) * rng.uniform(0.6, 1.05) + 0.5 * bg
    yy, xx = np.mgrid[0:size, 0:size]
    cy, cx = rng.uniform(0.3, 0.7, 2) * size
    ang = np.arctan2(yy - cy, xx - cx)
    wobble = sum(rng.uniform(0, 0.2) * np.sin(k * ang + rng.uniform(0, 6.3)) for k in (2, 3, 5))
    rad = size * rng.uniform(0.12, 0.35) * (1 + wobble)
    mask = np.clip((rad - np.hypot(yy - cy, xx - cx)) / 3, 0, 1)[..., None]
    img = img * (1 - mask) + rng.uniform(20, 200, 3) * mask + rng.normal(0, 5, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def write_image(path: Path, seed: int, size: int = 96, fmt: str | None = None) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(lesion_image(seed, size)).save(path, format=fmt)
    return path

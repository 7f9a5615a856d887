"""Contamination audit: which images two datasets (or splits, or folders) share.

Three signals, each recorded per pair:

* ``id``: the same image id (ISIC ids, for instance, are shared by HAM10000,
  ISIC 2019 and the ISIC Archive collections);
* ``file``/``pixels``: the same file bytes, or the same decoded pixels (SHA-256);
* ``perceptual``: pHash and dHash (imagehash, 64 bits each) both within a Hamming
  distance, which survives resizing and JPEG re-encoding but not crops.

Requiring both perceptual hashes to agree keeps distinct look-alike lesions
apart; the thresholds are parameters and are written with the results.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

PHASH_MAX = 8
DHASH_MAX = 10
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


@dataclass
class Item:
    """One image of one side: an id, a path, and its hashes once computed."""

    id: str
    image: Path | None
    file_sha: str | None = None
    pixel_sha: str | None = None
    phash: int | None = None
    dhash: int | None = None
    error: str | None = None


@dataclass
class Pair:
    a: Item
    b: Item
    methods: list[str] = field(default_factory=list)
    phash_distance: int | None = None
    dhash_distance: int | None = None


@dataclass
class Audit:
    a_name: str
    b_name: str
    a_items: list[Item]
    b_items: list[Item]
    pairs: list[Pair]
    phash_max: int
    dhash_max: int

    def counts(self) -> dict[str, Any]:
        by_method: dict[str, int] = {}
        for p in self.pairs:
            for m in p.methods:
                by_method[m] = by_method.get(m, 0) + 1
        unread = {side: sum(1 for i in items if i.error) for side, items in
                  (("a", self.a_items), ("b", self.b_items))}
        return {"a": len(self.a_items), "b": len(self.b_items), "pairs": len(self.pairs),
                "a_shared": len({p.a.id for p in self.pairs}), "by_method": by_method,
                "unreadable_or_missing": unread}


def folder_items(folder: Path) -> list[Item]:
    """Every image under a folder; the id is the file's stem."""
    files = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    return [Item(id=p.stem, image=p) for p in files]


def hash_items(items: Sequence[Item], progress: Callable[[int], None] | None = None) -> None:
    """Fill each item's hashes; an unreadable or missing image gets ``error`` instead."""
    import imagehash

    from harness.images import ImageError, open_rgb

    for k, item in enumerate(items):
        if progress is not None:
            progress(k)
        if item.image is None or not item.image.is_file():
            item.error = f"{item.image}: missing"
            continue
        try:
            data = item.image.read_bytes()
            im = open_rgb(item.image)
        except (ImageError, OSError) as exc:
            item.error = str(exc)
            continue
        item.file_sha = hashlib.sha256(data).hexdigest()
        h = hashlib.sha256(f"{im.size}".encode())
        h.update(im.tobytes())
        item.pixel_sha = h.hexdigest()
        item.phash = _as_int(imagehash.phash(im))
        item.dhash = _as_int(imagehash.dhash(im))


def _as_int(h: Any) -> int:
    bits = np.asarray(h.hash, dtype=bool).ravel()
    return int("".join("1" if b else "0" for b in bits), 2)


def _popcount(x: np.ndarray) -> np.ndarray:
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(x)
    b = x.view(np.uint8).reshape(*x.shape, 8)  # numpy < 2: count bits byte by byte
    return np.unpackbits(b, axis=-1).sum(axis=-1)


def audit(a_name: str, a: list[Item], b_name: str, b: list[Item], *, by_id: bool = True,
          by_pixels: bool = True, phash_max: int = PHASH_MAX, dhash_max: int = DHASH_MAX,
          same_source: bool = False) -> Audit:
    """All pairs (one from ``a``, one from ``b``) that share an id or an image.

    ``same_source`` (a dataset against itself) skips pairing an item with itself.
    Items must already be hashed (``hash_items``) for the pixel methods.
    """
    pairs: dict[tuple[int, int], Pair] = {}

    def add(i: int, j: int, method: str) -> None:
        if same_source and (i >= j):
            return
        pair = pairs.setdefault((i, j), Pair(a[i], b[j]))
        if method not in pair.methods:
            pair.methods.append(method)

    if by_id:
        index: dict[str, list[int]] = {}
        for j, item in enumerate(b):
            index.setdefault(item.id, []).append(j)
        for i, item in enumerate(a):
            for j in index.get(item.id, ()):
                add(i, j, "id")
    if by_pixels:
        for key, method in (("file_sha", "file"), ("pixel_sha", "pixels")):
            index = {}
            for j, item in enumerate(b):
                value = getattr(item, key)
                if value is not None:
                    index.setdefault(value, []).append(j)
            for i, item in enumerate(a):
                for j in index.get(getattr(item, key) or "", ()):
                    add(i, j, method)
        ai = [i for i, it in enumerate(a) if it.phash is not None]
        bj = np.array([j for j, it in enumerate(b) if it.phash is not None], dtype=np.int64)
        if ai and bj.size:
            bp = np.array([b[j].phash for j in bj], dtype=np.uint64)
            bd = np.array([b[j].dhash for j in bj], dtype=np.uint64)
            for start in range(0, len(ai), 256):  # chunks keep memory at 256 x len(b)
                rows = ai[start:start + 256]
                ap = np.array([a[i].phash for i in rows], dtype=np.uint64)[:, None]
                ad = np.array([a[i].dhash for i in rows], dtype=np.uint64)[:, None]
                dp = _popcount(ap ^ bp[None, :])
                dd = _popcount(ad ^ bd[None, :])
                for r, c in zip(*np.nonzero((dp <= phash_max) & (dd <= dhash_max)), strict=True):
                    i, j = rows[int(r)], int(bj[int(c)])
                    add(i, j, "perceptual")
                    pair = pairs.get((i, j))
                    if pair is not None:
                        pair.phash_distance, pair.dhash_distance = int(dp[r, c]), int(dd[r, c])
    ordered = [pairs[k] for k in sorted(pairs)]
    return Audit(a_name, b_name, list(a), list(b), ordered, phash_max, dhash_max)


def write_pairs(result: Audit, path: Path) -> None:
    """The pairs as CSV: one row per pair, the methods that matched joined by '+'."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["a_source", "a_id", "a_image", "b_source", "b_id", "b_image", "methods",
                    "phash_distance", "dhash_distance"])
        for p in result.pairs:
            w.writerow([result.a_name, p.a.id, p.a.image or "", result.b_name, p.b.id,
                        p.b.image or "", "+".join(p.methods),
                        "" if p.phash_distance is None else p.phash_distance,
                        "" if p.dhash_distance is None else p.dhash_distance])


def items_from_samples(samples: Iterable[Any]) -> list[Item]:
    """One item per distinct image (MM-Skin has several QA pairs per image: ids 'image#k')."""
    out: dict[Any, Item] = {}
    for s in samples:
        key = s.image if s.image is not None else s.id
        if key not in out:
            out[key] = Item(id=str(s.id).split("#")[0], image=s.image)
    return list(out.values())

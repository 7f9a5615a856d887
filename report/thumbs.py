"""Thumbnails beside the report: small JPEGs made once per image, never the full image inlined."""

from __future__ import annotations

import hashlib
from pathlib import Path

SIZE = 128  # longest side in pixels
FOLDER = "thumbs"


def name_for(image: Path) -> str | None:
    """The thumbnail's file name: the image's path, size and time, so a changed image gets a
    new one; None when the image is not there."""
    try:
        st = image.stat()
    except OSError:
        return None
    key = f"{image.resolve()}|{st.st_size}|{st.st_mtime_ns}|{SIZE}"
    return hashlib.sha1(key.encode()).hexdigest()[:20] + ".jpg"


def make(image: Path, out: Path) -> str | None:
    """``thumbs/<name>.jpg`` relative to ``out`` (made unless already there), or None when the
    image is missing or unreadable."""
    from PIL import Image, UnidentifiedImageError

    name = name_for(image)
    if name is None:
        return None
    target = out / FOLDER / name
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with Image.open(image) as im:
                im.draft("RGB", (SIZE, SIZE))  # JPEG: decode at a reduced scale
                im = im.convert("RGB")
                im.thumbnail((SIZE, SIZE))
                tmp = target.with_suffix(".tmp")
                im.save(tmp, "JPEG", quality=80)
                tmp.replace(target)
        except (OSError, UnidentifiedImageError, ValueError):
            return None
    return f"{FOLDER}/{name}"

"""Opening images safely: one place that refuses bombs and normalises odd formats.

Every model plugin and baseline opens images through ``open_rgb``, so a
truncated file, a zero-byte file, a decompression bomb or a CMYK/16-bit image
becomes one clear per-sample error (or a correct RGB image), never a crash of
the run or a silently wrong tensor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# Largest image accepted, in pixels (about 16k x 16k). Larger files are refused
# before decoding, so a crafted "decompression bomb" cannot exhaust memory.
MAX_PIXELS = 16_384 * 16_384


class ImageError(ValueError):
    """An image that cannot be used; the message names the file."""

    failure_reason = "image unreadable"  # harness.failures.IMAGE_UNREADABLE


def open_rgb(path: Path | str) -> Any:
    """A fully decoded 8-bit RGB PIL image, or ImageError naming the file and the reason."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ImageError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if size == 0:
        raise ImageError(f"{path}: the file is empty (0 bytes)")
    try:
        with Image.open(path) as im:
            w, h = im.size
            if w * h > MAX_PIXELS:
                raise ImageError(f"{path}: {w}x{h} pixels exceeds the limit of {MAX_PIXELS}")
            if w < 1 or h < 1:
                raise ImageError(f"{path}: has no pixels ({w}x{h})")
            im.load()
            return _to_rgb(im)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image file PIL can read") from None
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{path}: refused as a decompression bomb ({exc})") from None
    except (OSError, SyntaxError, ValueError) as exc:  # truncated or corrupt data
        raise ImageError(f"{path}: corrupt or truncated image ({exc})") from None


def _to_rgb(im: Any) -> Any:
    import numpy as np
    from PIL import Image

    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # 16-bit / float greyscale: scale to 8 bits instead of clipping to white.
        arr = np.asarray(im, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        scaled = np.zeros_like(arr) if hi <= lo else (arr - lo) / (hi - lo) * 255.0
        im = Image.fromarray(scaled.astype(np.uint8))
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return im.convert("RGB")

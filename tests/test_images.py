"""Bad images become one clear per-file error or a correct RGB image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harness.images import MAX_PIXELS, ImageError, open_rgb


def test_rgb_png_roundtrip(tmp_path: Path) -> None:
    p = tmp_path / "a.png"
    Image.fromarray(np.full((4, 5, 3), 7, np.uint8)).save(p)
    im = open_rgb(p)
    assert im.mode == "RGB" and im.size == (5, 4)


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: p.write_bytes(b"not an image at all"), "not an image"),
        (lambda p: p.write_bytes(_png_bytes()[:60]), "corrupt or truncated"),
    ],
)
def test_bad_files_name_the_file(tmp_path: Path, make, needle: str) -> None:  # noqa: ANN001
    p = tmp_path / "bad.png"
    make(p)
    with pytest.raises(ImageError, match=needle) as exc:
        open_rgb(p)
    assert str(p) in str(exc.value)


def _png_bytes() -> bytes:
    import io

    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(
        buf, format="PNG")
    return buf.getvalue()


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="cannot read"):
        open_rgb(tmp_path / "nope.jpg")


def test_cmyk_and_16_bit_and_alpha_become_rgb(tmp_path: Path) -> None:
    cmyk = tmp_path / "c.jpg"
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(cmyk)
    assert open_rgb(cmyk).getpixel((0, 0))[0] > 200  # red stays red
    deep = tmp_path / "d.png"
    ramp = (np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000)
    Image.fromarray(ramp).save(deep)
    arr = np.asarray(open_rgb(deep))
    assert arr.dtype == np.uint8 and arr.min() == 0 and arr.max() == 255
    rgba = tmp_path / "e.png"
    Image.new("RGBA", (2, 2), (0, 0, 0, 0)).save(rgba)
    assert open_rgb(rgba).getpixel((0, 0)) == (255, 255, 255)


def test_wrong_extension_is_read_by_content(tmp_path: Path) -> None:
    p = tmp_path / "really-a-png.jpg"
    p.write_bytes(_png_bytes())
    assert open_rgb(p).size == (64, 64)


def test_one_pixel_image_is_accepted(tmp_path: Path) -> None:
    p = tmp_path / "one.png"
    Image.new("RGB", (1, 1)).save(p)
    assert open_rgb(p).size == (1, 1)


def test_decompression_bomb_is_refused_before_decoding(tmp_path: Path) -> None:
    # A 20000x20000 PNG compresses to a few hundred KB but would decode to 1.2 GB.
    side = 20_000
    assert side * side > MAX_PIXELS
    p = tmp_path / "bomb.png"
    Image.new("L", (side, side)).save(p, optimize=False)
    with pytest.raises(ImageError, match="exceeds the limit|decompression bomb"):
        open_rgb(p)

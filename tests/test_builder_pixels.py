"""How pictures leave the PDF: stored bytes copied, CMYK decoded once, overlays rendered whole.

The PDFs are written here with PyMuPDF around pictures cut from a real corpus photograph (the
Cureus 2020 Fig. 1 raster, CC BY 4.0, read in place from ../shared/data).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import cv2
import numpy as np
import pymupdf
import pytest
from PIL import Image

from harness.dataset_builder.composite import gutter_split
from harness.dataset_builder.extract import run_extract
from harness.dataset_builder.placements import jpeg_components
from tests.conftest import SHARED_DATA

CUREUS = SHARED_DATA / "pdfs" / "cureus_2020_raza_dengue_hemorrhagic_skin_manifestations.pdf"


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    if not CUREUS.is_file():
        pytest.skip(f"the real reference PDF {CUREUS} is absent")
    doc = pymupdf.open(str(CUREUS))
    xref = doc[1].get_images(full=True)[0][0]
    data = doc.xref_stream_raw(xref)
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return cv2.resize(img, (600, 617), interpolation=cv2.INTER_AREA)


def _jpeg(img: np.ndarray, mode: str = "RGB") -> bytes:
    pil = Image.fromarray(cv2.cvtColor(img, cv2.COLOR_BGR2RGB)).convert(mode)
    buf = io.BytesIO()
    pil.save(buf, "JPEG", quality=92)
    return buf.getvalue()


def _extract(doc: pymupdf.Document, tmp_path: Path) -> list[dict]:
    pdf = tmp_path / "p.pdf"
    doc.save(str(pdf))
    [summary] = run_extract([pdf], tmp_path / "w", quiet=True)
    assert summary["status"] == "ok"
    lines = (tmp_path / "w" / "extract" / summary["pdf_id"] / "images.jsonl").read_text()
    return [json.loads(x) for x in lines.splitlines()]


def test_rgb_jpeg_is_copied_and_cmyk_decoded_once_in_its_true_colours(photo: np.ndarray,
                                                                      tmp_path: Path) -> None:
    rgb, cmyk = _jpeg(photo), _jpeg(photo, "CMYK")
    assert (jpeg_components(rgb), jpeg_components(cmyk)) == (3, 4)
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_image(pymupdf.Rect(50, 50, 350, 358.5), stream=rgb)
    page = doc.new_page()
    page.insert_image(pymupdf.Rect(50, 50, 350, 358.5), stream=cmyk)
    a, b = _extract(doc, tmp_path)
    assert (a["pixels"], b["pixels"]) == ("stored", "decoded")
    assert (tmp_path / "w" / "extract" / a["pdf_id"] / a["file"]).read_bytes() == rgb
    got = cv2.imread(str(tmp_path / "w" / "extract" / b["pdf_id"] / b["file"]))
    assert got.shape == photo.shape
    # what the page prints (MuPDF's own CMYK conversion, at the picture's native scale)
    pix = doc[1].get_pixmap(matrix=pymupdf.Matrix(2, 2), clip=pymupdf.Rect(50, 50, 350, 358.5),
                            alpha=False)
    printed = cv2.cvtColor(np.frombuffer(pix.samples, np.uint8).reshape(pix.height, pix.width,
                                                                        3), cv2.COLOR_RGB2BGR)
    printed = cv2.resize(printed, (got.shape[1], got.shape[0]), interpolation=cv2.INTER_AREA)
    assert np.abs(got.astype(int) - printed.astype(int)).mean() < 4  # not inverted, not shifted


def test_a_picture_with_pictures_placed_over_it_is_one_rendered_picture(photo: np.ndarray,
                                                                        tmp_path: Path) -> None:
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_image(pymupdf.Rect(50, 50, 350, 358.5), stream=_jpeg(photo))
    bubble = np.full((320, 330, 3), (216, 238, 245), np.uint8)  # a chat bubble, 330 px
    page.insert_image(pymupdf.Rect(70, 70, 180, 177), stream=_jpeg(bubble))
    [only] = _extract(doc, tmp_path)
    assert (only["overlays"], only["pixels"]) == (1, "rendered")
    assert only["bbox"] == [50.0, 50.0, 350.0, 358.5]


def test_two_photographs_butted_together_are_cut_at_their_seam(photo: np.ndarray,
                                                               tmp_path: Path) -> None:
    left = photo[:, :300]
    right = cv2.flip(photo[:, 300:], 0)  # a different picture: no white gutter between
    path = tmp_path / "pair.png"
    cv2.imwrite(str(path), np.hstack([left, right]))
    pieces = gutter_split(path, 2)
    assert pieces is not None and len(pieces) == 2
    assert abs(pieces[0][2] - 300) <= 2 and abs(pieces[1][0] - 300) <= 2

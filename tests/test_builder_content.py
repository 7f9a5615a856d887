"""Blank and text-only pictures never reach the dataset; real skin pictures always pass.

The pictures are real: skin panels and text blocks rendered from the corpus PDFs at their
hand-made truth boxes (tests/builder_truth), and one flat raster of the colour Nature
Communications 15:5649 uses for its chat bubbles (every pixel of those 15 rasters is #F5EED8,
measured). The end-to-end test places them in a PDF with captions, as a book would, and runs
every stage.
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pymupdf
import pytest

from harness.dataset_builder.content import content_check
from harness.dataset_builder.evaluate import build_and_score, load_truth
from harness.dataset_builder.modality import Weights, default_library
from harness.dataset_builder.references import truth_references
from harness.dataset_builder.write import run_write
from tests.conftest import SHARED_DATA

TRUTH = Path(__file__).with_name("builder_truth")
BUBBLE = (216, 238, 245)  # BGR of #F5EED8


@pytest.fixture(scope="module")
def real() -> dict[str, list[np.ndarray]]:
    if not (SHARED_DATA / "pdfs").is_dir():
        pytest.skip(f"the real reference PDFs ({SHARED_DATA / 'pdfs'}) are absent")
    refs = [r for tf in sorted(TRUTH.glob("*.json"))
            for r in truth_references(tf, SHARED_DATA / "pdfs" / load_truth(tf)["pdf"])]
    return {"skin": [r.image for r in refs if r.modality != "other"],
            "text": [r for r in refs if r.origin.endswith("(text)")]}


def test_skin_pictures_pass_and_text_and_flat_rasters_do_not(real: dict) -> None:
    assert len(real["skin"]) == 26 and len(real["text"]) >= 8
    assert [content_check(img) for img in real["skin"]] == [None] * 26
    library = default_library()
    dropped = 0
    for ref in real["text"]:
        verdict = content_check(ref.image)
        if verdict:
            assert verdict[:2] == ("drop", "text or line art on a flat background")
            dropped += 1
        else:  # coloured text (links, headings): the classifier's "other" must catch it
            res = library.without(ref.source).classify(ref.image, Weights())
            assert res["modality"] == "other", ref.origin
    assert dropped >= len(real["text"]) - 2
    flat = np.full((400, 380, 3), BUBBLE, np.uint8)
    assert content_check(flat)[:2] == ("drop", "blank: one flat colour")


def _jpeg(img: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 92])[1].tobytes()


def test_a_book_of_skin_text_and_blank_pictures_writes_only_skin(real: dict,
                                                                 tmp_path: Path) -> None:
    doc = pymupdf.open()
    pictures = [("clinical", real["skin"][20]), ("text", real["text"][0].image),
                ("blank", np.full((420, 400, 3), BUBBLE, np.uint8))]
    for k, (kind, img) in enumerate(pictures, 1):
        page = doc.new_page()
        page.insert_image(pymupdf.Rect(100, 80, 480, 440), stream=_jpeg(img))
        page.insert_text((100, 470), f"Figure {k}. Petechiae on the back of a {kind} patient.",
                         fontname="hebo", fontsize=9)
        page.insert_textbox(pymupdf.Rect(100, 500, 480, 780), "Body text. " * 60,
                            fontname="tiro", fontsize=10)
    pdf = tmp_path / "book.pdf"
    doc.save(str(pdf))
    truth = {"pdf": "book.pdf", "figures": []}
    build_and_score(pdf, truth, tmp_path / "work", default_library())
    with (tmp_path / "work" / "out" / "MM-Skin" / "metadata.csv").open() as fh:
        written = [r["figure"] for r in csv.DictReader(fh)]
    assert written == ["1"]
    stats = run_write(tmp_path / "work", tmp_path / "out2")
    assert sum(stats["excluded"].values()) == 2

"""Composites whose caption has no panel letters: cut at their white or black gutters, each
part judged on its own, the caption shared and recorded as shared (real PyMuPDF-made PDFs)."""

from __future__ import annotations

import numpy as np
import pymupdf
import pytest
from layout_pdfs import arrow_over_photo, build_through_filter, letterless_grid
from synthetic_book import _iou


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("composite")
    doc = pymupdf.open()
    rng = np.random.default_rng(11)
    truth = {"grid": letterless_grid(doc, rng),
             "black": letterless_grid(doc, rng, rows=2, cols=3, gutter_colour=0),
             "single": arrow_over_photo(doc, rng)}
    _work, pairs, dec = build_through_filter(doc, root / "composites.pdf")
    by_page: dict[int, list[dict]] = {}
    for p in pairs:
        by_page.setdefault(p["page"], []).append(p)
    return {"truth": truth, "pages": by_page, "dec": dec}


def _check_parts(parts: list[dict], rects: list[pymupdf.Rect]) -> None:
    assert len(parts) == len(rects)
    for p, r in zip(parts, rects, strict=True):  # reading order: rows, then left to right
        assert _iou(p["bbox"], list(r)) > 0.9, (p["bbox"], r)
        assert p["alignment"] == "full_caption_split" and p["caption_shared"] is True
        assert p["label"] is None and p["text"] == parts[0]["text"] == p["caption"].split(
            " ", 2)[2]


def test_a_letterless_4x4_composite_becomes_16_parts(built: dict) -> None:
    parts = built["pages"][0]
    _check_parts(parts, built["truth"]["grid"])
    # each part has its own decision (judged on its own pixels), none inherits another's
    assert len({built["dec"][p["id"]]["id"] for p in parts}) == 16
    assert len({p["sha256"] for p in parts}) == 1 and len({p["image"] for p in parts}) == 16


def test_black_gutters_cut_too(built: dict) -> None:
    _check_parts(built["pages"][1], built["truth"]["black"])


def test_a_single_photograph_is_not_cut(built: dict) -> None:
    [p] = built["pages"][2]
    assert p["alignment"] == "single" and p["caption_shared"] is False

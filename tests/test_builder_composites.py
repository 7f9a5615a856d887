"""Composites whose caption has no panel letters: cut at their white or black gutters, each
part judged on its own, the caption shared and recorded as shared (real PyMuPDF-made PDFs)."""

from __future__ import annotations

import numpy as np
import pymupdf
import pytest
from layout_pdfs import arrow_over_photo, letterless_grid
from synthetic_book import _iou

from harness.dataset_builder.align import all_pairs, run_align
from harness.dataset_builder.extract import run_extract
from harness.dataset_builder.filters import run_filter
from harness.dataset_builder.records import read_jsonl


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("composite")
    doc = pymupdf.open()
    rng = np.random.default_rng(11)
    truth = {"grid": letterless_grid(doc, rng),
             "black": letterless_grid(doc, rng, rows=2, cols=3, gutter_colour=0),
             "single": arrow_over_photo(doc, rng)}
    pdf = root / "composites.pdf"
    doc.save(pdf)
    work = root / "work"
    run_extract([pdf], work, quiet=True)
    run_align(work, quiet=True)
    run_filter(work, quiet=True)
    by_page: dict[int, list[dict]] = {}
    for p in all_pairs(work):
        by_page.setdefault(p["page"], []).append(p)
    dec = {r["id"]: r for r in read_jsonl(work / "filter" / "decisions.jsonl")}
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

"""Drawings over pictures judged per panel: real PyMuPDF-made PDFs through extract, align and
filter (tests/layout_pdfs.py draws them)."""

from __future__ import annotations

import numpy as np
import pymupdf
import pytest
from layout_pdfs import (
    arrow_over_photo,
    build_through_filter,
    chart_over_photo,
    framed_badged_figure,
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("annot")
    doc = pymupdf.open()
    rng = np.random.default_rng(7)
    framed_badged_figure(doc, rng)
    chart_over_photo(doc, rng)
    arrow_over_photo(doc, rng)
    work, pairs, dec = build_through_filter(doc, root / "layouts.pdf")
    return {"pairs": pairs, "dec": dec, "work": work}


def _figure(built: dict, fig: str) -> list[tuple[dict, dict]]:
    return [(p, built["dec"][p["id"]]) for p in built["pairs"] if p["figure"] == fig]


def test_framed_panels_with_letter_badges_are_kept_and_the_badges_recorded(built: dict
                                                                           ) -> None:
    panels = _figure(built, "1")
    assert [p["label"] for p, _ in panels] == ["a", "b", "c", "d"]
    assert {p["alignment"] for p, _ in panels} == {"label_order_split"}
    for (p, d), letter in zip(panels, "ABCD", strict=True):
        v = d["checks"]["vector"]
        assert d["decision"] != "drop", d
        assert not any("vector" in r for r in d["reasons"]), d["reasons"]
        assert v["frames"] >= 1 and v["marks"] == []
        texts = [b.get("text") for b in v["badges"]]
        assert letter in texts  # the panel's own letter, not its neighbours'
        assert len(v["badges"]) == 2  # the white square and the letter on it
        x0, y0, x1, y1 = next(b for b in v["badges"] if b["kind"] == "path")["box_px"]
        # the square sits in the panel's top-left corner, in the panel's own pixels
        assert 0 <= x0 < x1 <= 0.15 * p["width"] and 0 <= y0 < y1 <= 0.15 * p["height"]
        assert v["cover"] < 0.05


def test_a_chart_painted_over_a_photo_drops_it(built: dict) -> None:
    [(_, d)] = _figure(built, "2")
    assert d["decision"] == "drop"
    assert any(r.startswith("vector drawing covers") for r in d["reasons"]), d["reasons"]
    assert d["checks"]["vector"]["cover"] >= 0.2


def test_a_drawn_arrow_sends_the_photo_to_review(built: dict) -> None:
    [(_, d)] = _figure(built, "3")
    assert d["decision"] == "review"
    assert any("vector mark" in r for r in d["reasons"]), d["reasons"]
    v = d["checks"]["vector"]
    assert v["marks"] and v["cover"] < 0.05  # a line's box is not what it paints


def test_a_work_folder_from_before_is_not_judged_on_a_bare_count() -> None:
    from harness.dataset_builder.filters import decide

    rec = decide({"id": "x", "vector_marks": 3, "text": ""}, None, None, None)
    assert rec["checks"]["vector"].startswith("not_checked")
    assert any("extract again" in r for r in rec["reasons"])

"""Small PDFs in journal layouts the synthetic book does not have, made with PyMuPDF.

- ``framed_badged_figure``: one raster holding a 2 x 2 grid of photographs at 1-pt gutters, a
  hairline frame drawn around each panel and a small white square with the panel letter in
  its corner (Medknow / Wolters Kluwer, Indian J Dermatol);
- ``chart_over_photo``: a photograph with a vector bar chart painted over most of it;
- ``arrow_over_photo``: a photograph with one drawn arrow;
- ``letterless_grid``: one raster of 4 x 4 photographs at white gutters, its caption naming
  no panel letters;
- ``case_report_text``: body text stating the patient ("A 23-year-old woman presented ..."),
  with a figure whose caption names nobody.

Each function draws one page on ``doc`` and returns the rectangles (points) of its panels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pymupdf
from synthetic_book import CAPTION_CSS, MODALITIES, jpeg, modality_image

PAGE_W, PAGE_H = 595.0, 842.0


def _caption(page: pymupdf.Page, rect: pymupdf.Rect, label: str, body: str) -> None:
    spare, _ = page.insert_htmlbox(rect, f"<b>{label}</b> {body}", css=CAPTION_CSS, scale_low=1)
    assert spare >= 0, "caption does not fit"


def _grid(rng: np.random.Generator, rows: int, cols: int, side: int, gutter: int,
          colour: int = 255) -> np.ndarray:
    canvas = np.full((rows * side + (rows - 1) * gutter, cols * side + (cols - 1) * gutter, 3),
                     colour, np.uint8)
    for r in range(rows):
        for c in range(cols):
            y, x = r * (side + gutter), c * (side + gutter)
            canvas[y:y + side, x:x + side] = modality_image(
                MODALITIES[(r * cols + c) % 3] if rows * cols > 4 else "clinical", rng, side,
                side)
    return canvas


def framed_badged_figure(doc: pymupdf.Document, rng: np.random.Generator) -> list[pymupdf.Rect]:
    page = doc.new_page(width=PAGE_W, height=PAGE_H)
    side, gutter = 400, 3  # 1 pt at the printed size below
    img = _grid(rng, 2, 2, side, gutter)
    r = pymupdf.Rect(150, 80, 150 + 2 * 150 + 1, 80 + 2 * 150 + 1)
    page.insert_image(r, stream=jpeg(img, 95), keep_proportion=False)
    panels = [pymupdf.Rect(r.x0 + c * 151, r.y0 + k * 151, r.x0 + c * 151 + 150,
                           r.y0 + k * 151 + 150) for k in range(2) for c in range(2)]
    for p, letter in zip(panels, "ABCD", strict=True):
        page.draw_rect(p, color=(0, 0, 0), width=0.25)              # hairline frame
        badge = pymupdf.Rect(p.x0 + 3, p.y0 + 3, p.x0 + 15, p.y0 + 15)
        page.draw_rect(badge, color=None, fill=(1, 1, 1))           # the letter's square
        page.insert_text((badge.x0 + 2.5, badge.y1 - 2.5), letter, fontsize=9,
                         fontname="hebo")
    _caption(page, pymupdf.Rect(60, r.y1 + 8, PAGE_W - 60, r.y1 + 80), "Figure 1:",
             "Cutaneous lesions of the patient. (a) Erythematous papules on the forearm. "
             "(b) Purpuric macules on the shin. (c) Annular plaque on the trunk. "
             "(d) Crusted erosions on the lip.")
    return panels


def chart_over_photo(doc: pymupdf.Document, rng: np.random.Generator) -> list[pymupdf.Rect]:
    page = doc.new_page(width=PAGE_W, height=PAGE_H)
    r = pymupdf.Rect(150, 80, 450, 380)
    page.insert_image(r, stream=jpeg(modality_image("clinical", rng, 600, 600)))
    for k in range(8):  # bars standing on the bottom, up to 80% of the height
        h = r.height * (0.3 + 0.5 * ((k * 37) % 8) / 7)
        x = r.x0 + 10 + k * 36
        page.draw_rect(pymupdf.Rect(x, r.y1 - h, x + 24, r.y1), color=None, fill=(0.2, 0.4, 0.8))
    _caption(page, pymupdf.Rect(60, r.y1 + 8, PAGE_W - 60, r.y1 + 60), "Figure 2:",
             "Lesion counts per body site drawn over a photograph of the rash.")
    return [r]


def arrow_over_photo(doc: pymupdf.Document, rng: np.random.Generator) -> list[pymupdf.Rect]:
    page = doc.new_page(width=PAGE_W, height=PAGE_H)
    r = pymupdf.Rect(150, 80, 450, 380)
    page.insert_image(r, stream=jpeg(modality_image("clinical", rng, 600, 600)))
    tip = pymupdf.Point(r.x0 + 160, r.y0 + 150)
    page.draw_line(pymupdf.Point(r.x0 + 90, r.y0 + 80), tip, color=(1, 1, 0), width=2)
    page.draw_polyline([tip, tip + (-9, -2), tip + (-2, -9), tip], color=(1, 1, 0),
                       fill=(1, 1, 0), width=1)
    _caption(page, pymupdf.Rect(60, r.y1 + 8, PAGE_W - 60, r.y1 + 60), "Figure 3:",
             "A vesicle on the palm (arrow).")
    return [r]


def letterless_grid(doc: pymupdf.Document, rng: np.random.Generator, rows: int = 4,
                    cols: int = 4, gutter_colour: int = 255) -> list[pymupdf.Rect]:
    page = doc.new_page(width=PAGE_W, height=PAGE_H)
    side, gutter = 160, 8
    img = _grid(rng, rows, cols, side, gutter, gutter_colour)
    h, w = img.shape[:2]
    scale = 420 / w
    r = pymupdf.Rect(80, 80, 80 + w * scale, 80 + h * scale)
    page.insert_image(r, stream=jpeg(img, 95), keep_proportion=False)
    _caption(page, pymupdf.Rect(60, r.y1 + 8, PAGE_W - 60, r.y1 + 60), "Figure 4:",
             "Clinical photographs of the sixteen patients of the series at presentation.")
    return [pymupdf.Rect(r.x0 + c * (side + gutter) * scale, r.y0 + k * (side + gutter) * scale,
                         r.x0 + (c * (side + gutter) + side) * scale,
                         r.y0 + (k * (side + gutter) + side) * scale)
            for k in range(rows) for c in range(cols)]


CASE_TEXT = [
    "Case report",
    "A 23-year-old woman presented with a three-day history of fever, myalgia and a "
    "generalised pruritic rash. She had no past medical history and took no medication.",
    "On examination the patient had erythematous macules and papules over the trunk and "
    "limbs, with islands of sparing. Laboratory tests showed thrombocytopenia.",
]


def case_report_text(doc: pymupdf.Document, rng: np.random.Generator) -> list[pymupdf.Rect]:
    page = doc.new_page(width=PAGE_W, height=PAGE_H)
    y = 60.0
    for para in CASE_TEXT:
        box = pymupdf.Rect(60, y, PAGE_W - 60, y + 60)
        spare = page.insert_textbox(box, para, fontname="tiro", fontsize=10)
        assert spare >= 0
        y += 60 - spare + 8
    r = pymupdf.Rect(150, y + 10, 450, y + 310)
    page.insert_image(r, stream=jpeg(modality_image("clinical", rng, 600, 600)))
    _caption(page, pymupdf.Rect(60, r.y1 + 8, PAGE_W - 60, r.y1 + 60), "Figure 1:",
             "Maculopapular rash on the trunk with islands of sparing.")
    return [r]


def build_through_filter(doc: pymupdf.Document, pdf: Path) -> tuple[Path, list[dict], dict]:
    """Save ``doc`` as ``pdf`` and run the builder's extract, align and filter steps on it in
    ``work/`` beside it: (work folder, every aligned pair, filter decisions by pair id)."""
    from harness.dataset_builder.align import all_pairs, run_align
    from harness.dataset_builder.extract import run_extract
    from harness.dataset_builder.filters import run_filter
    from harness.dataset_builder.records import read_jsonl

    doc.save(pdf)
    work = pdf.parent / "work"
    run_extract([pdf], work, quiet=True)
    run_align(work, quiet=True)
    run_filter(work, quiet=True)
    decisions = {r["id"]: r for r in read_jsonl(work / "filter" / "decisions.jsonl")}
    return work, all_pairs(work), decisions

"""Where pictures sit on a page and how to get their pixels as printed, cheaply.

One visual picture may be stored as several objects: touching strips or tiles (merged into one
entry), or a background with pictures placed over it -- a screenshot with chat bubbles, a photo
with an inset (Nature Communications 15:5649, Fig. 3, places 50 rasters over one). Everything
placed inside another picture's area belongs to that picture; only the printed whole is kept,
rendered so the overlays show.

Pixels: a JPEG whose stream is RGB or grey and is placed upright and unstretched is copied byte
for byte (``xref_stream_raw``: no decode at all). CMYK and JPX streams, palettes and decode
arrays are decoded once by MuPDF and converted to RGB; masks, strips, overlays, rotations and
stretched placements are rendered from the page, at most ``max_side`` pixels long (rendering
a 1513 x 2470 collage at full size took 1 s, measured). ``Document.extract_image`` is not used: on a
CMYK JPEG it decodes and re-encodes the picture (1.1 s for one 2000 x 1105 image, measured),
only for the result to be thrown away.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import pymupdf

CONTAINED = 0.9          # share of a picture's area inside another one that makes it an overlay
BACKGROUND_PAGE = 0.6    # a raster covering this share of the page is a page background


def _touching(a: pymupdf.Rect, b: pymupdf.Rect, tol: float = 1.5) -> bool:
    same_x = abs(a.x0 - b.x0) < tol and abs(a.x1 - b.x1) < tol
    same_y = abs(a.y0 - b.y0) < tol and abs(a.y1 - b.y1) < tol
    v_gap = max(a.y0, b.y0) - min(a.y1, b.y1)
    h_gap = max(a.x0, b.x0) - min(a.x1, b.x1)
    return (same_x and -tol < v_gap < tol) or (same_y and -tol < h_gap < tol)


def merge_strips(infos: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One visual image stored as touching strips or tiles becomes one entry (``parts`` > 1)."""
    items = []
    seen: set[tuple] = set()
    for info in infos:
        r = pymupdf.Rect(info["bbox"])
        key = (round(r.x0), round(r.y0), round(r.x1), round(r.y1), info["width"], info["height"])
        if key in seen or r.is_empty:  # the same placement listed twice (seen in real PDFs)
            continue
        seen.add(key)
        items.append({"rect": r, "w": info["width"], "h": info["height"], "parts": [info],
                      "overlays": 0})
    merged = True
    while merged:
        merged = False
        for i in range(len(items)):
            for j in range(i + 1, len(items)):
                a, b = items[i], items[j]
                if _touching(a["rect"], b["rect"]):
                    vertical = abs(a["rect"].x0 - b["rect"].x0) < 1.5
                    a["w"] = max(a["w"], b["w"]) if vertical else a["w"] + b["w"]
                    a["h"] = a["h"] + b["h"] if vertical else max(a["h"], b["h"])
                    a["rect"] = a["rect"] | b["rect"]
                    a["parts"] += b["parts"]
                    del items[j]
                    merged = True
                    break
            if merged:
                break
    return items


def absorb_overlays(items: list[dict[str, Any]], page_area: float) -> list[dict[str, Any]]:
    """Pictures placed inside a larger picture's area are counted as its overlays, not kept."""
    order = sorted(items, key=lambda it: -it["rect"].get_area())
    kept: list[dict[str, Any]] = []
    for it in order:
        area = it["rect"].get_area()
        host = next((k for k in kept if k["rect"].get_area() < BACKGROUND_PAGE * page_area
                     and (k["rect"] & it["rect"]).get_area() >= CONTAINED * area), None)
        if host is None:
            kept.append(it)
        else:
            host["overlays"] += 1 + it["overlays"]
    return [it for it in items if any(it is k for k in kept)]


def resolve_xrefs(page: pymupdf.Page, items: list[dict[str, Any]]) -> None:
    """Set ``xref``/``smask``/``filter``/``cs`` on single-part items: by unique native size,
    else by MuPDF's digest match.

    ``get_image_info(xrefs=True)`` decodes every image on the page (8x slower), so it is the
    fallback for pages where two images share a size, not the default.
    """
    entries = page.get_images(full=True)
    by_xref = {e[0]: e for e in entries}
    by_size: dict[tuple[int, int], list[tuple]] = {}
    for e in entries:
        by_size.setdefault((e[2], e[3]), []).append(e)
    ambiguous = False
    for it in items:
        it["xref"] = 0
        if len(it["parts"]) != 1:
            continue
        cands = by_size.get((it["w"], it["h"]), [])
        if len({c[0] for c in cands}) == 1:
            it["xref"] = cands[0][0]
        elif cands:
            ambiguous = True
    if ambiguous:
        full = page.get_image_info(xrefs=True)
        for it in items:
            if it["xref"] or len(it["parts"]) != 1:
                continue
            for info in full:
                if pymupdf.Rect(info["bbox"]) == pymupdf.Rect(it["parts"][0]["bbox"]):
                    it["xref"] = info.get("xref", 0)
                    break
    for it in items:
        e = by_xref.get(it["xref"])
        it["smask"], it["cs"], it["filter"] = (e[1], e[5], e[8]) if e else (0, "", "")


def plain_placement(it: dict[str, Any]) -> bool:
    """True when one stored image is shown upright, unstretched and with nothing over it."""
    if len(it["parts"]) != 1 or it["overlays"] or not it["xref"] or it["smask"]:
        return False
    a, b, c, d, _, _ = it["parts"][0]["transform"]
    if b or c or a <= 0 or d <= 0:  # rotated or flipped on the page
        return False
    shown = it["rect"].width / max(it["rect"].height, 1e-6)
    native = it["w"] / max(it["h"], 1)
    return abs(shown / native - 1) < 0.05  # otherwise the page stretches it


def jpeg_components(data: bytes) -> int | None:
    """Colour components of a JPEG stream from its frame header (3 RGB/YCbCr, 1 grey, 4 CMYK)."""
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            return data[i + 9]
        i += 2 + int.from_bytes(data[i + 2:i + 4], "big")
    return None


def decodable(data: bytes) -> bool:
    """Cheap check that the stored stream is a picture (JPEG decodes at 1/8 scale)."""
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_REDUCED_GRAYSCALE_8)
    return img is not None and img.size > 0


def _has_decode(doc: pymupdf.Document, xref: int) -> bool:
    return doc.xref_get_key(xref, "Decode")[0] != "null"


def pixels(doc: pymupdf.Document, it: dict[str, Any], max_zoom: float, quality: int,
           max_side: int = 1600) -> tuple[bytes, str, str]:
    """(encoded bytes, extension, how) for one picture: ``stored``, ``decoded`` or ``rendered``."""
    if plain_placement(it):
        # A /Decode array (PyMuPDF writes one for Adobe CMYK JPEGs) is applied by MuPDF's
        # decoder, not by anyone reading the raw bytes: such streams are decoded, not copied.
        if it["filter"] == "DCTDecode" and not _has_decode(doc, it["xref"]):
            raw = doc.xref_stream_raw(it["xref"])
            n = jpeg_components(raw)
            if n in (1, 3, None) and not decodable(raw):
                raise ValueError("stored image stream cannot be decoded")
            if n in (1, 3):
                return raw, "jpg", "stored"
        pix = pymupdf.Pixmap(doc, it["xref"])  # CMYK, JPX, palettes, Flate: decoded once
        if pix.alpha:
            pix = pymupdf.Pixmap(pix, 0)
        if pix.colorspace is None or pix.colorspace.n not in (1, 3):
            pix = pymupdf.Pixmap(pymupdf.csRGB, pix)
        return _encode(pix, quality), "jpg", "decoded"
    # Strips, overlays, masks, rotation, stretching: render what is printed.
    page = doc[it["page"]]
    zoom = min(max_zoom, max(it["w"] / it["rect"].width, it["h"] / it["rect"].height),
               max_side / max(it["rect"].width, it["rect"].height))
    pix = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), clip=it["rect"], alpha=False,
                          colorspace=pymupdf.csRGB)
    return _encode(pix, quality), "jpg", "rendered"


def _encode(pix: pymupdf.Pixmap, quality: int) -> bytes:
    n = pix.n - (1 if pix.alpha else 0)
    arr = np.frombuffer(pix.samples, np.uint8).reshape(pix.height, pix.width, pix.n)[..., :n]
    img = arr[..., 0] if n == 1 else cv2.cvtColor(np.ascontiguousarray(arr), cv2.COLOR_RGB2BGR)
    # OpenCV's JPEG encoder is several times faster than MuPDF's here.
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("picture could not be encoded")
    return buf.tobytes()


MAX_OVERLAYS = 2000
DRAWN = {"fill-path": "path", "stroke-path": "path", "fill-text": "text", "stroke-text": "text"}


def vector_overlays(log: list[tuple[str, tuple]], r: pymupdf.Rect) -> list[dict[str, Any]]:
    """Paths and text painted over an image (frames, panel letters, arrows, charts), from
    ``page.get_bboxlog()`` -- every drawing operation's box in painting order, 10-30x faster
    than ``get_drawings`` on a page of 30,000 path items (Nature Communications 15:5649, p. 6).
    Only what is painted after the picture is over it; clip paths and invisible (OCR) text
    draw nothing. Boxes holding the whole picture are left out, with 1 pt of slack: BMC and
    Cureus pages put a white box 0.0004 pt short of the picture's edge. ``seq`` is the
    operation's place in the log (``get_drawings``' ``seqno``); ``area`` is what it paints,
    in square points, set here for text (its box) and by ``paint_paths`` for paths. What each
    one is -- frame, badge, arrow, chart -- is decided per panel (``annotations.py``)."""
    grown = pymupdf.Rect(r.x0 - 1, r.y0 - 1, r.x1 + 1, r.y1 + 1)
    start = next((i for i, (kind, box) in enumerate(log) if kind == "fill-image"
                  and grown.contains(pymupdf.Rect(box))), -1)
    out = []
    for i in range(start + 1, len(log)):
        kind, box = log[i]
        if kind not in DRAWN:
            continue
        dr = pymupdf.Rect(box)
        if not (dr.x0 <= r.x1 and dr.x1 >= r.x0 and dr.y0 <= r.y1 and dr.y1 >= r.y0):
            continue  # (a zero-width line counts: Rect.intersects would say no)
        if pymupdf.Rect(dr.x0 - 1, dr.y0 - 1, dr.x1 + 1, dr.y1 + 1).contains(r):
            continue
        out.append({"kind": DRAWN[kind], "op": kind, "seq": i,
                    "box": [round(v, 2) for v in dr],
                    "area": round(dr.get_area(), 2) if DRAWN[kind] == "text" else None})
        if len(out) >= MAX_OVERLAYS:
            break  # a chart of thousands of paths over a picture: these say enough
    return out


def text_spans(tdict: dict[str, Any]) -> list[tuple[pymupdf.Rect, str]]:
    """(box, text) of every non-blank span of a ``get_text("dict")`` result."""
    return [(pymupdf.Rect(sp["bbox"]), sp["text"]) for b in tdict.get("blocks", [])
            for line in b.get("lines", []) for sp in line["spans"] if sp["text"].strip()]


def _mostly_in(a: pymupdf.Rect, b: pymupdf.Rect) -> bool:
    """Half of ``a`` lies in ``b`` (a span's box is taller than its glyphs' logged box)."""
    return (a & b).get_area() >= 0.5 * max(a.get_area(), 1e-6)


def place_text(overlays: list[dict[str, Any]], r: pymupdf.Rect,
               spans: list[tuple[pymupdf.Rect, str]]) -> list[dict[str, Any]]:
    """Text overlays as the spans that are over the picture. One text object of the bbox log
    may hold a whole column (MDPI Diagnostics 10:969 puts panel letters and the burnt-in
    "5, M, B" labels of a figure in objects spanning the page): its box says nothing of where
    the letters are; the spans inside it do, and say what they read."""
    out = []
    used: set[int] = set()
    near = [(k, b, t) for k, (b, t) in enumerate(spans) if b.intersects(r)]
    for o in overlays:
        if o["kind"] != "text":
            out.append(o)
            continue
        box = pymupdf.Rect(o["box"])
        box = pymupdf.Rect(box.x0 - 1, box.y0 - 1, box.x1 + 1, box.y1 + 1)
        mine = [(k, b, t) for k, b, t in near if _mostly_in(b, box)]
        if not mine and not any(_mostly_in(b, box) for b, _ in spans):
            out.append(o)  # no span to say where the text is: its box, as logged
        out += [{**o, "box": [round(v, 2) for v in b], "area": round(b.get_area(), 2),
                 "text": t.strip()[:40]} for k, b, t in mine if k not in used]
        used.update(k for k, _, _ in mine)
    return out


def _polygon_area(pts: list[tuple[float, float]]) -> float:
    return abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1)
                   in zip(pts, pts[1:] + pts[:1], strict=True))) / 2


def painted_area(d: dict[str, Any]) -> float:
    """Square points a ``get_drawings`` path paints: its filled area, or, stroked only, its
    length times the line width. (A stroke's box in the bbox log is grown by the line joins,
    and a diagonal line's box is mostly empty: boxes overstate what an arrow covers.)"""
    fill, length, pts = 0.0, 0.0, []
    for it in d["items"]:
        if it[0] == "re":
            rect = pymupdf.Rect(it[1])
            fill += rect.get_area()
            length += 2 * (rect.width + rect.height)
        elif it[0] == "qu":
            q = it[1]
            fill += _polygon_area([(p.x, p.y) for p in (q.ul, q.ur, q.lr, q.ll)])
            length += sum(abs(a - b) for a, b in ((q.ul, q.ur), (q.ur, q.lr), (q.lr, q.ll),
                                                 (q.ll, q.ul)))
        else:  # "l" line, "c" Bezier curve: points in order (control points as an estimate)
            p = [(q.x, q.y) for q in it[1:]]
            length += sum(((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2) ** 0.5
                          for a, b in zip(p, p[1:], strict=False))
            pts.extend(p)
    if len(pts) >= 3:
        fill += _polygon_area(pts)
    rect = pymupdf.Rect(d["rect"])
    painted = fill if "f" in (d.get("type") or "") else length * max(d.get("width") or 1, 0.5)
    return min(painted, max(rect.width, 0.5) * max(rect.height, 0.5))


def paint_paths(page: pymupdf.Page, overlays: list[dict[str, Any]],
                drawings: dict[int, dict[str, Any]] | None) -> dict[int, dict[str, Any]] | None:
    """Exact boxes and painted areas for the path overlays, from ``get_drawings`` (run once
    per page, only for a page with paths over a picture). Returns the drawings by ``seqno``
    so the next picture of the page reuses them."""
    if not any(o["kind"] == "path" for o in overlays):
        return drawings
    if drawings is None:
        drawings = {d["seqno"]: d for d in page.get_drawings()}
    for o in overlays:
        d = drawings.get(o["seq"]) if o["kind"] == "path" else None
        prev = drawings.get(o["seq"] - 1) if o["kind"] == "path" else None
        if d is None and prev is not None and prev.get("type") == "fs":
            d = prev  # a filled and stroked path is one drawing, two log entries
        if d is not None:
            o["box"] = [round(v, 2) for v in d["rect"]]
            o["area"] = round(painted_area(d), 2)
        elif o["area"] is None:
            o["area"] = round(pymupdf.Rect(o["box"]).get_area(), 2)
    return drawings

"""What is drawn over a picture, judged by where it lies and how much it covers, not counted.

Journals draw over their rasters: a hairline frame around each panel, a small filled square
behind each panel letter (Medknow / Wolters Kluwer, Indian J Dermatol), a scale bar; authors
draw arrows and circles; a chart or a diagram may be vector art over a raster background.
Extraction records every path or text painted after a picture and over it
(``placements.vector_overlays``, boxes in PDF points); this module sorts them for one panel
(after a composite has been cut, so a panel is judged by what is over *it*):

- ``frame``: a box holding the whole panel, or a thin strip along one of its edges;
- ``badge``: a line of text or a compact filled box, each within a small share of the panel and
  in its outer band (panel letters, "65, F, LE" labels, scale bars) -- layout, not an
  annotation of the lesion: kept, recorded with its box in the panel's pixels (and its
  text) so a user can mask it;
- ``mark``: anything else inside a small share (arrows, circles, lines) -- the paper removes
  pictures with drawn arrows, so the filter sends these to review, with their boxes;
- the share of the panel painted by all non-frame drawings (filled area, or a stroke's length
  times its width: ``placements.painted_area``): from ``COVER_DROP`` on, the picture is a
  chart, a diagram or text over a background, and is dropped.
"""

from __future__ import annotations

from typing import Any

EDGE_STRIP = 0.03     # a drawing this thin (share of the side) along an edge is a frame piece
SMALL = 0.04          # one drawing painting at most this share of the panel is small
LABEL = 0.1           # a line of text within this share is a label ("65, F, LE": 4.5-6%)
BADGE_ASPECT = 3.0    # a badge is compact: its longer side at most this times its shorter
OUTER_BAND = 0.25     # a badge touches the panel's outer band (share of the side)
COVER_DROP = 0.2      # drawings painting this share of the panel make it a drawing, not a photo


def _clip(box: list[float], p: list[float]) -> tuple[float, float, float, float] | None:
    x0, y0 = max(box[0], p[0]), max(box[1], p[1])
    x1, y1 = min(box[2], p[2]), min(box[3], p[3])
    if x0 > x1 or y0 > y1:
        return None
    return x0, y0, x1, y1


def _area(x0: float, y0: float, x1: float, y1: float) -> float:
    return max(x1 - x0, 1.0) * max(y1 - y0, 1.0)  # a line's box has no area: give it a point


def sort_overlays(bbox: list[float], width: int, height: int,
                  overlays: list[dict[str, Any]]) -> dict[str, Any]:
    """Frames, badges and marks over one panel (``bbox`` in points, ``width`` x ``height``
    pixels), and ``cover``: the share of the panel painted by everything but frames (each
    drawing's painted area, in proportion to the part of its box over this panel)."""
    pw, ph = bbox[2] - bbox[0], bbox[3] - bbox[1]
    out: dict[str, Any] = {"frames": 0, "badges": [], "marks": [], "cover": 0.0}
    if pw <= 0 or ph <= 0:
        return out
    sx, sy = width / pw, height / ph
    painted = 0.0
    for ov in overlays:
        box = ov["box"]
        c = _clip(box, bbox)
        if c is None:
            continue
        x0, y0, x1, y1 = c
        holds = (box[0] <= bbox[0] + 1 and box[1] <= bbox[1] + 1 and box[2] >= bbox[2] - 1
                 and box[3] >= bbox[3] - 1)
        if holds or (x1 - x0 >= 0.9 * pw and y1 - y0 >= 0.9 * ph):
            out["frames"] += 1  # a frame just inside or outside the edge, or a box around it
            continue
        thin_x = x1 - x0 <= max(1.5, EDGE_STRIP * pw)
        thin_y = y1 - y0 <= max(1.5, EDGE_STRIP * ph)
        near_x = min(x0 - bbox[0], bbox[2] - x1) <= EDGE_STRIP * pw
        near_y = min(y0 - bbox[1], bbox[3] - y1) <= EDGE_STRIP * ph
        if (thin_x and near_x) or (thin_y and near_y):
            out["frames"] += 1  # one side of a frame drawn as four lines
            continue
        full = _area(*box)
        area = ov.get("area")
        area = full if area is None else area
        share = area * min(1.0, _area(x0, y0, x1, y1) / full) / (pw * ph)
        painted += share
        px = [round((x0 - bbox[0]) * sx), round((y0 - bbox[1]) * sy),
              round((x1 - bbox[0]) * sx), round((y1 - bbox[1]) * sy)]
        rec = {"kind": ov["kind"], "box_px": px, "share": round(share, 4)}
        if "text" in ov:
            rec["text"] = ov["text"]
        w, h = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
        compact = max(w, h) / min(w, h) <= BADGE_ASPECT
        outer = (min(x0 - bbox[0], bbox[2] - x1) <= OUTER_BAND * pw
                 or min(y0 - bbox[1], bbox[3] - y1) <= OUTER_BAND * ph)
        filled = ov["kind"] == "text" or ov.get("op", "").startswith("fill")
        if outer and ((ov["kind"] == "text" and share <= LABEL)
                      or (share <= SMALL and filled and compact)):
            # letters, labels ("5, M, B") and scale bars in the outer band of the panel
            out["badges"].append(rec)
        else:
            out["marks"].append(rec)
    out["cover"] = round(min(painted, 1.0), 4)
    return out


def verdict(sorted_: dict[str, Any]) -> tuple[str, str] | None:
    """("drop" | "review", why) from ``sort_overlays``' result, or None (nothing over it, or
    only frames and badges)."""
    if sorted_["cover"] >= COVER_DROP:
        return "drop", (f"vector drawing covers {sorted_['cover']:.0%} of the picture "
                        "(a chart, diagram or text over it)")
    if sorted_["marks"]:
        return "review", (f"{len(sorted_['marks'])} vector mark(s) drawn over the picture "
                          "(arrows, circles, lines)")
    return None

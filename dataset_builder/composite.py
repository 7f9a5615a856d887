"""Cut one raster that holds several panels into its panels (an XY-cut at panel seams).

With the caption's panel count (``gutter_split``):
A seam is first looked for as a white gutter (97% of a line near-white). Only when that does
not give as many panels as the caption has letters, a looser seam is allowed: a line 80% white
or crossed by a sharp step along half its length -- two photographs butted together, or a
one-pixel gutter that JPEG blurred. Measured on the four-panel raster of Am J Trop Med Hyg
111(1) Fig. 1 (tests/builder_truth): the butted seam between A and B is a step on 60% of its
rows, against at most 23% for any column inside those photographs; the gutter between C and D
is 85% white. The looser test alone fires on regular patterns (a synthetic pigment network
drawn as a grid reaches 52%), hence the order.

Without a count (a caption with no panel letters, ``grid_split``): only strict gutters, white
or black, and only parts that are pictures -- a 4 x 4 collage of clinical photographs becomes
16 parts sharing the caption.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .geometry import reading_order

WHITE = 235          # grey level of a gutter pixel
BLACK = 25           # grey level of a black gutter pixel (figures on black, composites only)
MIN_PART = 0.08      # a part found without a count spans this share of the raster's side ...
MIN_PART_PX = 64     # ... and this many pixels
PART_BLANK = 0.9     # a part this white (or black) is margin or a legend box, not a picture
PART_SPREAD = 1.3    # parts found without a count are a regular grid: sides within this ratio
PART_ASPECT = 3.0    # ... and none is a strip (ECG leads, chat bubbles, a banner)
WHITE_SHARE = 0.97   # a line this white is a gutter
LOOSE_WHITE = 0.8    # second try: a line this white ...
STEP = 30            # ... or with a grey step of this size ...
STEP_SHARE = 0.5     # ... on this share of its length is a seam


def _runs(keep: np.ndarray, min_len: int) -> list[tuple[int, int]]:
    runs, start = [], None
    for i, v in enumerate(keep):
        if v and start is None:
            start = i
        elif not v and start is not None:
            if i - start >= min_len:
                runs.append((start, i))
            start = None
    if start is not None and len(keep) - start >= min_len:
        runs.append((start, len(keep)))
    return runs


def _pieces(grey: np.ndarray, axis: int, loose: bool, black: bool = False
            ) -> list[tuple[int, int]]:
    """Runs of panel content along ``axis`` (0: columns, 1: rows) between seams."""
    g = grey if axis == 0 else grey.T
    white = ((g <= BLACK) if black else (g >= WHITE)).mean(axis=0)
    if not loose:
        return _runs(white < WHITE_SHARE, max(8, g.shape[1] // 10))
    step = np.zeros(g.shape[1])
    if g.shape[1] > 2:
        step[1:-1] = (np.abs(g[:, 2:] - g[:, :-2]) > STEP).mean(axis=0)
    seam = (white >= LOOSE_WHITE) | (step >= STEP_SHARE)
    return _runs(~seam, max(8, g.shape[1] // 10))


def gutter_split(path: Path, n: int) -> list[tuple[int, int, int, int]] | None:
    """Cut a composite raster into ``n`` panels (x0, y0, x1, y1) in pixels, or None.

    Columns are tried first, then rows, then rows of columns and columns of rows (grids and
    a row of two over full-width rows); only a cut giving exactly ``n`` pieces is accepted.
    """
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if img is None:
        return None
    grey = img.astype(np.int16)
    for loose in (False, True):
        boxes = _cut(grey, n, loose)
        if boxes:
            return boxes
    return None


def grid_split(path: Path) -> list[tuple[int, int, int, int]] | None:
    """Cut a composite whose caption gives no panel count at its clean gutters -- white, or
    black -- into parts (x0, y0, x1, y1) in pixels, or None when there are none.

    Only strict gutters count here (a whole line 97% white or black; the looser seams need
    the caption's count to be trusted), rows of columns or columns of rows, whichever finds
    more parts; the parts must form a regular grid (``_regular``), and each must span
    ``MIN_PART`` of the raster's side and not be blank, or nothing is cut (a photograph with a
    white band across it, a chart, a diagram stay whole).
    """
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if img is None:
        return None
    grey = img.astype(np.int16)
    h, w = grey.shape
    best: list[tuple[int, int, int, int]] = []
    for black in (False, True):
        rows = _pieces(grey, 1, False, black)
        by_rows = [(x0, y0, x1, y1) for y0, y1 in rows
                   for x0, x1 in (_pieces(grey[y0:y1], 0, False, black) or [(0, w)])]
        cols = _pieces(grey, 0, False, black)
        by_cols = [(x0, y0, x1, y1) for x0, x1 in cols
                   for y0, y1 in (_pieces(grey[:, x0:x1], 1, False, black) or [(0, h)])]
        for boxes in (by_rows, by_cols):
            if (len(boxes) > max(1, len(best)) and _regular(boxes)
                    and all(_is_part(grey, b, black) for b in boxes)):
                best = boxes
    return best or None


def _regular(boxes: list[tuple[int, int, int, int]]) -> bool:
    """A grid of like pictures: diagrams, ECG strips and figure layouts with white space
    (Nature Communications 15:5649 Figs. 1-2, Global Heart 18(1):41 Figs. 5-7, measured)
    cut into parts of unlike sizes or into strips; a collage of photographs does not."""
    ws = [x1 - x0 for x0, _, x1, _ in boxes]
    hs = [y1 - y0 for _, y0, _, y1 in boxes]
    return (max(ws) <= PART_SPREAD * min(ws) and max(hs) <= PART_SPREAD * min(hs)
            and all(max(w, h) <= PART_ASPECT * min(w, h) for w, h in zip(ws, hs, strict=True)))


def _is_part(grey: np.ndarray, box: tuple[int, int, int, int], black: bool) -> bool:
    x0, y0, x1, y1 = box
    h, w = grey.shape
    if min(x1 - x0, y1 - y0) < MIN_PART_PX or x1 - x0 < MIN_PART * w or y1 - y0 < MIN_PART * h:
        return False
    part = grey[y0:y1, x0:x1]
    return float(((part <= BLACK) if black else (part >= WHITE)).mean()) < PART_BLANK


def _cut(grey: np.ndarray, n: int, loose: bool) -> list[tuple[int, int, int, int]] | None:
    h, w = grey.shape
    cols = _pieces(grey, 0, loose)
    if len(cols) == n:
        return [(x0, 0, x1, h) for x0, x1 in cols]
    rows = _pieces(grey, 1, loose)
    if len(rows) == n:
        return [(0, y0, w, y1) for y0, y1 in rows]
    if len(rows) > 1:
        boxes = [(x0, y0, x1, y1) for y0, y1 in rows
                 for x0, x1 in (_pieces(grey[y0:y1], 0, loose) or [(0, w)])]
        if len(boxes) == n:
            return boxes
    if len(cols) > 1:
        boxes = [(x0, y0, x1, y1) for x0, x1 in cols
                 for y0, y1 in (_pieces(grey[:, x0:x1], 1, loose) or [(0, h)])]
        if len(boxes) == n:
            return boxes
    return None


def crop_panels(img: dict[str, Any], pieces: list[tuple[int, int, int, int]], work: Path,
                split_dir: Path) -> list[dict[str, Any]]:
    """Write each piece as its own image; records in reading order with boxes in points."""
    pixels = cv2.imread(str(work / img["image"]), cv2.IMREAD_COLOR)
    h, w = pixels.shape[:2]
    x0, y0, x1, y1 = img["bbox"]
    sx, sy = (x1 - x0) / w, (y1 - y0) / h
    split_dir.mkdir(parents=True, exist_ok=True)
    boxes = [[x0 + a * sx, y0 + b * sy, x0 + c * sx, y0 + d * sy] for a, b, c, d in pieces]
    out = []
    for k in reading_order(boxes):
        a, b, c, d = pieces[k]
        name = f"{img['id']}_{len(out)}.jpg"
        cv2.imwrite(str(split_dir / name), pixels[b:d, a:c], [cv2.IMWRITE_JPEG_QUALITY, 95])
        out.append({**img, "id": f"{img['id']}_{len(out)}", "source_image": img["id"],
                    "bbox": [round(v, 2) for v in boxes[k]], "width": c - a, "height": d - b,
                    "image": str((split_dir / name).relative_to(work))})
    return out

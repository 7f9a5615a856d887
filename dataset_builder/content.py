"""Is there a picture at all? Blank rasters and ink on a flat background are not skin images.

Real PDFs hold rasters that are one flat colour (Nature Communications 15:5649, Fig. 3: the
chat-bubble backgrounds under vector text, 15 of them, every pixel the same) or text and line
art on a plain background (a scanned table, an ECG). Measured on the corpus pictures
(``tests/builder_truth``), after quantising colours to 16 levels per channel:

- flat: the commonest colour (+-20 levels) covers 100% of every bubble; skin photographs and
  micrographs reach at most 71% (a dermoscopy close-up with an even background);
- ink: either a flat background over 75% with the remaining pixels almost all unsaturated
  (< 5% with saturation > 60: sparse line art), or a colourless picture (< 2% saturated) on a
  plain background (> 50%) dense with sharp strokes (> 30% of pixels with |Laplacian| > 40 at
  160 px): rendered text of the corpus pages scores 0.41-0.65; skin photographs 0.02-0.10,
  and H&E micrographs, dense too (0.44-0.49), are never colourless;
- greyscale otherwise (under 2% saturated): radiology, ultrasound, old black-and-white
  photographs. Not dropped (a greyscale clinical photograph exists) but sent to review.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

SIDE = 160                # pixels on the long side for these statistics
TOL = 20                  # grey levels around the commonest colour that still count as it
FLAT_SHARE = 0.97
INK_SHARE = 0.75
INK_SATURATED = 0.05
GREY_SATURATED = 0.02
TEXT_EDGES = 0.3
TEXT_BACKGROUND = 0.5


def content_stats(img: np.ndarray) -> dict[str, float]:
    h, w = img.shape[:2]
    s = SIDE / max(h, w)
    small = (cv2.resize(img, (max(1, int(w * s)), max(1, int(h * s))),
                        interpolation=cv2.INTER_AREA) if s < 1 else img)
    px = small.reshape(-1, 3).astype(np.int16)
    q = px // 16
    codes = q[:, 0] * 256 + q[:, 1] * 16 + q[:, 2]
    top = int(np.argmax(np.bincount(codes, minlength=4096)))
    bg = np.array([top // 256, (top // 16) % 16, top % 16]) * 16 + 8
    near = np.abs(px - bg).max(axis=1) <= TOL
    sat = cv2.cvtColor(small, cv2.COLOR_BGR2HSV).reshape(-1, 3)[:, 1] > 60
    rest = sat[~near]
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    edges = np.abs(cv2.Laplacian(grey, cv2.CV_16S)) > 40
    return {"background": round(float(near.mean()), 3),
            "rest_saturated": round(float(rest.mean()) if rest.size else 0.0, 3),
            "saturated": round(float(sat.mean()), 3),
            "edges": round(float(edges.mean()), 3),
            "grey_std": round(float(grey.std()), 2)}


def content_check(img: np.ndarray) -> tuple[str, str, dict[str, float]] | None:
    """("drop" | "review", reason, statistics) when the picture is not a photograph, else None."""
    st = content_stats(img)
    if st["background"] >= FLAT_SHARE or st["grey_std"] < 3:
        return "drop", "blank: one flat colour", st
    if ((st["background"] >= INK_SHARE and st["rest_saturated"] < INK_SATURATED)
            or (st["saturated"] < GREY_SATURATED and st["edges"] >= TEXT_EDGES
                and st["background"] >= TEXT_BACKGROUND)):
        return "drop", "text or line art on a flat background", st
    if st["saturated"] < GREY_SATURATED:
        return "review", "greyscale picture (radiology, chart or black-and-white photo?)", st
    return None


def describe(result: tuple[str, str, dict[str, Any]] | None) -> dict[str, Any] | bool:
    return False if result is None else {"decision": result[0], "reason": result[1],
                                         **result[2]}

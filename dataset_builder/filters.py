"""Stage 5, filter: the paper's exclusions, as far as they can be detected; every decision kept.

- Vector annotations (arrows, circles, lines drawn over the picture as PDF paths, counted at
  extraction) -> ``drop``.
- Burnt-in arrows (a heuristic on thin, straight, pure-colour strokes with a head) -> ``review``:
  the heuristic also fires on white histology clefts and dermoscopy glare, so a person decides.
- Full faces -> ``drop`` when a face detector the user supplies (an OpenCV Haar cascade ``.xml``
  or a YuNet ``.onnx``) finds a face covering a large part of the picture; without a model
  the check is recorded as ``not_checked``. No face model ships with opencv-python-headless.
- Genitalia and identifying tattoos: no detector -> ``not_checked`` on every image.
- Exact duplicate pixels -> ``drop``; sub-captions that could not be matched to panels ->
  ``review``.

Output: ``<work>/filter/decisions.jsonl`` (decision, reasons, per-check results); nothing is
removed from disk, and the write stage reports how many were left out and why.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from harness.errors import UsageError

from .align import all_pairs
from .progress import progress_bar
from .records import append_jsonl, done_ids, read_jsonl

RANK = {"keep": 0, "review": 1, "drop": 2}


def burnt_in_arrow(img: np.ndarray) -> dict[str, Any] | None:
    """A thin straight stroke of annotation colour (pure white/black/saturated) with a head.

    Thin structures are separated from flat areas by a white top-hat on each colour mask; a
    stroke counts when it is long (>= 15% of the short side) and its minimum-area rectangle is
    much wider than the stroke itself, which a shaft with an arrow head is and a hair is not
    (mostly). Returns the evidence or None.
    """
    h, w = img.shape[:2]
    scale = 256 / max(h, w)
    small = cv2.resize(img, (max(1, int(w * scale)), max(1, int(h * scale))),
                       interpolation=cv2.INTER_AREA) if scale < 1 else img
    sh, sw = small.shape[:2]
    side = min(sh, sw)
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
    masks = {
        "white": np.all(small >= 235, axis=2),
        "black": np.all(small <= 25, axis=2),
        "colour": (hsv[..., 1] >= 200) & (hsv[..., 2] >= 200),
    }
    k = max(3, side // 25) | 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    for name, mask in masks.items():
        m = mask.astype(np.uint8)
        if m.sum() < side:
            continue
        thin = cv2.subtract(m, cv2.morphologyEx(m, cv2.MORPH_OPEN, kernel))
        n, lab, stats, _ = cv2.connectedComponentsWithStats(thin, connectivity=8)
        for i in range(1, n):
            area = stats[i, cv2.CC_STAT_AREA]
            if area < side * 0.6:
                continue
            ys, xs = np.nonzero(lab == i)
            (_, _), (rw, rh), _ = cv2.minAreaRect(np.column_stack([xs, ys]).astype(np.float32))
            length, breadth = max(rw, rh), min(rw, rh)
            stroke = area / max(length, 1)
            if length >= 0.15 * side and length / max(stroke, 1) >= 6 and breadth >= 2.2 * stroke:
                return {"colour": name, "length_frac": round(length / side, 3),
                        "head_ratio": round(breadth / max(stroke, 1e-6), 2)}
    return None


class FaceDetector:
    """A user-supplied OpenCV face model: Haar cascade (.xml) or YuNet (.onnx)."""

    def __init__(self, path: Path, min_fraction: float = 0.2) -> None:
        if not path.is_file():
            raise UsageError(f"face model {path} does not exist.")
        self.path, self.min_fraction = path, min_fraction
        if path.suffix.lower() == ".xml":
            self.cascade = cv2.CascadeClassifier(str(path))
            if self.cascade.empty():
                raise UsageError(f"face model {path} is not an OpenCV cascade file.")
            self.yunet = None
        elif path.suffix.lower() == ".onnx":
            self.cascade = None
            try:
                self.yunet = cv2.FaceDetectorYN.create(str(path), "", (320, 320))
            except cv2.error as exc:
                raise UsageError(f"face model {path} could not be loaded by OpenCV.") from exc
        else:
            raise UsageError(f"face model {path} must be an OpenCV cascade .xml or YuNet .onnx.")

    def faces(self, img: np.ndarray) -> list[list[int]]:
        if self.cascade is not None:
            grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
            found = self.cascade.detectMultiScale(grey, 1.1, 5)
            return [list(map(int, f)) for f in found]
        h, w = img.shape[:2]
        self.yunet.setInputSize((w, h))
        _, found = self.yunet.detect(img)
        return [] if found is None else [list(map(int, f[:4])) for f in found]

    def full_face(self, img: np.ndarray) -> tuple[bool, int]:
        """(a face covers at least ``min_fraction`` of the short side, number of faces)."""
        found = self.faces(img)
        side = min(img.shape[:2])
        return any(max(f[2], f[3]) >= self.min_fraction * side for f in found), len(found)


def decide(pair: dict[str, Any], img: np.ndarray | None, modality: dict[str, Any] | None,
           faces: FaceDetector | None) -> dict[str, Any]:
    reasons: list[tuple[str, str]] = []
    checks: dict[str, Any] = {"vector_marks": pair.get("vector_marks", 0),
                              "genitalia": "not_checked", "tattoo": "not_checked"}
    if pair.get("vector_marks"):
        reasons.append(("drop", f"{pair['vector_marks']} vector path(s) drawn over the image"))
    if pair.get("duplicate_of"):
        reasons.append(("drop", f"same pixels as {pair['duplicate_of']}"))
    if img is None:
        reasons.append(("drop", "image cannot be decoded"))
        checks["raster_arrow"] = checks["face"] = "not_checked"
    else:
        arrow = burnt_in_arrow(img)
        checks["raster_arrow"] = arrow or False
        if arrow:
            reasons.append(("review", f"possible burnt-in arrow ({arrow['colour']})"))
        if faces is None:
            checks["face"] = "not_checked"
        else:
            full, n = faces.full_face(img)
            checks["face"] = {"faces": n, "full_face": full}
            if full:
                reasons.append(("drop", "full face"))
    if pair.get("alignment") == "full_caption_mismatch":
        reasons.append(("review", "sub-captions could not be matched to panels"))
    if modality is not None and modality.get("modality") is None:
        reasons.append(("review", "no modality"))
    decision = max((r[0] for r in reasons), key=RANK.__getitem__, default="keep")
    return {"id": pair["id"], "decision": decision, "reasons": [r[1] for r in reasons],
            "checks": checks}


def run_filter(work: Path, face_model: Path | None = None, quiet: bool = False) -> dict[str, int]:
    faces = FaceDetector(face_model) if face_model else None
    out = work / "filter" / "decisions.jsonl"
    done = done_ids(out)
    modality = {r["id"]: r for r in read_jsonl(work / "modality" / "modality.jsonl")}
    todo = [p for p in all_pairs(work) if p["id"] not in done]
    counts: Counter[str] = Counter()
    batch = []
    with progress_bar(quiet) as bar:
        task = bar.add_task("filter", total=len(todo))
        for p in todo:
            img = cv2.imread(str(work / p["image"]), cv2.IMREAD_REDUCED_COLOR_2)
            rec = decide(p, img, modality.get(p["id"]), faces)
            counts[rec["decision"]] += 1
            batch.append(rec)
            if len(batch) >= 64:
                append_jsonl(out, batch)
                batch = []
            bar.advance(task)
    append_jsonl(out, batch)
    return dict(counts)

"""Stage 5, filter: the paper's exclusions, as far as they can be detected; every decision kept.

- Paths and text drawn over the picture (recorded at extraction), judged per panel by where
  they lie and how much they cover (``annotations.py``): frames and panel-letter badges are
  recorded and kept; arrows, circles and lines inside a small area -> ``review`` (the paper
  removes pictures with drawn arrows; a person decides); drawings covering a fifth of the
  panel (a chart, a diagram, text over a background) -> ``drop``.
- Burnt-in arrows (a heuristic on thin, straight, pure-colour strokes with a head) -> ``review``:
  the heuristic also fires on white histology clefts and dermoscopy glare, so a person decides.
- Full faces -> ``drop`` when OpenCV's own frontal-face cascade (or a model given with
  ``--face-model``: a Haar ``.xml`` or a YuNet ``.onnx``) finds a face spanning a fifth of the
  picture (``faces.py``); where OpenCV has no cascades the check is ``not_checked`` and why.
- Blank rasters and ink on a flat background -> ``drop``; greyscale pictures -> ``review``
  (``content.py``).
- A caption that names another organ or a non-skin imaging method and nothing of skin (liver
  histology, an ECG) -> ``review``: it may be pathology, but not of skin.
- A modality the classifier is unsure of (distance ratio close to 1) -> ``review``.
- Genitalia and identifying tattoos: no detector -> ``not_checked`` on every image.
- Exact duplicate pixels -> ``drop``; sub-captions that could not be matched to panels ->
  ``review``.

Output: ``<work>/filter/decisions.jsonl`` (decision, reasons, per-check results); nothing is
removed from disk, and the write stage reports how many were left out and why.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .align import all_pairs
from .annotations import sort_overlays, verdict
from .content import content_check, describe
from .faces import FaceDetector, unavailable
from .imageio import read_reduced
from .progress import progress_bar
from .records import append_jsonl, done_ids, read_jsonl

RANK = {"keep": 0, "review": 1, "drop": 2}
# The checks look at 160-320 px; decoding more is waste. Each check resizes from this itself:
# resizing twice (to 400, then 256) lost the thin arrows of the Cureus photographs (measured).
CHECK_SIDE = 400
MODALITY_REASON = "modality uncertain:"  # a reviewer's verified modality settles these


def burnt_in_arrow(img: np.ndarray) -> dict[str, Any] | None:
    """A thin straight stroke of annotation colour (pure white/black/saturated) with a head.

    Thin structures are separated from flat areas by a white top-hat on each colour mask;
    strokes touching the picture's edge are frames, not arrows; a stroke counts when it is
    long (>= 15% of the short side) and its minimum-area rectangle is much wider than the
    stroke itself, which a shaft with an arrow head is and a hair is not (mostly). Returns
    the evidence or None.
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
            x, y, cw, ch = stats[i, :4]
            if x <= 1 or y <= 1 or x + cw >= sw - 1 or y + ch >= sh - 1:
                continue  # a frame or margin along the edge (the infoGAN images of the corpus)
            ys, xs = np.nonzero(lab == i)
            (_, _), (rw, rh), _ = cv2.minAreaRect(np.column_stack([xs, ys]).astype(np.float32))
            length, breadth = max(rw, rh), min(rw, rh)
            stroke = area / max(length, 1)
            if length >= 0.15 * side and length / max(stroke, 1) >= 6 and breadth >= 2.2 * stroke:
                return {"colour": name, "length_frac": round(length / side, 3),
                        "head_ratio": round(breadth / max(stroke, 1e-6), 2)}
    return None


NOT_SKIN = re.compile(
    r"\b(liver|hepat\w*|kidney|renal|lungs?|pulmonary|heart|cardiac|myocard\w*|pericard\w*|"
    r"brain|cerebr\w*|thalam\w*|bone marrow|colon\w*|gastric|stomach|intestin\w*|bowel|"
    r"pancrea\w*|spleen|splenic|thyroid|prostat\w*|bladder|retina\w*|fundus|"
    r"electrocardiogra\w*|ECG|echocardiogra\w*|MRI|CT|computed tomography|radiograph\w*|"
    r"X-ray|ultraso\w*)\b", re.I)
SKIN = re.compile(
    r"\b(skin|cutaneous|subcutaneous|derm\w*|epiderm\w*|rash\w*|eruption|exanthem\w*|"
    r"lesions?|plaques?|papul\w*|macul\w*|vesic\w*|bull(a|ae|ous)|pustul\w*|wheals?|"
    r"urticari\w*|erythem\w*|petechia\w*|purpur\w*|ecchymo\w*|nevus|naevus|nevi|naevi|"
    r"melanom\w*|kerato\w*|eczem\w*|psoria\w*|scalp|nails?|ulcer\w*|wart|tumou?r|nodules?)\b",
    re.I)


def caption_context(text: str) -> str | None:
    """Why a caption suggests the picture is not of skin (names another organ or a non-skin
    imaging method and nothing of skin), or None. The BMC corpus article's liver H&E panels
    look like skin pathology to any colour/texture feature; only the words tell them apart."""
    other = NOT_SKIN.findall(text)
    if other and not SKIN.search(text):
        return f"caption names {other[0]}, nothing of skin"
    return None


def decide(pair: dict[str, Any], img: np.ndarray | None, modality: dict[str, Any] | None,
           faces: FaceDetector | None, faces_why: str = "not_checked") -> dict[str, Any]:
    reasons: list[tuple[str, str]] = []
    checks: dict[str, Any] = {"genitalia": "not_checked", "tattoo": "not_checked"}
    if "vector_overlays" in pair:
        drawn = sort_overlays(pair["bbox"], pair.get("width") or 1, pair.get("height") or 1,
                              pair["vector_overlays"])
        checks["vector"] = drawn
        found = verdict(drawn)
        if found:
            reasons.append(found)
    elif pair.get("vector_marks"):  # a work folder extracted before the drawings were kept
        checks["vector"] = "not_checked: extracted by an older version (only a count kept)"
        reasons.append(("review", f"{pair['vector_marks']} vector path(s) over the image; "
                                  "extract again to judge them"))
    if pair.get("duplicate_of"):
        reasons.append(("drop", f"same pixels as {pair['duplicate_of']}"))
    not_skin = (modality is not None and modality.get("modality") == "other"
                and not modality.get("review"))
    if img is None:
        reasons.append(("drop", "image cannot be decoded"))
        checks["raster_arrow"] = checks["face"] = checks["content"] = "not_checked"
    else:
        content = content_check(img)
        checks["content"] = describe(content)
        if content:
            reasons.append((content[0], content[1]))
        if (content and content[0] == "drop") or not_skin:
            # left out whatever the other checks say: spare them
            checks["raster_arrow"] = checks["face"] = "skipped: not a skin image"
        else:
            arrow = burnt_in_arrow(img)
            checks["raster_arrow"] = arrow or False
            if arrow:
                reasons.append(("review", f"possible burnt-in arrow ({arrow['colour']})"))
            if faces is None:
                checks["face"] = faces_why
            elif (modality or {}).get("modality") in ("dermoscopy", "pathology") \
                    and not modality.get("review"):
                checks["face"] = "skipped: no full face under a dermatoscope or microscope"
            else:
                full, n = faces.full_face(img)
                checks["face"] = {"faces": n, "full_face": full}
                if full:
                    reasons.append(("drop", "full face"))
    context = caption_context(pair.get("text") or "")
    checks["caption_context"] = context or False
    if context:
        reasons.append(("review", context))
    if pair.get("alignment") == "full_caption_mismatch":
        reasons.append(("review", "sub-captions could not be matched to panels"))
    if modality is not None and modality.get("modality") is None:
        reasons.append(("review", "no modality"))
    elif modality is not None and modality.get("stain"):
        reasons.append(("review", f"{MODALITY_REASON} pathology by its H&E colours "
                                  f"({modality['stain']['he_share']:.0%} of the tissue), "
                                  f"other by its colour/texture neighbours"))
    elif modality is not None and modality.get("review"):
        reasons.append(("review", f"{MODALITY_REASON} {modality['modality']} or "
                                  f"{modality['runner_up']} (distance ratio "
                                  f"{modality.get('ratio', 1 - modality['margin']):.2f})"))
    decision = max((r[0] for r in reasons), key=RANK.__getitem__, default="keep")
    return {"id": pair["id"], "decision": decision, "reasons": [r[1] for r in reasons],
            "checks": checks}


def run_filter(work: Path, face_model: Path | None = None, quiet: bool = False,
               face_check: bool = True) -> dict[str, Any]:
    """Decisions for every pair not yet decided. Faces are checked with ``face_model`` or,
    without one, OpenCV's own cascade; where this OpenCV has none the check is recorded as not
    done and the returned counts say why (``face_check``)."""
    faces, why = None, "not_checked"
    if face_model:
        faces = FaceDetector(face_model)
    elif face_check:
        missing = unavailable()
        faces = None if missing else FaceDetector()
        why = f"not_checked: {missing}" if missing else why
    out = work / "filter" / "decisions.jsonl"
    done = done_ids(out)
    modality = {r["id"]: r for r in read_jsonl(work / "modality" / "modality.jsonl")}
    todo = [p for p in all_pairs(work) if p["id"] not in done]
    counts: Counter[str] = Counter()
    batch = []
    with progress_bar(quiet) as bar:
        task = bar.add_task("filter", total=len(todo))
        for p in todo:
            img = read_reduced(work / p["image"], p.get("width"), p.get("height"), CHECK_SIDE)
            rec = decide(p, img, modality.get(p["id"]), faces, why)
            counts[rec["decision"]] += 1
            batch.append(rec)
            if len(batch) >= 64:
                append_jsonl(out, batch)
                batch = []
            bar.advance(task)
    append_jsonl(out, batch)
    res: dict[str, Any] = dict(counts)
    if faces is None and face_check and not face_model and why != "not_checked":
        res["face_check"] = why
    return res

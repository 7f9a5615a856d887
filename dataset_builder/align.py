"""Stage 2, align: pair captions with image groups by page geometry and split into panels.

For each caption the figure is looked for in the space next to it (above, below, beside),
bounded by body text and other captions, as pdffigures2 does; each image goes to its cheapest
caption. The images of one caption, in reading order, are its panels; sub-captions are matched
to panels by label order (or left/right, top/bottom). A composite raster with more labels than
images is cut at its white gutters. When labels and panels still disagree every panel keeps
the full caption, and ``alignment`` records which path made each pair:

``label_order`` | ``label_order_split`` | ``spatial`` | ``single`` | ``full_caption_nolabels`` |
``full_caption_mismatch``.

Output: ``<work>/align/<pdf_id>.pairs.jsonl`` (one line per panel), ``.captions.jsonl`` (every
caption found, with how many panels it got) and ``.unpaired.jsonl`` (images no caption claimed).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .captions import (
    Caption,
    Split,
    caption_candidates,
    panel_text,
    resolve_block,
    select_captions,
    split_caption,
    vocabulary,
)
from .extract import extracted
from .progress import progress_bar
from .records import read_jsonl, write_jsonl_atomic

OBSTACLE_CHARS = 25     # a text block at least this long bounds a figure region
BELOW_PENALTY = 10.0    # captions usually sit below their figure
SIDE_PENALTY = 20.0
SIDE_MAX_GAP = 40.0


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return min(a1, b1) - max(a0, b0)


def _blocked(img: list[float], cap: list[float], y0: float, y1: float,
             obstacles: list[list[float]]) -> bool:
    """Is there body text or another caption between y0 and y1 across the image's columns?"""
    for o in obstacles:
        if o is cap:
            continue
        if _overlap(o[0], o[2], img[0], img[2]) > 2 and o[1] >= y0 - 1 and o[3] <= y1 + 1:
            return True
    return False


def pair_cost(img: list[float], cap: list[float], obstacles: list[list[float]]) -> float | None:
    if _overlap(img[0], img[2], cap[0], cap[2]) > 2:
        if img[3] <= cap[1] + 2:  # image above the caption
            if not _blocked(img, cap, img[3], cap[1], obstacles):
                return max(0.0, cap[1] - img[3])
        elif img[1] >= cap[3] - 2:  # image below the caption
            if not _blocked(img, cap, cap[3], img[1], obstacles):
                return max(0.0, img[1] - cap[3]) + BELOW_PENALTY
    elif _overlap(img[1], img[3], cap[1], cap[3]) > 0:
        gap = max(cap[0] - img[2], img[0] - cap[2])
        if 0 <= gap <= SIDE_MAX_GAP:
            return gap + SIDE_PENALTY
    return None


def reading_order(boxes: list[list[float]]) -> list[int]:
    """Indices in reading order: rows by vertical centre (tolerance half a panel), then x."""
    if not boxes:
        return []
    heights = sorted(b[3] - b[1] for b in boxes)
    tol = heights[len(heights) // 2] / 2
    order = sorted(range(len(boxes)), key=lambda i: (boxes[i][1] + boxes[i][3]) / 2)
    rows: list[list[int]] = []
    for i in order:
        cy = (boxes[i][1] + boxes[i][3]) / 2
        if rows and abs(cy - (boxes[rows[-1][0]][1] + boxes[rows[-1][0]][3]) / 2) <= tol:
            rows[-1].append(i)
        else:
            rows.append([i])
    return [i for row in rows for i in sorted(row, key=lambda k: boxes[k][0])]


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


def gutter_split(path: Path, n: int) -> list[tuple[int, int, int, int]] | None:
    """Cut a composite raster at white gutters into ``n`` panels (x0, y0, x1, y1) in pixels.

    A row or column is gutter when 97% of its pixels are near white. Columns are tried first,
    then rows, then rows of columns (grids). None when no cut gives exactly ``n`` pieces.
    """
    grey = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if grey is None:
        return None
    h, w = grey.shape
    white = grey >= 235

    def cols(y0: int, y1: int) -> list[tuple[int, int]]:
        return _runs(white[y0:y1].mean(axis=0) < 0.97, max(8, w // 10))

    def rows(x0: int, x1: int) -> list[tuple[int, int]]:
        return _runs(white[:, x0:x1].mean(axis=1) < 0.97, max(8, h // 10))

    c = cols(0, h)
    if len(c) == n:
        return [(x0, 0, x1, h) for x0, x1 in c]
    r = rows(0, w)
    if len(r) == n:
        return [(0, y0, w, y1) for y0, y1 in r]
    if len(r) > 1:
        boxes = [(x0, y0, x1, y1) for y0, y1 in r for x0, x1 in cols(y0, y1)]
        if len(boxes) == n:
            return boxes
    return None


def _assign(cap: Caption, split: Split, imgs: list[dict[str, Any]], work: Path,
            split_dir: Path) -> list[dict[str, Any]]:
    """Pair records for one caption's images (panels)."""
    order = reading_order([i["bbox"] for i in imgs])
    panels = [dict(imgs[k]) for k in order]
    labels = split.labels
    full = cap.body
    how = ""
    if labels and split.style == "spatial" and len(panels) == 2:
        axis = 0 if labels[0] in ("left", "right") else 1
        panels.sort(key=lambda p: p["bbox"][axis])
        labels = sorted(labels, key=lambda lab: lab in ("right", "bottom", "lower"))
        how = "spatial"
    elif labels and len(labels) == len(panels):
        how = "label_order"
    elif labels and len(panels) == 1 and len(labels) > 1:
        pieces = gutter_split(work / panels[0]["image"], len(labels))
        if pieces:
            panels = _crop_panels(panels[0], pieces, work, split_dir)
            how = "label_order_split"
    out = []
    for k, p in enumerate(panels):
        rec = {**p, "figure": cap.figure, "figure_label": cap.label, "caption": cap.text,
               "caption_page": cap.page, "panel": k, "n_panels": len(panels),
               "preface": split.preface, "postscript": split.postscript}
        if how:
            rec.update(label=labels[k], subcaption=split.segment_for(labels[k]),
                       text=panel_text(split, labels[k]), alignment=how)
        else:
            rec.update(label=None, subcaption=full, text=full,
                       alignment="single" if len(panels) == 1 and not labels
                       else "full_caption_nolabels" if not labels else "full_caption_mismatch")
        out.append(rec)
    return out


def _crop_panels(img: dict[str, Any], pieces: list[tuple[int, int, int, int]], work: Path,
                 split_dir: Path) -> list[dict[str, Any]]:
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


def align_pdf(work: Path, summary: dict[str, Any]) -> tuple[list, list, list]:
    pid = summary["pdf_id"]
    src = work / "extract" / pid
    pages = list(read_jsonl(src / "pages.jsonl"))
    images = list(read_jsonl(src / "images.jsonl"))
    vocab = vocabulary([b["text"] for p in pages for b in p["blocks"]])
    weight: Counter[tuple[str, float]] = Counter()
    for p in pages:
        for b in p["blocks"]:
            resolve_block(b, vocab)
            weight[(b["font"], b["size"])] += len(b["text"])
    body_font = weight.most_common(1)[0][0] if weight else ("", 0.0)
    by_page: dict[int, list[dict[str, Any]]] = {}
    for im in images:
        im = {**im, "image": f"extract/{pid}/{im['file']}", "pdf": summary["pdf"]}
        by_page.setdefault(im["page"], []).append(im)
    cands = [c for p in pages
             for c in caption_candidates(p["page"], p["blocks"], body_font, p["page"] in by_page)]
    captions = select_captions(cands)
    pairs, cap_recs, unpaired = [], [], []
    for p in pages:
        caps = [c for c in captions if c.page == p["page"]]
        imgs = by_page.get(p["page"], [])
        cap_boxes = [c.bbox for c in caps]
        img_boxes = [i["bbox"] for i in imgs]
        obstacles = cap_boxes + [
            b["bbox"] for b in p["blocks"]
            if len(b["text"]) >= OBSTACLE_CHARS and not any(
                _overlap(b["bbox"][0], b["bbox"][2], r[0], r[2]) > 0
                and _overlap(b["bbox"][1], b["bbox"][3], r[1], r[3]) > 0 for r in img_boxes)
            and b["bbox"] not in cap_boxes]
        groups: dict[int, list[dict[str, Any]]] = {}
        for im in imgs:
            costs = [(cost, k) for k, c in enumerate(caps)
                     if (cost := pair_cost(im["bbox"], c.bbox, obstacles)) is not None]
            if costs:
                groups.setdefault(min(costs)[1], []).append(im)
            else:
                unpaired.append({"id": im["id"], "page": im["page"], "bbox": im["bbox"],
                                 "image": im["image"], "reason": "no caption next to it"})
        for k, cap in enumerate(caps):
            split = split_caption(cap.body, cap.emph)
            recs = _assign(cap, split, groups.get(k, []), work, work / "align" / pid)
            pairs.extend(recs)
            cap_recs.append({"page": cap.page, "bbox": cap.bbox, "figure": cap.figure,
                             "label": cap.label, "text": cap.text, "score": cap.score,
                             "evidence": cap.evidence, "labels": split.labels,
                             "label_style": split.style, "n_panels": len(recs),
                             "alignment": recs[0]["alignment"] if recs else "no_image"})
    for c in cands:
        if c not in captions:
            cap_recs.append({"page": c.page, "bbox": c.bbox, "figure": c.figure,
                             "label": c.label, "text": c.text[:200], "score": c.score,
                             "evidence": c.evidence, "rejected": "mention or weaker duplicate"})
    return pairs, cap_recs, unpaired


def run_align(work: Path, quiet: bool = False) -> dict[str, int]:
    """Align every extracted PDF whose pairs file is not there yet."""
    root = work / "align"
    root.mkdir(parents=True, exist_ok=True)
    todo = extracted(work)
    counts: Counter[str] = Counter()
    with progress_bar(quiet) as bar:
        task = bar.add_task("align", total=len(todo))
        for summary in todo:
            pid = summary["pdf_id"]
            out = root / f"{pid}.pairs.jsonl"
            if out.exists():
                bar.advance(task)
                continue
            pairs, caps, unpaired = align_pdf(work, summary)
            write_jsonl_atomic(root / f"{pid}.captions.jsonl", caps)
            write_jsonl_atomic(root / f"{pid}.unpaired.jsonl", unpaired)
            write_jsonl_atomic(out, pairs)  # last: its presence marks the PDF as done
            counts["pairs"] += len(pairs)
            counts["unpaired"] += len(unpaired)
            bar.advance(task)
    return dict(counts)


def all_pairs(work: Path) -> list[dict[str, Any]]:
    """Every pair of every aligned PDF, in manifest order."""
    out = []
    for summary in extracted(work):
        out.extend(read_jsonl(work / "align" / f"{summary['pdf_id']}.pairs.jsonl"))
    return out

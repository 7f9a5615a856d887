"""Stage 2, align: pair captions with image groups by page geometry and split into panels.

For each caption the figure is looked for in the space next to it (above, below, beside),
bounded by body text and other captions, as pdffigures2 does; each image goes to its cheapest
caption. The images of one caption, in reading order, are its panels; sub-captions are matched
to panels by label order (or left/right, top/bottom). A composite raster with more labels than
images is cut at its seams (composite.py). When labels and panels still disagree every panel keeps
the full caption, and ``alignment`` records which path made each pair:

``label_order`` | ``label_order_split`` | ``spatial`` | ``single`` | ``full_caption_nolabels`` |
``full_caption_split`` (a composite without panel letters cut at its gutters, every part
with the whole caption) | ``full_caption_mismatch``. ``caption_shared`` is true on every
panel that carries the whole caption of a figure of several panels.

Output: ``<work>/align/<pdf_id>.pairs.jsonl`` (one line per panel), ``.captions.jsonl`` (every
caption found, with how many panels it got) and ``.unpaired.jsonl`` (images no caption claimed).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

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
from .composite import crop_panels, grid_split, gutter_split
from .extract import extracted
from .geometry import overlap, pair_cost, reading_order
from .progress import progress_bar
from .records import read_jsonl, write_jsonl_atomic

OBSTACLE_CHARS = 25     # a text block at least this long bounds a figure region


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
            panels = crop_panels(panels[0], pieces, work, split_dir)
            how = "label_order_split"
    split_whole = False
    if not labels and len(panels) == 1 and not panels[0].get("overlays"):
        # (pictures placed over it: a collage composed on the page, its parts are its rasters)
        pieces = grid_split(work / panels[0]["image"])
        if pieces:
            panels = crop_panels(panels[0], pieces, work, split_dir)
            split_whole = True
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
                       caption_shared=len(panels) > 1,
                       alignment="single" if len(panels) == 1 and not labels
                       else "full_caption_split" if split_whole
                       else "full_caption_nolabels" if not labels else "full_caption_mismatch")
        out.append(rec)
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
                overlap(b["bbox"][0], b["bbox"][2], r[0], r[2]) > 0
                and overlap(b["bbox"][1], b["bbox"][3], r[1], r[3]) > 0 for r in img_boxes)
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

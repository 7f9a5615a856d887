"""Stage 1, extract: images (>= 300 px native) and text blocks from PDFs with PyMuPDF.

Output per PDF, written to ``<work>/extract/<pdf_id>.part`` and renamed to
``<work>/extract/<pdf_id>`` when the PDF is done (a killed run redoes only that PDF):

- ``images.jsonl``  one line per kept image: id, page, bbox (points), native size, sha256,
  file (under ``img/``), how the pixels were obtained (stored bytes, decoded, rendered),
  pictures placed over it (``overlays``), paths and text drawn over it
  (``vector_overlays``, boxes in points; sorted per panel by the filter),
  ``duplicate_of`` when the same pixels were kept earlier in the book;
- ``pages.jsonl``   one line per page: size, text blocks (text, font, size, emphasis ranges),
  small/decorative images dropped, MuPDF warnings, and the error if the page failed;
- ``errors.jsonl``  page- and image-level failures.

``<work>/extract/manifest.jsonl`` holds one line per PDF (ok or error with the reason), which
is also the resume set: a PDF whose content hash is there is skipped.
"""

from __future__ import annotations

import hashlib
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymupdf

from .blocks import SOFT_HYPHEN, TEXT_FLAGS, page_blocks
from .placements import (
    absorb_overlays,
    merge_strips,
    paint_paths,
    pixels,
    place_text,
    resolve_xrefs,
    text_spans,
    vector_overlays,
)
from .progress import progress_bar
from .records import append_jsonl, read_jsonl, write_jsonl_atomic

__all__ = ["SOFT_HYPHEN", "ExtractConfig", "extracted", "run_extract"]


@dataclass(frozen=True)
class ExtractConfig:
    min_side: int = 300          # the paper keeps images of at least 300 x 300 pixels
    repeat_pages: int = 3        # the same image object on this many pages is a decoration
    max_zoom: float = 4.0        # cap when a placement has to be rendered rather than copied
    jpeg_quality: int = 92       # for rendered placements only; stored JPEGs are copied as is


def file_id(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def find_pdfs(inputs: list[Path]) -> list[Path]:
    out: list[Path] = []
    for p in inputs:
        if p.is_dir():
            out.extend(sorted(q for q in p.rglob("*") if q.suffix.lower() == ".pdf"))
        else:
            out.append(p)
    return out


# --------------------------------------------------------------------------- one PDF

def extract_pdf(path: Path, pid: str, dest: Path, cfg: ExtractConfig) -> dict[str, Any]:
    """Extract one opened-ok PDF into ``dest``; returns the manifest summary."""
    doc = pymupdf.open(str(path))
    img_dir = dest / "img"
    img_dir.mkdir(parents=True, exist_ok=True)
    pages: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    candidates: list[dict[str, Any]] = []
    xref_pages: Counter[int] = Counter()
    for page in doc:
        pymupdf.TOOLS.mupdf_warnings(reset=True)
        rec: dict[str, Any] = {"page": page.number, "width": page.rect.width,
                               "height": page.rect.height, "blocks": [], "small_images": 0}
        try:
            # get_image_info builds a second text page; most pages of a book hold no image
            infos = page.get_image_info() if page.get_images() else []
            tdict = page.get_text("dict", flags=TEXT_FLAGS)
            items = absorb_overlays(merge_strips(infos), page.rect.get_area())
            big = [it for it in items if min(it["w"], it["h"]) >= cfg.min_side]
            rec["small_images"] = len(items) - len(big)
            rec["overlays"] = sum(it["overlays"] for it in items)
            if big:
                resolve_xrefs(page, big)
                log = page.get_bboxlog()
                drawings = None
                spans = text_spans(tdict)
                for k, it in enumerate(big):
                    it["page"], it["k"] = page.number, k
                    it["vector_overlays"] = place_text(vector_overlays(log, it["rect"]),
                                                       it["rect"], spans)
                    drawings = paint_paths(page, it["vector_overlays"], drawings)
                    candidates.append(it)
                    if it["xref"]:
                        xref_pages[it["xref"]] += 1
            rec["blocks"] = page_blocks(tdict)
        except Exception as exc:  # MuPDF raises its own FzError family; keep the book going
            rec["error"] = f"{type(exc).__name__}: {exc}"
            errors.append({"page": page.number, "error": rec["error"]})
        warnings = pymupdf.TOOLS.mupdf_warnings(reset=True)
        if warnings:
            rec["warnings"] = warnings[:2000]
        pages.append(rec)

    images: list[dict[str, Any]] = []
    by_hash: dict[str, str] = {}
    dropped_repeat = 0
    for it in candidates:
        if it["xref"] and xref_pages[it["xref"]] >= cfg.repeat_pages:
            dropped_repeat += 1
            continue
        image_id = f"{pid}-p{it['page']:04d}-{it['k']}"
        try:
            data, ext, how = pixels(doc, it, cfg.max_zoom, cfg.jpeg_quality)
        except Exception as exc:
            errors.append({"page": it["page"], "image": image_id,
                           "bbox": [round(v, 2) for v in it["rect"]],
                           "error": f"{type(exc).__name__}: {exc}"})
            continue
        digest = hashlib.sha256(data).hexdigest()
        rec = {"id": image_id, "pdf_id": pid, "page": it["page"],
               "bbox": [round(v, 2) for v in it["rect"]], "width": it["w"], "height": it["h"],
               "parts": len(it["parts"]), "overlays": it["overlays"], "xref": it["xref"],
               "pixels": how, "sha256": digest,
               "vector_overlays": it["vector_overlays"], "file": f"img/{image_id}.{ext}"}
        if digest in by_hash:
            rec["duplicate_of"] = by_hash[digest]
            rec["file"] = next(i["file"] for i in images if i["id"] == by_hash[digest])
        else:
            by_hash[digest] = image_id
            (dest / rec["file"]).write_bytes(data)
        images.append(rec)

    if not images:
        errors.append({"page": None, "error": f"no images of at least {cfg.min_side} px"})
    write_jsonl_atomic(dest / "pages.jsonl", pages)
    write_jsonl_atomic(dest / "images.jsonl", images)
    write_jsonl_atomic(dest / "errors.jsonl", errors)
    return {"pdf": str(path), "pdf_id": pid, "status": "ok", "pages": doc.page_count,
            "images": len(images), "repeated_dropped": dropped_repeat,
            "small_dropped": sum(p["small_images"] for p in pages), "errors": len(errors)}


def open_error(path: Path) -> str | None:
    """Why a PDF cannot be processed at all (missing, corrupt, encrypted), or None."""
    if not path.is_file():
        return "file not found"
    try:
        doc = pymupdf.open(str(path))
    except Exception as exc:
        return f"cannot open ({type(exc).__name__}: {exc})"
    if doc.needs_pass:  # MuPDF has already tried the empty user password
        return "encrypted: a password is needed"
    if not doc.is_pdf:
        return "not a PDF"
    if doc.page_count == 0:
        return "no pages (a corrupt or empty file)"
    return None


def run_extract(inputs: list[Path], work: Path, cfg: ExtractConfig | None = None,
                quiet: bool = False) -> list[dict[str, Any]]:
    """Extract every PDF not yet in the manifest; returns this run's manifest lines."""
    cfg = cfg or ExtractConfig()
    root = work / "extract"
    root.mkdir(parents=True, exist_ok=True)
    manifest = root / "manifest.jsonl"
    done = {r["pdf_id"] for r in read_jsonl(manifest)}
    pdfs = find_pdfs(inputs)
    out = []
    with progress_bar(quiet) as bar:
        task = bar.add_task("extract", total=len(pdfs))
        for path in pdfs:
            pid = (file_id(path) if path.is_file()
                   else hashlib.sha256(str(path).encode()).hexdigest()[:16])
            if pid in done:
                bar.advance(task)
                continue
            why = open_error(path)
            if why:
                summary = {"pdf": str(path), "pdf_id": pid, "status": "error", "error": why}
            else:
                part = root / f"{pid}.part"
                shutil.rmtree(part, ignore_errors=True)  # leftovers of a killed run
                try:
                    summary = extract_pdf(path, pid, part, cfg)
                    final = root / pid
                    shutil.rmtree(final, ignore_errors=True)
                    part.rename(final)
                except Exception as exc:  # a failure outside any page: record it, go on
                    summary = {"pdf": str(path), "pdf_id": pid, "status": "error",
                               "error": f"{type(exc).__name__}: {exc}"}
            append_jsonl(manifest, [summary])
            done.add(pid)
            out.append(summary)
            bar.advance(task)
    return out


def extracted(work: Path) -> list[dict[str, Any]]:
    """Manifest lines of the PDFs extracted successfully (input of the align stage)."""
    return [r for r in read_jsonl(work / "extract" / "manifest.jsonl") if r["status"] == "ok"]

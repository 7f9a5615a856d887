"""Stage 1, extract: images (>= 300 px native) and text blocks from PDFs with PyMuPDF.

Output per PDF, written to ``<work>/extract/<pdf_id>.part`` and renamed to
``<work>/extract/<pdf_id>`` when the PDF is done (a killed run redoes only that PDF):

- ``images.jsonl``  one line per kept image: id, page, bbox (points), native size, sha256,
  file (under ``img/``), how the pixels were obtained, vector marks drawn over it,
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
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pymupdf

from .progress import progress_bar
from .records import append_jsonl, read_jsonl, write_jsonl_atomic

# Image bytes and ligature glyphs off: both slow get_text("dict") and the former costs memory.
TEXT_FLAGS = (pymupdf.TEXTFLAGS_DICT & ~pymupdf.TEXT_PRESERVE_IMAGES
              & ~pymupdf.TEXT_PRESERVE_LIGATURES)
SOFT_HYPHEN = "\u00ad"  # marks a line-end hyphen; align decides against the book's vocabulary


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


# --------------------------------------------------------------------------- text

def _is_bold(span: dict[str, Any]) -> bool:
    font = span["font"]
    return bool(span["flags"] & 16) or "Bold" in font or font.endswith((".B", "-B", "+fb"))


def block_record(block: dict[str, Any]) -> dict[str, Any] | None:
    """Text of one block with its dominant font and the character ranges set in emphasis."""
    spans = [s for line in block["lines"] for s in line["spans"]]
    if not spans:
        return None
    weight: Counter[tuple[str, float]] = Counter()
    for s in spans:
        weight[(s["font"], round(s["size"], 1))] += len(s["text"].strip())
    (font, size), _ = weight.most_common(1)[0]
    text, emph = "", []
    for li, line in enumerate(block["lines"]):
        if li and text:
            # A line-end hyphen before a lower-case letter may be a word break or a compound;
            # keep both readings (resolved later against the book's own vocabulary).
            nxt = "".join(s["text"] for s in line["spans"]).lstrip()
            if text.endswith("-") and nxt[:1].islower():
                text += SOFT_HYPHEN
            elif not text.endswith(" "):
                text += " "
        for s in line["spans"]:
            t = unicodedata.normalize("NFKC", s["text"])
            if not t:
                continue
            start = len(text)
            text += t
            if t.strip() and (_is_bold(s) or s["font"] != font):
                emph.append([start, len(text)])
    text = text.strip()
    if not text:
        return None
    return {"bbox": [round(v, 2) for v in block["bbox"]], "text": text, "font": font,
            "size": size, "emph": emph}


# --------------------------------------------------------------------------- images

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
        items.append({"rect": r, "w": info["width"], "h": info["height"], "parts": [info]})
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


def _resolve_xrefs(page: pymupdf.Page, items: list[dict[str, Any]]) -> None:
    """Set ``xref`` on single-part items: by unique native size, else by MuPDF's digest match.

    ``get_image_info(xrefs=True)`` decodes every image on the page (8x slower), so it is the
    fallback for pages where two images share a size, not the default.
    """
    by_size: dict[tuple[int, int], list[tuple]] = {}
    for entry in page.get_images(full=True):
        by_size.setdefault((entry[2], entry[3]), []).append(entry)
    ambiguous = False
    for it in items:
        it["xref"], it["smask"] = 0, 0
        if len(it["parts"]) != 1:
            continue
        cands = by_size.get((it["w"], it["h"]), [])
        if len({c[0] for c in cands}) == 1:
            it["xref"], it["smask"] = cands[0][0], cands[0][1]
        elif cands:
            ambiguous = True
    if ambiguous:
        smasks = {e[0]: e[1] for e in page.get_images(full=True)}
        full = page.get_image_info(xrefs=True)
        for it in items:
            if it["xref"] or len(it["parts"]) != 1:
                continue
            for info in full:
                if pymupdf.Rect(info["bbox"]) == pymupdf.Rect(it["parts"][0]["bbox"]):
                    it["xref"] = info.get("xref", 0)
                    it["smask"] = smasks.get(it["xref"], 0)
                    break


def _plain_placement(it: dict[str, Any]) -> bool:
    """True when the stored image looks exactly as printed: copy its bytes, no rendering."""
    a, b, c, d, _, _ = it["parts"][0]["transform"]
    if b or c or a <= 0 or d <= 0:  # rotated or flipped on the page
        return False
    shown = it["rect"].width / max(it["rect"].height, 1e-6)
    native = it["w"] / max(it["h"], 1)
    return abs(shown / native - 1) < 0.05  # otherwise the page stretches it


def _decodable(data: bytes) -> bool:
    """Cheap check that the stored stream is a picture (JPEG decodes at 1/8 scale)."""
    arr = np.frombuffer(data, np.uint8)
    img = cv2.imdecode(arr, cv2.IMREAD_REDUCED_GRAYSCALE_8)
    return img is not None and img.size > 0


def _vector_marks(drawings: list[dict[str, Any]], r: pymupdf.Rect) -> int:
    """Vector paths drawn over an image: arrows, circles, lines. Frames and backgrounds skipped."""
    n = 0
    for d in drawings:
        dr = d.get("rect")
        if dr is None or not dr.intersects(r):
            continue
        if dr.contains(r) or (abs(dr.x0 - r.x0) < 2 and abs(dr.y0 - r.y0) < 2
                              and abs(dr.x1 - r.x1) < 2 and abs(dr.y1 - r.y1) < 2):
            continue
        inner = dr & r
        if inner.is_empty and not (dr.width < 1 or dr.height < 1):
            continue
        n += 1
    return n


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
            infos = page.get_image_info()
            tdict = page.get_text("dict", flags=TEXT_FLAGS)
            items = merge_strips(infos)
            big = [it for it in items if min(it["w"], it["h"]) >= cfg.min_side]
            rec["small_images"] = len(items) - len(big)
            if big:
                _resolve_xrefs(page, big)
                drawings = page.get_drawings()
                for k, it in enumerate(big):
                    it["page"], it["k"] = page.number, k
                    it["vector_marks"] = _vector_marks(drawings, it["rect"])
                    candidates.append(it)
                    if it["xref"]:
                        xref_pages[it["xref"]] += 1
            rec["blocks"] = [b for b in (block_record(blk) for blk in tdict["blocks"]
                                         if blk["type"] == 0) if b]
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
            data, ext, how = b"", "", ""
            if it["xref"] and not it["smask"] and _plain_placement(it):
                raw = doc.extract_image(it["xref"])
                if raw and raw["ext"] in ("jpeg", "jpg", "png") and raw["colorspace"] in (1, 3):
                    data, ext, how = raw["image"], raw["ext"].replace("jpeg", "jpg"), "stored"
                    if not _decodable(data):
                        raise ValueError("stored image stream cannot be decoded")
            if not data:
                # Masks, tiles, CMYK, rotations, stretched placements: render what is printed.
                page = doc[it["page"]]
                zoom = min(cfg.max_zoom, max(it["w"] / it["rect"].width,
                                             it["h"] / it["rect"].height))
                pix = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), clip=it["rect"],
                                      alpha=False, colorspace=pymupdf.csRGB)
                rgb = np.frombuffer(pix.samples, np.uint8).reshape(pix.height, pix.width, 3)
                # OpenCV's JPEG encoder is several times faster than MuPDF's here.
                ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                                       [cv2.IMWRITE_JPEG_QUALITY, cfg.jpeg_quality])
                if not ok:
                    raise ValueError("rendered image could not be encoded")
                data = buf.tobytes()
                ext, how = "jpg", "rendered"
        except Exception as exc:
            errors.append({"page": it["page"], "image": image_id,
                           "bbox": [round(v, 2) for v in it["rect"]],
                           "error": f"{type(exc).__name__}: {exc}"})
            continue
        digest = hashlib.sha256(data).hexdigest()
        rec = {"id": image_id, "pdf_id": pid, "page": it["page"],
               "bbox": [round(v, 2) for v in it["rect"]], "width": it["w"], "height": it["h"],
               "parts": len(it["parts"]), "xref": it["xref"], "pixels": how, "sha256": digest,
               "vector_marks": it["vector_marks"], "file": f"img/{image_id}.{ext}"}
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

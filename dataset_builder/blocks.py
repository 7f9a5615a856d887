"""Text blocks of a page as the later stages need them: text, dominant font, emphasis ranges.

Real PDFs differ in how they hand their text over, and each of these was met in the corpus
(``tests/builder_truth``): Elsevier pages write every space as a separate zero-size span in
another font; Nature pages set bold only in the font name (``...B``, ``+fb``), split ligatures
into their own spans and break "SkinGPT-4" over a line as "SkinGPT-" / "4".
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from typing import Any

import pymupdf

# Image bytes and ligature glyphs off: both slow get_text("dict") and the former costs memory.
TEXT_FLAGS = (pymupdf.TEXTFLAGS_DICT & ~pymupdf.TEXT_PRESERVE_IMAGES
              & ~pymupdf.TEXT_PRESERVE_LIGATURES)
SOFT_HYPHEN = "\u00ad"  # marks a line-end hyphen; align decides against the book's vocabulary
SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")


def is_bold(span: dict[str, Any]) -> bool:
    font = span["font"]
    return (bool(span["flags"] & 16) or "Bold" in font or "Semibold" in font
            or font.endswith((".B", "-B", "+fb")) or ".B+" in font)


def _line_text(line: dict[str, Any]) -> str:
    return "".join(s["text"] for s in line["spans"])


def block_record(block: dict[str, Any]) -> dict[str, Any] | None:
    """Text of one block with its dominant font and the character ranges set in emphasis."""
    # Zero-size spans carry only spacing (Elsevier): they are text, never a font of their own.
    spans = [s for line in block["lines"] for s in line["spans"] if s["size"] > 0.5]
    if not spans:
        return None
    weight: Counter[tuple[str, float]] = Counter()
    for s in spans:
        weight[(s["font"], round(s["size"], 1))] += len(s["text"].strip())
    (font, size), _ = weight.most_common(1)[0]
    text, emph = "", []
    for li, line in enumerate(block["lines"]):
        if li and text:
            nxt = _line_text(line).lstrip()
            if text.endswith("-") and nxt[:1].islower():
                # A word break or a compound ("flat-topped"): resolved later against the
                # book's own vocabulary.
                text += SOFT_HYPHEN
            elif text.endswith("-") and text[-2:-1].isalnum() and nxt[:1].isalnum():
                pass  # "SkinGPT-" + "4", "anti-" + "TNF": the hyphen stays, no space
            elif not text.endswith(" "):
                text += " "
        for s in line["spans"]:
            t = SPACES.sub(" ", unicodedata.normalize("NFKC", s["text"]))
            if not t or (text.endswith(" ") and t == " "):
                continue
            if text.endswith(" ") and t.startswith(" "):
                t = t[1:]
            start = len(text)
            text += t
            if t.strip() and s["size"] > 0.5 and (is_bold(s) or s["font"] != font):
                emph.append([start, len(text)])
    stripped = text.strip()
    if not stripped:
        return None
    lead = len(text) - len(text.lstrip())
    emph = [[max(0, a - lead), min(len(stripped), b - lead)] for a, b in emph]
    return {"bbox": [round(v, 2) for v in block["bbox"]], "text": stripped, "font": font,
            "size": size, "emph": [r for r in emph if r[1] > r[0]]}


def page_blocks(tdict: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in (block_record(blk) for blk in tdict["blocks"] if blk["type"] == 0) if b]

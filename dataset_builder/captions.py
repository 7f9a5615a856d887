"""Figure captions: tell them from in-text mentions, and split multi-panel captions.

Caption detection is a regex at block start plus formatting evidence, after pdffigures2's
idea that a real caption is typeset differently from the body text ("Fig. 2.3 shows ..." at
the start of a body paragraph is a mention, not a caption).

Sub-caption splitting finds panel labels of one consistent style -- ``(a)``, ``(A)``, bold
``a``/``A,``, ``A.`` at a sentence start, ranges and lists ``(a-c)``/``(a, b)``, or the spatial
words Left/Right/Top/Bottom -- forming the sequence a, b, c, ... and cuts the caption at them.
Labels written after their text ("... the elbow (a) and the knee (b).") are handled too.
"""

from __future__ import annotations

import re
import statistics
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Any

from .blocks import SOFT_HYPHEN

CAPTION_RE = re.compile(
    r"^(?P<label>(?:Figure|FIGURE|Fig\.?|FIG\.?|Plate|PLATE|Picture|PICTURE)\s*"
    r"(?P<num>\d+(?:\s*[.\-–]\s*\d+)*)(?P<suffix>[A-Za-z])?)"
    r"\s*(?P<punct>[.:|])?(?=\s|$)"
)
# Words that make a block-start mention a sentence about the figure, not its caption.
MENTION_RE = re.compile(r"^\s*(shows?|illustrates?|demonstrates?|depicts?|presents?|is|are|was|"
                        r"were|and|or|also|reveals?|summari[sz]es|displays?|indicates?)\b|^\s*[,)]",
                        re.I)
WORD_RE = re.compile(r"[A-Za-z]+")


def figure_key(num: str) -> str:
    """'12-3', '12.3', '12 . 3' -> '12.3'."""
    return ".".join(re.findall(r"\d+", num))


def resolve_hyphens(text: str, vocab: set[str]) -> str:
    """Join 'diag-<SH>nostic' when 'diagnostic' occurs in the book, else keep 'flat-topped'."""
    if SOFT_HYPHEN not in text:
        return text

    def fix(m: re.Match[str]) -> str:
        joined = (m.group(1) + m.group(2)).lower()
        return m.group(1) + m.group(2) if joined in vocab else m.group(1) + "-" + m.group(2)

    text = re.sub(r"([A-Za-z]+)-" + SOFT_HYPHEN + r"([A-Za-z]+)", fix, text)
    return text.replace(SOFT_HYPHEN, "")


def resolve_block(block: dict[str, Any], vocab: set[str]) -> None:
    """``resolve_hyphens`` on a text block, moving its emphasis ranges with the text."""
    text = block["text"]
    if SOFT_HYPHEN not in text:
        return
    removed: list[int] = []  # positions in the old text that are dropped
    for m in re.finditer(r"([A-Za-z]+)(-)" + SOFT_HYPHEN + r"([A-Za-z]+)", text):
        joined = (m.group(1) + m.group(3)).lower()
        removed += [m.start(2), m.start(2) + 1] if joined in vocab else [m.start(2) + 1]
    removed += [i for i, ch in enumerate(text) if ch == SOFT_HYPHEN and i not in removed]
    gone = set(removed)
    order = sorted(gone)
    block["text"] = "".join(ch for i, ch in enumerate(text) if i not in gone)
    block["emph"] = [[s - bisect_left(order, s), e - bisect_left(order, e)]
                     for s, e in block["emph"]]


def vocabulary(texts: list[str]) -> set[str]:
    words: set[str] = set()
    for t in texts:
        clean = re.sub(r"[A-Za-z]+-" + SOFT_HYPHEN + r"[A-Za-z]+", " ", t)
        words.update(w.lower() for w in WORD_RE.findall(clean))
    return words


@dataclass
class Caption:
    page: int
    bbox: list[float]
    label: str                   # as printed: "Fig. 12.3"
    figure: str                  # normalised id: "12.3"
    body: str                    # the text after the label
    emph: list[list[int]]        # emphasis ranges within ``body``
    score: int
    evidence: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return f"{self.label} {self.body}".strip()


def caption_candidates(page_no: int, blocks: list[dict[str, Any]], body_font: tuple[str, float],
                       page_has_images: bool) -> list[Caption]:
    """Blocks that start like a caption, scored by formatting evidence (merged continuations)."""
    out: list[Caption] = []
    used: set[int] = set()
    for i, b in enumerate(blocks):
        if i in used:
            continue
        m = CAPTION_RE.match(b["text"])
        if not m:
            continue
        score, ev = 0, []
        label_end = m.end("label")
        if any(s <= 1 and e >= label_end - 1 for s, e in b["emph"]):
            score += 2
            ev.append("label in emphasis")
        if (b["font"], b["size"]) != body_font:
            score += 1
            ev.append("font differs from body")
        if m.group("punct"):
            score += 1
            ev.append(f"label ends with '{m.group('punct')}'")
        if page_has_images:
            score += 1
            ev.append("page has images")
        rest = b["text"][m.end():]
        if MENTION_RE.match(rest):
            score -= 3
            ev.append("reads as a sentence about the figure")
        text, emph, bbox = b["text"], [list(r) for r in b["emph"]], list(b["bbox"])
        for j in _continuations(i, blocks, used):
            c = blocks[j]
            off = len(text) + 1
            text += " " + c["text"]
            emph += [[s + off, e + off] for s, e in c["emph"]]
            bbox = [min(bbox[0], c["bbox"][0]), min(bbox[1], c["bbox"][1]),
                    max(bbox[2], c["bbox"][2]), max(bbox[3], c["bbox"][3])]
            used.add(j)
        start = m.end()
        while start < len(text) and text[start] == " ":
            start += 1
        body_emph = [[s - start, e - start] for s, e in emph if e - start > 0]
        label = " ".join(b["text"][:m.end()].split())  # as printed: "Fig. 1 |", "FIGURE 2-1."
        out.append(Caption(page=page_no, bbox=bbox, label=label,
                           figure=figure_key(m.group("num")) + (m.group("suffix") or ""),
                           body=text[start:], emph=[[max(0, s), e] for s, e in body_emph],
                           score=score, evidence=ev))
    return out


def _continuations(i: int, blocks: list[dict[str, Any]], used: set[int]) -> list[int]:
    """Blocks that continue caption block ``i``, in reading order: same font and size, and
    either directly below the last piece (overlapping it is allowed: Elsevier pages return a
    wrapped line as its own block whose box overlaps the first) or, for a caption running
    across two columns (Nature), in the next column starting at the caption's top."""
    first = blocks[i]
    font, size = first["font"], first["size"]
    last = first["bbox"]
    out: list[int] = []
    while True:
        nxt = None
        for j, c in enumerate(blocks):
            if j == i or j in used or j in out or (c["font"], c["size"]) != (font, size):
                continue
            if CAPTION_RE.match(c["text"]):
                continue
            cb = c["bbox"]
            gap = cb[1] - last[3]
            below = (-1.5 * size <= gap < 0.9 * size and cb[1] > last[1] + 0.5 * size
                     and cb[0] < last[2] and cb[2] > last[0])
            beside = (not out and 0 <= cb[0] - last[2] <= 40
                      and abs(cb[1] - first["bbox"][1]) < size
                      and not re.search(r"[.!?]\s*$", first["text"]))
            if below or beside:
                nxt = j
                break
        if nxt is None:
            return out
        out.append(nxt)
        last = blocks[nxt]["bbox"]


def select_captions(cands: list[Caption], min_score: int = 2) -> list[Caption]:
    """Keep candidates with enough evidence; where one id has several, keep the best ones."""
    best: dict[str, int] = {}
    for c in cands:
        if c.score >= min_score:
            best[c.figure] = max(best.get(c.figure, -99), c.score)
    return [c for c in cands if c.score >= min_score and c.score == best[c.figure]]


# --------------------------------------------------------------------------- sub-captions

@dataclass
class Label:
    start: int
    end: int
    letters: tuple[str, ...]
    style: str


@dataclass
class Split:
    preface: str
    segments: list[tuple[tuple[str, ...], str]]   # (labels, text) in caption order
    postscript: str = ""
    style: str = "none"
    post_labels: bool = False

    @property
    def labels(self) -> list[str]:
        return [lab for labs, _ in self.segments for lab in labs]

    def segment_for(self, label: str) -> str:
        return next(text for labs, text in self.segments if label in labs)


PAREN_RE = re.compile(
    r"\(\s*([A-Za-z])((?:\s*(?:,|and|&|[-–—]|to)\s*[A-Za-z])*)\s*\)")
START_RE = re.compile(r"(?:^|(?<=[.;:]\s))([A-Za-z])([.,:])\s")
SPATIAL_RE = re.compile(r"(?:^|(?<=[.;]\s))(Left|Right|Top|Bottom|Upper|Lower)"
                        r"(?:\s+(?:panel|image|figure))?\s*[:,]", re.I)
REFERENCE_RE = re.compile(r"(?:\b(?:see|in|from|panels?|of|Fig\.?|Figure)\s*)$", re.I)
SPATIAL_ORDER = {"left": 0, "right": 1, "top": 0, "bottom": 1, "upper": 0, "lower": 1}


def _expand(first: str, rest: str) -> tuple[str, ...] | None:
    letters = [first]
    for m in re.finditer(r"(,|and|&|[-–—]|to)\s*([A-Za-z])", rest):
        op, letter = m.group(1), m.group(2)
        if op in "-–—" or op == "to":
            lo, hi = ord(letters[-1]), ord(letter)
            if hi <= lo or hi - lo > 10:
                return None
            letters += [chr(c) for c in range(lo + 1, hi + 1)]
        else:
            letters.append(letter)
    if len({lab.islower() for lab in letters}) > 1:
        return None
    return tuple(letters)


GROUP_GAP_RE = re.compile(r"\s*(,|and|&|to|[-–—])\s*")


def _join_groups(text: str, labels: list[Label]) -> list[Label]:
    """Bold letters joined only by 'and', ',', '&' or a dash ("**A** and **B** Histology ...",
    BMC) are one label for several panels, as "(A and B)" is."""
    out: list[Label] = []
    for lab in sorted(labels, key=lambda x: x.start):
        prev = out[-1] if out else None
        m = GROUP_GAP_RE.fullmatch(text[prev.end:lab.start]) if prev else None
        if prev and m and lab.letters[0].islower() == prev.letters[-1].islower():
            letters = _expand(prev.letters[-1], f"{m.group(1)} {lab.letters[0]}")
            if letters:
                out[-1] = Label(prev.start, lab.end, prev.letters[:-1] + letters, "bold")
                continue
        out.append(lab)
    return out


def find_labels(text: str, emph: list[list[int]]) -> list[Label]:
    cands: list[Label] = []
    for m in PAREN_RE.finditer(text):
        letters = _expand(m.group(1), m.group(2))
        if letters and not REFERENCE_RE.search(text[:m.start()]):
            cands.append(Label(m.start(), m.end(), letters, "paren"))
    bold: list[Label] = []
    for s, e in emph:
        frag = text[s:e]
        m = re.fullmatch(r"\s*([A-Za-z])\s*[,.:)]?\s*", frag)
        if m:
            bold.append(Label(s, e, (m.group(1),), "bold"))
            continue
        # A letter closing a bold title: "... offline and online dermatologists. a" (Nature).
        m = re.search(r"[.:;]\s+([A-Za-z])\s*$", frag)
        if m:
            bold.append(Label(s + m.start(1), e, (m.group(1),), "bold"))
    cands += _join_groups(text, bold)
    # Styles overlap ("(a)" with a bold a; a bold "A," at a sentence start): each style is
    # judged on its own in choose_labels, so one missed emphasis cannot hide a whole style.
    for m in START_RE.finditer(text):
        cands.append(Label(m.start(), m.end() - 1, (m.group(1),), "start"))
    for m in SPATIAL_RE.finditer(text):
        cands.append(Label(m.start(), m.end(), (m.group(1).lower(),), "spatial"))
    return sorted(cands, key=lambda c: c.start)


def _sequence(cands: list[Label]) -> list[Label]:
    """The longest run a, b, c... (one case) within one style; references and noise skipped."""
    seq: list[Label] = []
    for c in cands:
        first = c.letters[0]
        if not seq:
            if first.lower() == "a":
                seq.append(c)
            continue
        last = seq[-1].letters[-1]
        if first.islower() == last.islower() and ord(first) == ord(last) + 1:
            seq.append(c)
    return seq


def choose_labels(cands: list[Label]) -> list[Label]:
    best: list[Label] = []
    for style in ("paren", "bold", "start"):
        for lower in (True, False):
            group = [c for c in cands if c.style == style and c.letters[0].islower() == lower]
            seq = _sequence(group)
            if sum(len(c.letters) for c in seq) > sum(len(c.letters) for c in best):
                best = seq
    spatial = [c for c in cands if c.style == "spatial"]
    words = [c.letters[0] for c in spatial]
    if not best and len(spatial) == 2 and {SPATIAL_ORDER[w] for w in words} == {0, 1}:
        best = spatial
    if sum(len(c.letters) for c in best) < 2:
        return []
    return best


def _clean(seg: str) -> str:
    seg = seg.strip()
    seg = re.sub(r"^[\s,;:.\-–]*(?:and\s+)?", "", seg)
    seg = re.sub(r"(?:[\s,;:]+(?:and|or))?[\s,;:.]*$", "", seg)
    return seg.strip()


def split_caption(body: str, emph: list[list[int]]) -> Split:
    """Preface, labelled segments and postscript of a caption body (the text after its label)."""
    labels = choose_labels(find_labels(body, emph))
    if not labels:
        return Split(preface=body.strip(), segments=[])
    style = labels[0].style
    head = body[:labels[0].start]
    tail_after_last = body[labels[-1].end:]
    post = (style == "paren" and head.strip() != "" and not re.search(r"[.:;]\s*$", head)
            and re.fullmatch(r"[\s.;]*", tail_after_last) is not None)
    segments: list[tuple[tuple[str, ...], str]] = []
    postscript = ""
    if post:
        # Text then label: the first segment starts after the last sentence break of the head.
        cut = max(head.rfind(". "), head.rfind("; "), head.rfind(": "))
        preface = head[:cut + 1].strip() if cut >= 0 else ""
        prev_end = cut + 2 if cut >= 0 else 0
        for lab in labels:
            segments.append((_labels(lab), _clean(body[prev_end:lab.start])))
            prev_end = lab.end
    else:
        preface = head.strip()
        for k, lab in enumerate(labels):
            end = labels[k + 1].start if k + 1 < len(labels) else len(body)
            segments.append((_labels(lab), _clean(body[lab.end:end])))
        # A trailing legend ("F: female; M: male ...") after the last panel's text is general.
        last_labels, last = segments[-1]
        others = [len(t) for _, t in segments[:-1]] or [len(last)]
        m = re.search(r"[.;]\s+(?=[A-Z])", last)
        if m and len(last) > 2 * statistics.median(others) and len(last) - m.end() > 40:
            segments[-1] = (last_labels, _clean(last[:m.start()]))
            postscript = last[m.end():].strip()
    preface = re.sub(r"[\s:;,]+$", "", preface)
    if preface and not preface.endswith((".", "?", "!")):
        preface += "."
    return Split(preface=preface, segments=segments, postscript=postscript, style=style,
                 post_labels=post)


def _labels(lab: Label) -> tuple[str, ...]:
    return tuple(x.lower() if lab.style == "spatial" else x for x in lab.letters)


def panel_text(split: Split, label: str) -> str:
    """What a panel's caption becomes: preface plus its own segment, as one sentence block."""
    seg = split.segment_for(label)
    if seg and not seg.endswith((".", "?", "!")):
        seg += "."
    seg = seg[:1].upper() + seg[1:]
    return f"{split.preface} {seg}".strip()

"""A synthetic dermatology textbook built with PyMuPDF, with its ground truth.

The book has the features the dataset builder must handle: a two-column body in
Times with in-text figure mentions (and paragraphs that *start* with "Fig. 2.3
shows"), a small logo reused on every page, captions above and below figures,
full-width and one-column figures, multi-panel figures with one caption in
several sub-caption styles, a composite raster holding several panels, a figure
stored as two touching strips, a figure too small to keep, and arrows drawn as
vectors or burnt into the pixels.

``build_book`` returns the ground truth: one entry per kept panel with its page,
bbox, figure id, the sub-caption it should get, its modality and its marks.
``modality_image`` draws clinical / dermoscopy / pathology-like pictures, also
used to build a reference library for the modality stage.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pymupdf

PAGE_W, PAGE_H = 595.0, 842.0
MARGIN = 50.0
GUTTER = 15.0
COL_W = (PAGE_W - 2 * MARGIN - GUTTER) / 2
BODY_TOP = 80.0
BODY_BOTTOM = PAGE_H - 60.0
CAPTION_CSS = "* {font-family: sans-serif; font-size: 8pt; line-height: 1.15;}"
MODALITIES = ("clinical", "dermoscopy", "pathology")

WORDS = (
    "lesion plaque papule erythema scale border pigment network dermis epidermis "
    "follicle infiltrate biopsy treatment patient nodule vesicle crust margin pattern "
    "distribution symmetric chronic acute eruption keratinocyte melanocyte vessel "
    "inflammation diagnosis therapy differential clinical features typically present "
    "with the and of in on a is are may be often shows frequently"
).split()

DIAGNOSES = [
    "psoriasis vulgaris", "nodular basal cell carcinoma", "lichen planus", "atopic dermatitis",
    "superficial spreading melanoma", "seborrhoeic keratosis", "discoid lupus erythematosus",
    "bullous pemphigoid", "tinea corporis", "granuloma annulare", "mycosis fungoides",
    "dermatofibroma", "pyogenic granuloma", "acne vulgaris", "rosacea", "vitiligo",
]
FINDINGS = {
    "clinical": [
        "well-demarcated erythematous plaques with silvery scale on the elbow",
        "a pearly nodule with rolled borders on the nose",
        "violaceous flat-topped papules on the wrist",
        "annular plaques with a raised border on the trunk",
        "tense bullae on an erythematous base on the thigh",
        "symmetric depigmented macules on the hands",
    ],
    "dermoscopy": [
        "dotted vessels in a regular distribution",
        "arborizing vessels and blue-grey ovoid nests",
        "an atypical pigment network with irregular streaks",
        "milia-like cysts and comedo-like openings",
        "a central white patch with a delicate peripheral network",
        "Wickham striae on a violaceous background",
    ],
    "pathology": [
        "parakeratosis and regular acanthosis of the epidermis",
        "basaloid nests with peripheral palisading in the dermis",
        "a band-like lymphocytic infiltrate at the junction",
        "a subepidermal blister with eosinophils",
        "atypical melanocytes in nests along the junction",
        "dense collagen with trapped histiocytes",
    ],
}
PEOPLE = [
    ("a 45-year-old man", 45, "male"), ("a 62-year-old woman", 62, "female"),
    ("a 7-year-old boy", 7, "male"), ("a 3-month-old girl", 0, "female"),
    ("a 30-year-old woman", 30, "female"), ("an 81-year-old man", 81, "male"),
    (None, None, None), (None, None, None),
]
# Caption label forms seen in textbooks; {c} chapter, {n} number.
LABEL_FORMS = ["Figure {c}.{n}", "Fig. {c}.{n}", "FIGURE {c}-{n}", "Fig. {c}.{n}."]
# Sub-caption styles; the generator writes the caption and knows each panel's segment.
SUB_STYLES = ["paren_lower", "paren_upper", "bold_lower", "bold_upper_comma", "post_label",
              "shared_range", "none"]


# --------------------------------------------------------------------------- images

def modality_image(modality: str, rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """A BGR picture whose colour and texture resemble the modality (cheap to draw)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if modality == "clinical":
        base = np.array([rng.uniform(120, 170), rng.uniform(150, 190), rng.uniform(200, 235)])
        shade = 1.0 - 0.25 * (yy / h) + 0.1 * np.sin(xx / w * 3.1)
        img = base[None, None, :] * shade[..., None]
        img += rng.normal(0, 4, (h, w, 1))
        for _ in range(int(rng.integers(2, 6))):
            c = (int(rng.integers(w // 5, 4 * w // 5)), int(rng.integers(h // 5, 4 * h // 5)))
            ax = (int(rng.integers(w // 14, w // 6)), int(rng.integers(h // 14, h // 6)))
            col = (float(rng.uniform(60, 100)), float(rng.uniform(60, 100)),
                   float(rng.uniform(150, 200)))
            cv2.ellipse(img, c, ax, float(rng.uniform(0, 180)), 0, 360, col, -1)
        img = cv2.GaussianBlur(img, (0, 0), 2.0)
    elif modality == "dermoscopy":
        base = np.array([rng.uniform(140, 180), rng.uniform(160, 190), rng.uniform(200, 230)])
        img = np.tile(base, (h, w, 1)).astype(np.float32)
        c = (w // 2 + int(rng.integers(-w // 10, w // 10)), h // 2)
        ax = (int(w * rng.uniform(0.18, 0.3)), int(h * rng.uniform(0.18, 0.3)))
        cv2.ellipse(img, c, ax, float(rng.uniform(0, 180)), 0, 360, (40, 70, 120), -1)
        step = int(rng.integers(7, 12))  # pigment network: a brown grid over the lesion
        for k in range(0, max(w, h), step):
            cv2.line(img, (k, 0), (k, h), (30, 50, 90), 1)
            cv2.line(img, (0, k), (w, k), (30, 50, 90), 1)
        img = cv2.GaussianBlur(img, (0, 0), 1.2)
        mask = np.zeros((h, w), np.float32)
        cv2.ellipse(mask, (w // 2, h // 2), (int(w * 0.47), int(h * 0.47)), 0, 0, 360, 1.0, -1)
        mask = cv2.GaussianBlur(mask, (0, 0), 6)
        img = img * mask[..., None] + rng.normal(0, 3, (h, w, 1))
    else:  # pathology: eosin-pink stroma with haematoxylin-purple nuclei
        base = np.array([rng.uniform(190, 220), rng.uniform(150, 180), rng.uniform(215, 240)])
        img = np.tile(base, (h, w, 1)).astype(np.float32)
        for _ in range(int(rng.integers(8, 16))):
            p0 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            p1 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            cv2.line(img, p0, p1, (180, 110, 210), int(rng.integers(2, 5)))
        n = int(w * h / 180)
        pts = rng.integers(0, [w, h], size=(n, 2))
        for x, y in pts:
            cv2.circle(img, (int(x), int(y)), int(rng.integers(2, 4)), (130, 50, 90), -1)
        img = cv2.GaussianBlur(img, (0, 0), 0.8) + rng.normal(0, 5, (h, w, 1))
    return np.clip(img, 0, 255).astype(np.uint8)


def burn_arrow(img: np.ndarray, rng: np.random.Generator) -> None:
    """Draw an annotation arrow into the pixels (white or black or yellow)."""
    h, w = img.shape[:2]
    x0, y0 = int(w * rng.uniform(0.1, 0.3)), int(h * rng.uniform(0.1, 0.3))
    x1, y1 = int(w * rng.uniform(0.4, 0.55)), int(h * rng.uniform(0.4, 0.55))
    colour = [(255, 255, 255), (0, 0, 0), (0, 255, 255)][int(rng.integers(0, 3))]
    cv2.arrowedLine(img, (x0, y0), (x1, y1), colour, max(3, w // 100), tipLength=0.3)


def jpeg(img: np.ndarray, quality: int = 90) -> bytes:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


def logo_png() -> bytes:
    img = np.full((40, 120, 3), 255, np.uint8)
    cv2.putText(img, "DERM", (5, 30), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (120, 40, 20), 2)
    ok, buf = cv2.imencode(".png", img)
    return buf.tobytes()


# --------------------------------------------------------------------------- text

def sub_caption(style: str, labels: list[str], segs: list[str], spatial: bool = False
                ) -> tuple[str, list[str]]:
    """HTML for the labelled part of a caption and the expected segment per panel."""
    n = len(segs)
    if style == "paren_lower":
        parts = [f"({labels[i].lower()}) {segs[i]}" for i in range(n)]
        return "; ".join(parts) + ".", segs
    if style == "paren_upper":
        parts = [f"({labels[i]}) {segs[i].capitalize()}" for i in range(n)]
        return ". ".join(parts) + ".", [s.capitalize() for s in segs]
    if style == "bold_lower":
        parts = [f"<b>{labels[i].lower()}</b> {segs[i].capitalize()}" for i in range(n)]
        return ". ".join(parts) + ".", [s.capitalize() for s in segs]
    if style == "bold_upper_comma":
        parts = [f"<b>{labels[i]},</b> {segs[i].capitalize()}" for i in range(n)]
        return ". ".join(parts) + ".", [s.capitalize() for s in segs]
    if style == "post_label":
        parts = [f"{segs[i]} ({labels[i].lower()})" for i in range(n)]
        text = ", ".join(parts[:-1]) + " and " + parts[-1] + "."
        return text[0].upper() + text[1:], [segs[0][0].upper() + segs[0][1:]] + segs[1:]
    if style == "shared_range":  # "(a-b) seg0 ... (c) seg2": the first two share a segment
        first = f"({labels[0].lower()}–{labels[1].lower()}) {segs[0]}"
        rest = [f"({labels[i].lower()}) {segs[i]}" for i in range(2, n)]
        return "; ".join([first, *rest]) + ".", [segs[0], segs[0], *segs[2:]]
    if style == "spatial":
        return f"Left: {segs[0].capitalize()}. Right: {segs[1].capitalize()}.", [
            segs[0].capitalize(), segs[1].capitalize()]
    raise ValueError(style)


def body_text(rng: random.Random, n_words: int, mentions: list[str]) -> str:
    words = [rng.choice(WORDS) for _ in range(n_words)]
    for m in mentions:
        pos = rng.randrange(5, max(6, n_words - 5))
        words.insert(pos, f"(see {m})" if rng.random() < 0.5 else f"as shown in {m},")
    text = " ".join(words)
    return text[0].upper() + text[1:] + "."


# --------------------------------------------------------------------------- the book

class _Book:
    def __init__(self, n_pages: int, seed: int) -> None:
        self.doc = pymupdf.open()
        self.rng = random.Random(seed)
        self.nrng = np.random.default_rng(seed)
        self.n_pages = n_pages
        self.panels: list[dict[str, Any]] = []
        self.figures: list[dict[str, Any]] = []
        self.small: list[dict[str, Any]] = []
        self.logo_xref = 0
        self.fig_no = 0
        self.style_i = 0
        self.mentions: list[str] = []

    # -- helpers
    def next_id(self, page_no: int) -> tuple[str, str]:
        self.fig_no += 1
        chapter = page_no // 25 + 1
        form = LABEL_FORMS[self.fig_no % len(LABEL_FORMS)]
        label = form.format(c=chapter, n=self.fig_no)
        sep = "-" if "-" in form else "."
        return label, f"{chapter}{sep}{self.fig_no}".replace("-", ".")

    def caption(self, page: pymupdf.Page, rect: pymupdf.Rect, label: str, body: str) -> float:
        """Write a caption (bold label, sans-serif) and return the height used."""
        html = f"<b>{label}</b> {body}"
        spare, _ = page.insert_htmlbox(rect, html, css=CAPTION_CSS, scale_low=1)
        if spare < 0:
            raise RuntimeError(f"caption does not fit: {label}")
        return rect.height - spare

    def picture(self, modality: str, w: int, h: int, arrow: bool = False) -> np.ndarray:
        img = modality_image(modality, self.nrng, w, h)
        if arrow:
            burn_arrow(img, self.nrng)
        return img

    def vector_arrow(self, page: pymupdf.Page, r: pymupdf.Rect) -> None:
        tip = pymupdf.Point(r.x0 + r.width * 0.55, r.y0 + r.height * 0.5)
        tail = pymupdf.Point(r.x0 + r.width * 0.2, r.y0 + r.height * 0.2)
        page.draw_line(tail, tip, color=(1, 1, 0), width=2)
        page.draw_polyline([tip, tip + (-8, -2), tip + (-2, -8), tip], color=(1, 1, 0),
                           fill=(1, 1, 0), width=1)

    def caption_text(self, modalities: list[str], style: str) -> tuple[str, list[str], dict]:
        diag = self.rng.choice(DIAGNOSES)
        person, age, sex = self.rng.choice(PEOPLE)
        preface = diag[0].upper() + diag[1:] + (f" in {person}." if person else ".")
        segs = [self.rng.choice(FINDINGS[m]) for m in modalities]
        labels = [chr(ord("A") + i) for i in range(len(modalities))]
        if len(modalities) == 1 or style == "none":
            full = preface + " " + " ".join(s[0].upper() + s[1:] + "." for s in segs)
            return full, [full] * len(modalities), {"age": age, "sex": sex, "labels": None}
        text, expected = sub_caption(style, labels, segs)
        if style == "shared_range":
            labels_out = [lab.lower() for lab in labels]
        elif style in ("paren_upper", "bold_upper_comma"):
            labels_out = labels
        else:
            labels_out = [lab.lower() for lab in labels]
        return preface + " " + text, expected, {"age": age, "sex": sex, "labels": labels_out}

    def record(self, page_no: int, fig_id: str, label: str, caption: str, rects: list,
               modalities: list[str], expected: list[str], info: dict, marks: list[dict],
               position: str) -> None:
        caption = re.sub(r"<[^>]+>", "", caption)  # the printed text, without the HTML markup
        self.figures.append({"page": page_no, "figure": fig_id, "label": label,
                             "caption": caption, "n_panels": len(rects), "position": position,
                             "labels": info["labels"]})
        for i, r in enumerate(rects):
            self.panels.append({
                "page": page_no, "figure": fig_id, "bbox": [r.x0, r.y0, r.x1, r.y1],
                "panel": i, "label": info["labels"][i] if info["labels"] else None,
                "subcaption": expected[i], "caption": caption, "modality": modalities[i],
                "age": info["age"], "sex": info["sex"], **marks[i],
            })

    # -- page parts
    def header(self, page: pymupdf.Page, page_no: int) -> None:
        r = pymupdf.Rect(MARGIN, 30, MARGIN + 48, 46)
        if self.logo_xref:
            page.insert_image(r, xref=self.logo_xref)
        else:
            self.logo_xref = page.insert_image(r, stream=logo_png())
        page.insert_text((PAGE_W - MARGIN - 20, 42), str(page_no + 1), fontname="tiro",
                         fontsize=9)

    def fill_text(self, page: pymupdf.Page, rect: pymupdf.Rect, adversarial: str | None = None
                  ) -> None:
        """Body text in Times filling ``rect``; optionally a paragraph starting with a mention."""
        if rect.height < 30:
            return
        if adversarial:
            para = pymupdf.Rect(rect.x0, rect.y0, rect.x1, rect.y0 + 40)
            txt = f"{adversarial} shows the typical {self.rng.choice(WORDS)} pattern in " \
                  f"{self.rng.choice(WORDS)} {self.rng.choice(WORDS)} and {self.rng.choice(WORDS)}."
            if page.insert_textbox(para, txt, fontname="tiro", fontsize=10, align=3) >= 0:
                rect = pymupdf.Rect(rect.x0, rect.y0 + 44, rect.x1, rect.y1)
        chars = int(rect.height / 12.5 * rect.width / 4.9 * 0.8)
        n_words = max(5, chars // 7)
        mentions = [self.mentions.pop()] if self.mentions else []
        for _ in range(6):
            rc = page.insert_textbox(rect, body_text(self.rng, n_words, mentions),
                                     fontname="tiro", fontsize=10, align=3)
            if rc >= 0:
                return
            n_words = int(n_words * 0.8)

    def place(self, page: pymupdf.Page, rect: pymupdf.Rect, img: np.ndarray) -> None:
        page.insert_image(rect, stream=jpeg(img), keep_proportion=False)

    # -- templates; each returns nothing and records ground truth
    def t_multipanel(self, page: pymupdf.Page, page_no: int) -> None:
        n = self.rng.choice([2, 3, 4, 4])
        grid = n == 4 and self.rng.random() < 0.5
        style = SUB_STYLES[self.style_i % len(SUB_STYLES)]
        self.style_i += 1
        if n == 2 and style == "shared_range":
            style = "paren_lower"
        mods = [self.rng.choice(MODALITIES) for _ in range(n)]
        label, fig_id = self.next_id(page_no)
        caption, expected, info = self.caption_text(mods, style)
        width = PAGE_W - 2 * MARGIN
        if grid:
            side = 150.0
            cells = [(MARGIN + 90 + (i % 2) * (side + 6), BODY_TOP + (i // 2) * (side + 6))
                     for i in range(4)]
            rects = [pymupdf.Rect(x, y, x + side, y + side) for x, y in cells]
        else:
            side = min(150.0, (width - 6 * (n - 1)) / n)
            x0 = MARGIN + (width - n * side - 6 * (n - 1)) / 2
            rects = [pymupdf.Rect(x0 + i * (side + 6), BODY_TOP, x0 + i * (side + 6) + side,
                                  BODY_TOP + side) for i in range(n)]
        for r, m in zip(rects, mods, strict=True):
            px = self.rng.randint(360, 520)
            self.place(page, r, self.picture(m, px, px))
        bottom = max(r.y1 for r in rects)
        used = self.caption(page, pymupdf.Rect(MARGIN, bottom + 8, PAGE_W - MARGIN, bottom + 90),
                            label, caption)
        marks = [{"vector_arrow": False, "raster_arrow": False}] * n
        full_cap = f"{label} {caption}"
        self.record(page_no, fig_id, label, full_cap, rects, mods, expected, info, marks, "below")
        self.mentions.append(label.rstrip(".").replace("FIGURE", "Figure"))
        top = bottom + 8 + used + 12
        for c in range(2):
            x = MARGIN + c * (COL_W + GUTTER)
            self.fill_text(page, pymupdf.Rect(x, top, x + COL_W, BODY_BOTTOM))

    def t_two_columns(self, page: pymupdf.Page, page_no: int) -> None:
        """Left column: image then caption below. Right column: caption above then image."""
        for c in range(2):
            x = MARGIN + c * (COL_W + GUTTER)
            mod = self.rng.choice(MODALITIES)
            label, fig_id = self.next_id(page_no)
            caption, expected, info = self.caption_text([mod], "none")
            h = (COL_W - 20) * 400 / 480  # as printed, not stretched
            if c == 0:
                r = pymupdf.Rect(x + 10, BODY_TOP, x + COL_W - 10, BODY_TOP + h)
                self.place(page, r, self.picture(mod, 480, 400))
                used = self.caption(page, pymupdf.Rect(x, r.y1 + 8, x + COL_W, r.y1 + 120),
                                    label, caption)
                top = r.y1 + 8 + used + 14
                pos = "below"
            else:
                used = self.caption(page, pymupdf.Rect(x, BODY_TOP, x + COL_W, BODY_TOP + 110),
                                    label, caption)
                r = pymupdf.Rect(x + 10, BODY_TOP + used + 8, x + COL_W - 10,
                                 BODY_TOP + used + 8 + h)
                self.place(page, r, self.picture(mod, 480, 400))
                top = r.y1 + 14
                pos = "above"
            marks = [{"vector_arrow": False, "raster_arrow": False}]
            self.record(page_no, fig_id, label, f"{label} {caption}", [r], [mod], expected, info,
                        marks, pos)
            adv = label.rstrip(".") if c == 1 and self.rng.random() < 0.5 else None
            self.fill_text(page, pymupdf.Rect(x, top, x + COL_W, BODY_BOTTOM), adversarial=adv)

    def t_composite(self, page: pymupdf.Page, page_no: int) -> None:
        """One raster holding 2-3 panels separated by white gutters."""
        n = self.rng.choice([2, 3])
        mods = [self.rng.choice(MODALITIES) for _ in range(n)]
        label, fig_id = self.next_id(page_no)
        caption, expected, info = self.caption_text(mods, "bold_upper_comma")
        ph, pw, gut = 400, 400, 16
        canvas = np.full((ph, n * pw + (n - 1) * gut, 3), 255, np.uint8)
        for i, m in enumerate(mods):
            canvas[:, i * (pw + gut): i * (pw + gut) + pw] = self.picture(m, pw, ph)
        width = 150.0 * n + 6 * (n - 1)
        x0 = (PAGE_W - width) / 2
        r = pymupdf.Rect(x0, BODY_TOP, x0 + width, BODY_TOP + 150)
        self.place(page, r, canvas)
        scale = width / canvas.shape[1]
        rects = [pymupdf.Rect(x0 + i * (pw + gut) * scale, r.y0, x0 + (i * (pw + gut) + pw) * scale,
                              r.y1) for i in range(n)]
        used = self.caption(page, pymupdf.Rect(MARGIN, r.y1 + 8, PAGE_W - MARGIN, r.y1 + 90),
                            label, caption)
        marks = [{"vector_arrow": False, "raster_arrow": False}] * n
        self.record(page_no, fig_id, label, f"{label} {caption}", rects, mods, expected, info,
                    marks, "below")
        top = r.y1 + 8 + used + 12
        for c in range(2):
            x = MARGIN + c * (COL_W + GUTTER)
            self.fill_text(page, pymupdf.Rect(x, top, x + COL_W, BODY_BOTTOM))

    def t_strips_and_small(self, page: pymupdf.Page, page_no: int) -> None:
        """Left: one figure stored as two touching strips. Right: a 200 px figure (dropped)."""
        x = MARGIN
        mod = self.rng.choice(MODALITIES)
        label, fig_id = self.next_id(page_no)
        caption, expected, info = self.caption_text([mod], "none")
        img = self.picture(mod, 440, 440)
        r = pymupdf.Rect(x + 10, BODY_TOP, x + COL_W - 10, BODY_TOP + 200)
        mid = r.y0 + r.height / 2
        self.place(page, pymupdf.Rect(r.x0, r.y0, r.x1, mid), img[:220])
        self.place(page, pymupdf.Rect(r.x0, mid, r.x1, r.y1), img[220:])
        used = self.caption(page, pymupdf.Rect(x, r.y1 + 8, x + COL_W, r.y1 + 120), label,
                            caption)
        marks = [{"vector_arrow": False, "raster_arrow": False}]
        self.record(page_no, fig_id, label, f"{label} {caption}", [r], [mod], expected, info,
                    marks, "below")
        self.fill_text(page, pymupdf.Rect(x, r.y1 + 8 + used + 14, x + COL_W, BODY_BOTTOM))
        # right column: small captioned figure then text with a mention-first paragraph
        x = MARGIN + COL_W + GUTTER
        small_label, small_id = self.next_id(page_no)
        rs = pymupdf.Rect(x + 60, BODY_TOP, x + COL_W - 60, BODY_TOP + 120)
        self.place(page, rs, self.picture(self.rng.choice(MODALITIES), 200, 200))
        used = self.caption(page, pymupdf.Rect(x, rs.y1 + 8, x + COL_W, rs.y1 + 80), small_label,
                            "A small schematic, below the size threshold.")
        self.small.append({"page": page_no, "figure": small_id})
        self.fill_text(page, pymupdf.Rect(x, rs.y1 + 8 + used + 14, x + COL_W, BODY_BOTTOM),
                       adversarial=label.rstrip("."))

    def t_arrows(self, page: pymupdf.Page, page_no: int) -> None:
        """Caption above a 2-panel figure: panel a has a burnt-in arrow, b a vector arrow."""
        mods = [self.rng.choice(MODALITIES) for _ in range(2)]
        label, fig_id = self.next_id(page_no)
        style = self.rng.choice(["paren_lower", "spatial"])
        if style == "spatial":
            segs = [self.rng.choice(FINDINGS[m]) for m in mods]
            text, expected = sub_caption("spatial", ["A", "B"], segs)
            diag = self.rng.choice(DIAGNOSES)
            caption = diag[0].upper() + diag[1:] + ". " + text
            info = {"age": None, "sex": None, "labels": ["left", "right"]}
        else:
            caption, expected, info = self.caption_text(mods, "paren_lower")
        used = self.caption(page, pymupdf.Rect(MARGIN, BODY_TOP, PAGE_W - MARGIN, BODY_TOP + 80),
                            label, caption)
        y0 = BODY_TOP + used + 8
        rects = [pymupdf.Rect(140 + i * 166, y0, 140 + i * 166 + 160, y0 + 160) for i in range(2)]
        self.place(page, rects[0], self.picture(mods[0], 420, 420, arrow=True))
        self.place(page, rects[1], self.picture(mods[1], 420, 420))
        self.vector_arrow(page, rects[1])
        marks = [{"vector_arrow": False, "raster_arrow": True},
                 {"vector_arrow": True, "raster_arrow": False}]
        self.record(page_no, fig_id, label, f"{label} {caption}", rects, mods, expected, info,
                    marks, "above")
        top = y0 + 160 + 14
        for c in range(2):
            x = MARGIN + c * (COL_W + GUTTER)
            self.fill_text(page, pymupdf.Rect(x, top, x + COL_W, BODY_BOTTOM))

    def build(self) -> None:
        templates = [self.t_multipanel, self.t_two_columns, self.t_composite,
                     self.t_multipanel, self.t_strips_and_small, self.t_arrows]
        for page_no in range(self.n_pages):
            page = self.doc.new_page(width=PAGE_W, height=PAGE_H)
            self.header(page, page_no)
            if page_no % 7 == 6:  # a text-only page now and then
                for c in range(2):
                    x = MARGIN + c * (COL_W + GUTTER)
                    self.fill_text(page, pymupdf.Rect(x, BODY_TOP, x + COL_W, BODY_BOTTOM))
                continue
            templates[page_no % len(templates)](page, page_no)


def build_book(path: Path, n_pages: int = 24, seed: int = 0) -> dict[str, Any]:
    """Write the book to ``path`` and its ground truth to ``path.with_suffix('.gt.json')``."""
    book = _Book(n_pages, seed)
    book.build()
    book.doc.save(str(path), garbage=1, deflate=True)
    gt = {"pages": n_pages, "panels": book.panels, "figures": book.figures, "small": book.small}
    path.with_suffix(".gt.json").write_text(json.dumps(gt, indent=1))
    return gt


def reference_folders(root: Path, n_per_class: int = 12, seed: int = 1) -> Path:
    """Labelled folders ``root/<modality>/*.jpg`` for building a modality library."""
    rng = np.random.default_rng(seed)
    for m in MODALITIES:
        (root / m).mkdir(parents=True, exist_ok=True)
        for i in range(n_per_class):
            w, h = int(rng.integers(320, 520)), int(rng.integers(320, 520))
            (root / m / f"{m}_{i:03d}.jpg").write_bytes(jpeg(modality_image(m, rng, w, h)))
    return root


def no_image_pdf(path: Path) -> Path:
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_textbox(pymupdf.Rect(50, 50, 545, 400), "Figure 1.1 A caption without a picture. "
                        + "Plain text only. " * 20, fontname="tiro", fontsize=10)
    doc.save(str(path))
    return path


def encrypted_pdf(path: Path) -> Path:
    doc = pymupdf.open()
    doc.new_page().insert_text((50, 100), "secret")
    doc.save(str(path), encryption=pymupdf.PDF_ENCRYPT_AES_256, owner_pw="owner", user_pw="user")
    return path


def corrupt_pdf(path: Path, header: bool = True) -> Path:
    """Garbage after a PDF header (MuPDF repairs it to zero pages), or garbage only."""
    head = b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\n" if header else b""
    path.write_bytes(head + bytes(range(256)) * 4)
    return path


def corrupt_image_page(src: Path, dst: Path, page_no: int) -> Path:
    """Copy ``src`` with the stream of the first large image on ``page_no`` overwritten.

    MuPDF repairs broken page objects and content streams without raising (measured: garbage
    operators, a non-dictionary page, cyclic contents all open and render), so the realistic
    page failure is a picture whose data cannot be decoded.
    """
    doc = pymupdf.open(str(src))
    page = doc[page_no]
    xrefs = [x[0] for x in page.get_images(full=True) if min(x[2], x[3]) >= 300]
    doc.update_stream(xrefs[0], b"\xff\xd8\xff\xe0 not a jpeg " * 50, compress=False)
    doc.xref_set_key(xrefs[0], "Filter", "/DCTDecode")  # update_stream dropped it
    doc.save(str(dst))
    return dst


# --------------------------------------------------------------------------- scoring

def _iou(a: list[float], b: list[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union else 0.0


def norm_text(t: str) -> str:
    return " ".join(t.lower().replace("–", "-").split()).strip(" .;,")


def score_pairs(gt: dict[str, Any], pairs: list[dict[str, Any]], iou: float = 0.8
                ) -> dict[str, Any]:
    """Panel recall/precision (bbox IoU >= 0.8 on the same page), caption pairing and
    sub-caption accuracy over matched panels, with the failures listed for a reader."""
    used: set[int] = set()
    matched = []
    for g in gt["panels"]:
        best, best_iou = None, iou
        for k, p in enumerate(pairs):
            if k in used or p["page"] != g["page"]:
                continue
            v = _iou(g["bbox"], p["bbox"])
            if v >= best_iou:
                best, best_iou = k, v
        if best is not None:
            used.add(best)
            matched.append((g, pairs[best]))
    fig_ok = [norm_text(p["figure"]) == norm_text(g["figure"])
              and norm_text(p["caption"]) == norm_text(g["caption"]) for g, p in matched]
    sub_ok = [norm_text(p["subcaption"]) == norm_text(g["subcaption"]) for g, p in matched]
    n = max(1, len(matched))
    return {
        "gt_panels": len(gt["panels"]), "pred_panels": len(pairs), "matched": len(matched),
        "recall": len(matched) / max(1, len(gt["panels"])),
        "precision": len(matched) / max(1, len(pairs)),
        "caption_pairing": sum(fig_ok) / n,
        "subcaption": sum(sub_ok) / n,
        "failures": [
            {"page": g["page"], "figure": g["figure"], "panel": g["panel"],
             "want": g["subcaption"], "got": p["subcaption"], "alignment": p["alignment"],
             "got_figure": p["figure"]}
            for (g, p), a, b in zip(matched, fig_ok, sub_ok, strict=True) if not (a and b)],
    }

"""Labelled real images for the modality classifier, and the shipped default library.

References come from two places, each image with its modality, its source (the unit of
leave-one-source-out) and its licence:

- the hand-made truth files (``tests/builder_truth``): every panel box rendered from its PDF,
  the region of a figure drawn as vectors (a chart: ``other``), and the largest text block of
  each page (rendered text: ``other``) -- pictures of an openly licensed article;
- pictures bundled with scikit-image that are public domain or CC0 (its ``data/_fetchers.py``
  docstrings give each licence): immunohistochemistry (``pathology``), a fundus photograph, a
  portrait, a cup of coffee, a cell micrograph, printed text (``other``).

Only references whose licence allows redistribution (CC BY, CC0, public domain) go into the
shipped library; others (HAM10000 images reproduced in a CC BY article, CC BY-NC 4.0) are used
to measure, never shipped. Rebuild the shipped file with

    python -m harness.dataset_builder.references --pdfs ../shared/data/pdfs [--pdfs more/] \
        --out dataset_builder/data/modality_library.npz
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pymupdf

from .evaluate import load_truth
from .modality import FeatureConfig, Library, features

TRUTH_DIR = Path(__file__).resolve().parents[1] / "tests" / "builder_truth"
RENDER_ZOOM = 2.0          # 144 dpi: more than the 160 px the features look at
TEXT_MIN_CHARS = 300
SHIPPABLE = ("CC BY", "CC0", "public domain", "no known copyright restrictions")
TEXT_PER_PDF = 2           # rendered text blocks per PDF (the longest ones)
# scikit-image's bundled pictures: (loader, modality, licence as its docstring states it)
SKIMAGE = [("immunohistochemistry", "pathology", "no known copyright restrictions"),
           ("retina", "other", "CC0"), ("astronaut", "other", "public domain"),
           ("coffee", "other", "CC0"), ("cell", "other", "CC0"), ("text", "other",
                                                                    "public domain")]


@dataclass
class Reference:
    image: np.ndarray      # BGR
    modality: str
    source: str            # leave-one-source-out unit
    origin: str            # where exactly it came from
    licence: str

    @property
    def shippable(self) -> bool:
        """Redistributable: CC BY, CC0 or public domain; not NonCommercial or NoDerivatives."""
        lic = self.licence
        return lic.startswith(SHIPPABLE) and not any(x in lic for x in ("-NC", "-ND", "Non"))


def _render(page: pymupdf.Page, box: list[float]) -> np.ndarray:
    pix = page.get_pixmap(matrix=pymupdf.Matrix(RENDER_ZOOM, RENDER_ZOOM),
                          clip=pymupdf.Rect(box), alpha=False, colorspace=pymupdf.csRGB)
    rgb = np.frombuffer(pix.samples, np.uint8).reshape(pix.height, pix.width, 3)
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


def truth_references(truth_file: Path, pdf: Path) -> list[Reference]:
    truth = load_truth(truth_file)
    doc = pymupdf.open(str(pdf))
    src = Path(truth["pdf"]).stem
    where = truth["source"].split(" (")[0]
    out = []
    for f in truth["figures"]:
        for p in f["panels"]:
            box = [round(v) for v in p["bbox"]]
            out.append(Reference(_render(doc[p["page"] - 1], p["bbox"]), p["modality"], src,
                                 f"{where} page {p['page']} {box} (figure {f['figure']})",
                                 p.get("licence", truth["licence"])))
        if f.get("region"):
            out.append(Reference(_render(doc[f["page"] - 1], f["region"]), "other", src,
                                 f"{where} page {f['page']} {f['region']} (figure "
                                 f"{f['figure']}, vector chart)", truth["licence"]))
    texts = []
    for page in doc:
        pictures = [pymupdf.Rect(i["bbox"]) for i in page.get_image_info()]
        texts += [(len(b[4]), page.number, b[:4]) for b in page.get_text("blocks")
                  if b[6] == 0 and len(b[4]) >= TEXT_MIN_CHARS
                  and not any(pymupdf.Rect(b[:4]).intersects(r) for r in pictures)]
    for _, pno, box in sorted(texts, reverse=True)[:TEXT_PER_PDF]:
        out.append(Reference(_render(doc[pno], list(box)), "other", src,
                             f"{where} page {pno + 1} {[round(v) for v in box]} (text)",
                             truth["licence"]))
    return out


def skimage_references() -> list[Reference]:
    from skimage import data

    out = []
    for name, modality, licence in SKIMAGE:
        img = np.asarray(getattr(data, name)())
        if img.ndim == 2:
            img = np.stack([img] * 3, axis=-1)
        bgr = cv2.cvtColor(img[..., :3].astype(np.uint8), cv2.COLOR_RGB2BGR)
        out.append(Reference(bgr, modality, "scikit-image", f"skimage.data.{name}()", licence))
    return out


def corpus_references(pdf_dirs: list[Path], truth_dir: Path = TRUTH_DIR) -> list[Reference]:
    """References of every truth file whose PDF is found in one of ``pdf_dirs`` (``heldout/``
    ones are never shippable: their licences do not allow it; they measure)."""
    pdfs = {p.name: p for d in pdf_dirs for p in d.glob("*.pdf")}
    out: list[Reference] = []
    for tf in [f for d in (truth_dir, truth_dir / "extra", truth_dir / "heldout")
               for f in sorted(d.glob("*.json"))]:
        name = load_truth(tf)["pdf"]
        if name in pdfs:
            out += truth_references(tf, pdfs[name])
    return out


def library_of(refs: list[Reference], cfg: FeatureConfig | None = None) -> Library:
    cfg = cfg or FeatureConfig()
    feats = [features(r.image, cfg) for r in refs]
    return Library(np.stack([c for c, _ in feats]), np.stack([t for _, t in feats]),
                   [r.modality for r in refs], [r.origin for r in refs], cfg,
                   [r.source for r in refs])


def provenance_table(refs: list[Reference]) -> str:
    lines = ["| modality | source | origin | licence |", "|---|---|---|---|"]
    lines += [f"| {r.modality} | {r.source} | {r.origin} | {r.licence} |" for r in refs]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description="Build the shipped modality reference library.")
    ap.add_argument("--pdfs", type=Path, action="append", required=True,
                    help="Folder holding truth-file PDFs (repeatable).")
    ap.add_argument("--truth", type=Path, default=TRUTH_DIR, help="Truth files (tests/).")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    refs = [r for r in corpus_references(args.pdfs, args.truth) + skimage_references()
            if r.shippable]
    library_of(refs).save(args.out)
    args.out.with_suffix(".md").write_text(
        "# References in modality_library.npz (generated; see README.md)\n\n"
        + provenance_table(refs), encoding="utf-8")
    counts = {m: sum(r.modality == m for r in refs) for m in sorted({r.modality for r in refs})}
    print(f"{args.out}: {len(refs)} references {counts}")


if __name__ == "__main__":
    main()

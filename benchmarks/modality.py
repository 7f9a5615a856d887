"""Modality classifier accuracy, leave-one-source-out, on real labelled images.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/modality.py [--extra-pdfs DIR] [--grid]
        [--by publisher]

Images: every panel of the hand-made truth files (tests/builder_truth) whose PDF is found
(../shared/data/pdfs, plus --extra-pdfs), their vector charts and rendered text, the public-
domain pictures bundled with scikit-image, and the HAM10000 image in ../shared/data/images.
Each source (one PDF, scikit-image, ISIC) is held out in turn and classified against the
references of all other sources, so no image is ever matched against itself or its siblings.

``--by publisher``: the unit held out is a publisher (every PDF of it, from each truth file's
``publisher``), not one PDF -- what a book from a new publisher gets.

Two reference sets are compared: ``shipped`` (only redistributable images, as in the default
library) and ``all`` (NonCommercial images too, as a user's own library might hold). Printed:
per-class accuracy, the confusion counts, and how many went to review (margin < 0.15) with
the accuracy of the rest.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.dataset_builder.modality import (  # noqa: E402
    MODALITIES,
    STAIN_SHARE,
    STAIN_TISSUE,
    FeatureConfig,
    Library,
    Weights,
    features,
    stain_share,
)
from harness.dataset_builder.references import (  # noqa: E402
    Reference,
    corpus_references,
    skimage_references,
)

DATA = ROOT.parent / "shared" / "data"


def all_references(extra: list[Path]) -> list[Reference]:
    refs = corpus_references([DATA / "pdfs", *extra]) + skimage_references()
    isic = DATA / "images" / "ISIC_0024310.jpg"
    if isic.is_file():
        refs.append(Reference(cv2.imread(str(isic)), "dermoscopy", "ISIC (HAM10000)",
                              "shared/data/images/ISIC_0024310.jpg", "CC BY-NC 4.0"))
    return refs


def publishers() -> dict[str, str]:
    """PDF stem -> publisher, from the truth files."""
    truth = ROOT / "tests" / "builder_truth"
    out = {}
    for d in (truth, truth / "extra", truth / "heldout"):
        for f in d.glob("*.json"):
            t = json.loads(f.read_text(encoding="utf-8"))
            out[Path(t["pdf"]).stem] = t.get("publisher", Path(t["pdf"]).stem)
    return out


def loso(refs: list[Reference], feats: list[tuple[np.ndarray, np.ndarray]], shipped_only: bool,
         w: Weights, unit: dict[str, str] | None = None,
         stains: list[tuple[float, float]] | None = None) -> list[tuple[str, str, float, str]]:
    """(truth, predicted, margin, unit) for every image, its own unit (a source, or the
    publisher ``unit`` maps it to) held out."""
    out = []
    unit = unit or {}
    of = [unit.get(r.source, r.source) for r in refs]
    for src in sorted(set(of)):
        keep = [i for i, r in enumerate(refs) if of[i] != src
                and (r.shippable or not shipped_only)]
        if len({refs[i].modality for i in keep}) < 2:
            continue
        lib = Library(np.stack([feats[i][0] for i in keep]), np.stack([feats[i][1] for i in keep]),
                      [refs[i].modality for i in keep], [refs[i].origin for i in keep],
                      FeatureConfig(), [refs[i].source for i in keep])
        for i, r in enumerate(refs):
            if of[i] == src:
                res = lib.classify_features(*feats[i], w)
                if stains is not None and res["modality"] == "other":
                    tissue, stained = stains[i]  # the builder's H&E rule (classify_pair)
                    if tissue >= STAIN_TISSUE and stained >= STAIN_SHARE:
                        res.update(modality="pathology", margin=0.0)  # written flagged
                out.append((r.modality, res["modality"], res["margin"], src))
    return out


def report(name: str, rows: list[tuple[str, str, float, str]], review_margin: float) -> None:
    print(f"\n{name}: {len(rows)} images, accuracy "
          f"{sum(t == p for t, p, *_ in rows) / max(1, len(rows)):.3f}")
    print(f"{'class':<12}{'n':>4}{'correct':>9}{'acc':>7}   predicted as")
    for m in MODALITIES:
        sub = [(t, p) for t, p, *_ in rows if t == m]
        if not sub:
            continue
        ok = sum(t == p for t, p in sub)
        conf = Counter(p for _, p in sub)
        print(f"{m:<12}{len(sub):>4}{ok:>9}{ok / len(sub):>7.2f}   "
              + ", ".join(f"{k} {v}" for k, v in conf.most_common()))
    sure = [(t, p) for t, p, mg, _ in rows if mg >= review_margin]
    print(f"sent to review (margin < {review_margin}): {len(rows) - len(sure)}; accuracy of "
          f"the rest {sum(t == p for t, p in sure) / max(1, len(sure)):.3f} ({len(sure)})")
    skin_as_other = sum(t != "other" and p == "other" for t, p, *_ in rows)
    other_as_skin = [(s, t) for t, p, mg, s in rows if t == "other" and p != "other"
                     and mg >= review_margin]
    print(f"skin images called other: {skin_as_other}; other images called skin and not sent "
          f"to review: {len(other_as_skin)}")
    skin = [(t, p, mg) for t, p, mg, _ in rows if t != "other"]
    right = [mg for t, p, mg in skin if t == p]
    print(f"skin images right but sent to review: {sum(mg < review_margin for mg in right)} of "
          f"{len(right)}; wrong and not sent: "
          f"{sum(t != p and mg >= review_margin for t, p, mg in skin)} of "
          f"{sum(t != p for t, p, _ in skin)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--extra-pdfs", type=Path, action="append", default=[])
    ap.add_argument("--grid", action="store_true", help="Also try other weights and k.")
    ap.add_argument("--by", choices=["source", "publisher"], default="source",
                    help="The unit held out: one PDF (source) or a publisher.")
    args = ap.parse_args()
    unit = publishers() if args.by == "publisher" else None
    refs = all_references(args.extra_pdfs)
    cfg = FeatureConfig()
    feats = [features(r.image, cfg) for r in refs]
    print("images:", dict(Counter((r.modality, "shipped" if r.shippable else "measure only")
                                  for r in refs)))
    print("sources:", len({r.source for r in refs}))
    w = Weights()
    stains = [stain_share(r.image) for r in refs]
    for shipped_only in (True, False):
        name = "shipped references" if shipped_only else "all references (NonCommercial too)"
        report(name, loso(refs, feats, shipped_only, w, unit), w.review_margin)
        report(name + ", with the H&E rule", loso(refs, feats, shipped_only, w, unit, stains),
               w.review_margin)
    if args.grid:
        print("\ncolour weight, k -> accuracy (shipped / all)")
        for cw in (0.1, 0.25, 0.5, 1.0):
            for k in (1, 3):
                ww = Weights(colour=cw, k=k)
                accs = []
                for so in (True, False):
                    rows = loso(refs, feats, so, ww, unit)
                    accs.append(sum(t == p for t, p, *_ in rows) / len(rows))
                print(f"  {cw:<5} {k}  {accs[0]:.3f} / {accs[1]:.3f}")


if __name__ == "__main__":
    main()

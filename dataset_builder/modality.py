"""Stage 3, modality: clinical / dermoscopy / pathology / other by nearest reference (the paper's
colour-histogram + LBP classifier, with an ``other`` class for diagrams, charts, screenshots,
radiology and text, which the write stage leaves out).

Features: an HSV colour histogram and uniform local-binary-pattern histograms (scikit-image),
each L1-normalised then square-rooted, so that Euclidean distance between blocks is the
Hellinger distance and each block has unit length; the blocks are weighted at query time
(measured on 87 real images, colour at weight 1 swamps texture, see the research notes, so
the default down-weights colour). The label is that of the nearest reference image(s). The
distance ratio -- nearest reference of the chosen class over nearest reference of any other
class -- says how sure that is; ``margin`` = 1 - ratio, and a margin under ``review_margin``
sends the image to the review file the paper's "verified manually" step needs.

A library is built from labelled folders ``<root>/<modality>/*.jpg`` and saved as ``.npz``;
without one the shipped default (``data/modality_library.npz``, provenance in
``data/README.md``) is used. Output: ``<work>/modality/modality.jsonl`` and
``<work>/modality/review.csv``; a reviewer's answer in that file's ``verified`` column is what
the write stage uses.
"""

from __future__ import annotations

import csv
import json
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from skimage.feature import local_binary_pattern

from harness.errors import UsageError

from .align import all_pairs
from .imageio import read_reduced
from .progress import progress_bar
from .records import append_jsonl, done_ids, read_jsonl

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
MODALITIES = ("clinical", "dermoscopy", "pathology", "other")
SKIN_MODALITIES = MODALITIES[:3]
DEFAULT_LIBRARY = Path(__file__).with_name("data") / "modality_library.npz"


@dataclass(frozen=True)
class FeatureConfig:
    size: int = 160                         # square resize before LBP
    hsv_bins: tuple[int, int, int] = (8, 8, 8)
    lbp: tuple[tuple[int, float], ...] = ((8, 1.0), (16, 2.0))  # (points, radius)


@dataclass(frozen=True)
class Weights:
    colour: float = 0.25
    lbp: float = 1.0
    k: int = 1
    review_margin: float = 0.15


def load_bgr(path: Path, size: int) -> np.ndarray | None:
    """Decode at reduced scale when the picture is large (JPEG decodes 2-4x faster so)."""
    data = np.fromfile(str(path), np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_REDUCED_COLOR_2)
    if img is None or min(img.shape[:2]) < size:
        img = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return img


def features(img: np.ndarray, cfg: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """(colour block, LBP block) of one BGR image; each unit length."""
    small = cv2.resize(img, (cfg.size, cfg.size), interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, list(cfg.hsv_bins), [0, 180, 0, 256, 0, 256])
    colour = np.sqrt(hist.ravel() / max(hist.sum(), 1))
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    parts = []
    for p, r in cfg.lbp:
        codes = local_binary_pattern(grey, p, r, method="uniform")
        h = np.bincount(codes.astype(np.int64).ravel(), minlength=p + 2).astype(np.float64)
        parts.append(np.sqrt(h / h.sum()))
    lbp = np.concatenate(parts) / np.sqrt(len(parts))
    return colour.astype(np.float32), lbp.astype(np.float32)


@dataclass
class Library:
    colour: np.ndarray        # [n, d_colour]
    lbp: np.ndarray           # [n, d_lbp]
    labels: list[str]
    paths: list[str]             # where each reference came from (provenance)
    config: FeatureConfig
    sources: list[str] = field(default_factory=list)  # leave-one-source-out unit

    def __post_init__(self) -> None:
        if not self.sources:
            self.sources = list(self.paths)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:  # np.savez on a handle keeps the name as given
            np.savez_compressed(fh, colour=self.colour, lbp=self.lbp,
                                labels=np.array(self.labels), paths=np.array(self.paths),
                                sources=np.array(self.sources),
                                config=np.array(json.dumps(asdict(self.config))))

    def without(self, source: str) -> Library:
        """The library less the references of one source (leave-one-source-out)."""
        keep = [i for i, s in enumerate(self.sources) if s != source]
        return Library(self.colour[keep], self.lbp[keep], [self.labels[i] for i in keep],
                       [self.paths[i] for i in keep], self.config,
                       [self.sources[i] for i in keep])

    def counts(self) -> dict[str, int]:
        return {m: self.labels.count(m) for m in sorted(set(self.labels))}

    @classmethod
    def load(cls, path: Path) -> Library:
        if not path.is_file():
            raise UsageError(f"modality library {path} does not exist; build one with "
                             "`dataset-builder library <labelled folders> <out.npz>`.")
        try:
            z = np.load(path, allow_pickle=False)
            raw = json.loads(str(z["config"]))
            cfg = FeatureConfig(size=raw["size"], hsv_bins=tuple(raw["hsv_bins"]),
                                lbp=tuple((int(p), float(r)) for p, r in raw["lbp"]))
            sources = [str(x) for x in z["sources"]] if "sources" in z else []
            return cls(z["colour"], z["lbp"], [str(x) for x in z["labels"]],
                       [str(x) for x in z["paths"]], cfg, sources)
        except (KeyError, ValueError, OSError) as exc:
            raise UsageError(f"modality library {path} is not a library file ({exc}).") from exc

    @classmethod
    def from_folders(cls, root: Path, cfg: FeatureConfig | None = None) -> Library:
        """Each sub-folder of ``root`` is a modality; its images are the references."""
        cfg = cfg or FeatureConfig()
        if not root.is_dir():
            raise UsageError(f"reference folder {root} does not exist.")
        colour, lbp, labels, paths = [], [], [], []
        for sub in sorted(p for p in root.iterdir() if p.is_dir()):
            for f in sorted(sub.rglob("*")):
                if f.suffix.lower() not in IMAGE_SUFFIXES:
                    continue
                img = load_bgr(f, cfg.size)
                if img is None:
                    continue  # an unreadable reference is skipped; the count shows it
                c, t = features(img, cfg)
                colour.append(c)
                lbp.append(t)
                labels.append(sub.name)
                paths.append(str(f.relative_to(root)))
        if len(set(labels)) < 2:
            raise UsageError(f"reference folder {root} needs at least two sub-folders of images "
                             "(one per modality).")
        return cls(np.stack(colour), np.stack(lbp), labels, paths, cfg)

    def classify(self, img: np.ndarray, w: Weights) -> dict[str, Any]:
        return self.classify_features(*features(img, self.config), w)

    def classify_features(self, c: np.ndarray, t: np.ndarray, w: Weights) -> dict[str, Any]:
        d = np.sqrt(w.colour ** 2 * ((self.colour - c) ** 2).sum(1)
                    + w.lbp ** 2 * ((self.lbp - t) ** 2).sum(1))
        order = np.argsort(d)
        votes = Counter(self.labels[i] for i in order[: w.k])
        label = max(votes, key=lambda lab: (votes[lab], -min(d[i] for i in order[: w.k]
                                                               if self.labels[i] == lab)))
        best = float(min(d[i] for i in order if self.labels[i] == label))
        other = [i for i in order if self.labels[i] != label][0]
        d_other = float(d[other])
        return {"modality": label, "distance": round(best, 4),
                "ratio": round(best / d_other, 4) if d_other else 1.0,
                "margin": round((d_other - best) / d_other, 4) if d_other else 0.0,
                "runner_up": self.labels[other],
                "neighbour": self.paths[int(order[0])]}


def default_library() -> Library:
    """The shipped library (features only; see data/README.md for where each came from)."""
    return Library.load(DEFAULT_LIBRARY)


STAIN_SHARE = 0.6   # H&E colours on this share of the tissue pixels: a stained section
STAIN_TISSUE = 0.1  # ... covering at least this share of the picture


def stain_share(img: np.ndarray) -> tuple[float, float]:
    """(tissue share, share of the tissue in H&E colours) of a BGR picture.

    Tissue: pixels neither near-white glass nor near-black. H&E colours: magenta to purple
    hues (OpenCV 125-175 of 180) with some saturation. Measured on the real references of
    ``benchmarks/modality.py`` (corpus and extra PDFs, scikit-image): clinical photographs
    0.00-0.03, ``other`` pictures 0.00-0.29, the corpus's H&E (BMC liver) 0.89-0.92; a
    low-power section on white (Indian J Dermatol 69:423 Fig. 2a, c) is 0.94 of a tissue
    share of 0.3-0.5, and what the colour/texture neighbours call ``other``. Dermoscopy
    reaches 0.5-0.99 as well, so this only ever speaks against ``other``."""
    small = cv2.resize(img, (160, 160), interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV).astype(np.int16)
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    tissue = ((v < 235) | (s > 25)) & (v > 30)
    stained = tissue & (h >= 125) & (h <= 175) & (s >= 30)
    n = int(tissue.sum())
    return n / tissue.size, (int(stained.sum()) / n if n else 0.0)


def classify_pair(work: Path, library: Library, weights: Weights,
                  pair: dict[str, Any]) -> dict[str, Any]:
    img = read_reduced(work / pair["image"], pair.get("width"), pair.get("height"),
                       library.config.size)
    if img is None:
        return {"id": pair["id"], "modality": None, "error": "image cannot be decoded"}
    rec = {"id": pair["id"], **library.classify(img, weights)}
    rec["review"] = rec["margin"] < weights.review_margin
    if rec["modality"] == "other":
        tissue, stained = stain_share(img)
        if tissue >= STAIN_TISSUE and stained >= STAIN_SHARE:
            # A section on white glass looks like a diagram to colour and texture; its
            # colours say H&E. Written as pathology, flagged: the neighbours disagree.
            rec.update(modality="pathology", runner_up="other", review=True,
                       stain={"tissue": round(tissue, 3), "he_share": round(stained, 3)})
    return rec


def run_modality(work: Path, library: Library, weights: Weights | None = None,
                 quiet: bool = False, workers: int | None = None) -> dict[str, int]:
    weights = weights or Weights()
    out = work / "modality" / "modality.jsonl"
    done = done_ids(out)
    todo = [p for p in all_pairs(work) if p["id"] not in done]
    counts: Counter[str] = Counter()
    batch: list[dict[str, Any]] = []
    # OpenCV and scikit-image's LBP release the GIL, so threads use every core
    # (1.7x on 2 cores); map() keeps the input order, so the output is the same.
    workers = workers or min(4, os.cpu_count() or 1)
    with progress_bar(quiet) as bar, ThreadPoolExecutor(max_workers=workers) as pool:
        task = bar.add_task("modality", total=len(todo))
        for rec in pool.map(lambda p: classify_pair(work, library, weights, p), todo):
            counts[str(rec["modality"])] += 1
            batch.append(rec)
            if len(batch) >= 64:
                append_jsonl(out, batch)
                batch = []
            bar.advance(task)
    append_jsonl(out, batch)
    write_review(work)
    return dict(counts)


def write_review(work: Path) -> Path:
    """Low-margin decisions for a person to check; answers already given are kept."""
    path = work / "modality" / "review.csv"
    verified = read_verified(work)
    pairs = {p["id"]: p for p in all_pairs(work)}
    rows = [r for r in read_jsonl(work / "modality" / "modality.jsonl")
            if r.get("review") or r.get("modality") is None]
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "image", "predicted", "runner_up", "margin", "nearest_reference",
                    "caption", "verified"])
        for r in sorted(rows, key=lambda r: r.get("margin") or 0):
            p = pairs.get(r["id"], {})
            w.writerow([r["id"], p.get("image", ""), r.get("modality"), r.get("runner_up"),
                        r.get("margin"), r.get("neighbour"), p.get("text", "")[:200],
                        verified.get(r["id"], "")])
    return path


def read_verified(work: Path) -> dict[str, str]:
    path = work / "modality" / "review.csv"
    if not path.exists():
        return {}
    with path.open(newline="", encoding="utf-8") as fh:
        return {r["id"]: r["verified"].strip() for r in csv.DictReader(fh)
                if (r.get("verified") or "").strip()}

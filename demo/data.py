"""A deterministic synthetic dermatology-like image set with known attributes.

Each image is drawn from attributes (modality, diagnosis, colour, border, size),
so labels, captions and question/answer pairs derived from those attributes are
true of the picture. Diagnoses shift the colour and border distributions, as
in real lesions, but overlap, so no baseline can be perfect.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from harness.fingerprint import cache_home
from harness.types import Sample

VERSION = 2  # 2: answers worded per modality (ANSWERS)
SEED = 20250601
IMAGE_SIZE = 64
SPLIT_SIZES = {"train": 160, "val": 48, "test": 80}
CLASSES = ("Basal Cell Carcinoma", "Melanoma", "Nevus", "Seborrheic Keratosis")
MODALITIES = ("clinical", "dermoscopy", "pathology")

# RGB means of each colour name; jitter is added per image.
COLOURS = {
    "black": (40, 30, 35),
    "dark brown": (90, 55, 35),
    "light brown": (165, 115, 75),
    "tan": (195, 160, 120),
    "pink": (215, 130, 140),
}
# Class-conditional attribute distributions: colour names with weights, P(irregular border).
CLASS_ATTRS: dict[str, tuple[dict[str, float], float]] = {
    "Melanoma": ({"black": 0.45, "dark brown": 0.45, "light brown": 0.10}, 0.75),
    "Nevus": ({"light brown": 0.55, "dark brown": 0.35, "tan": 0.10}, 0.15),
    "Basal Cell Carcinoma": ({"pink": 0.75, "tan": 0.15, "light brown": 0.10}, 0.35),
    "Seborrheic Keratosis": ({"tan": 0.50, "light brown": 0.30, "dark brown": 0.20}, 0.40),
}
QUESTIONS = {
    "colour": "What colour is the lesion?",
    "border": "Are the borders of the lesion regular?",
    "modality": "What type of image is this?",
    "size": "How large does the lesion appear in the image?",
}

# Answers per modality. Version 1 gave every answer to a question one template ("The
# lesion is {colour}."), so any answer to the question, even a random one, shared most of
# its 4-grams with the reference: chance scored BLEU-4 67.6 against knn-retrieval's 80.2.
ANSWERS: dict[str, dict[str, str]] = {
    "clinical": {
        "colour": "Clinically the lesion looks {colour} against the surrounding skin.",
        "regular": "Yes, its margins are smooth and sharply demarcated from normal skin.",
        "irregular": "No, its margins are ragged and fade unevenly into normal skin.",
        "modality": "This is a clinical photograph of the skin surface.",
        "size": "In this photograph the lesion looks {size}.",
    },
    "dermoscopy": {
        "colour": "Under the dermatoscope the pigment appears {colour}.",
        "regular": "Yes; dermoscopy shows a symmetric outline with an even edge.",
        "irregular": "No; dermoscopy shows an asymmetric outline with notched edges.",
        "modality": "It is a dermoscopic view taken through a dermatoscope.",
        "size": "Within the dermoscopic field of view it is {size}.",
    },
    "pathology": {
        "colour": "On the stained slide the lesional area is {colour}.",
        "regular": "Yes, the lesion is well circumscribed in this section.",
        "irregular": "No, the lesion edge is infiltrative and poorly circumscribed.",
        "modality": "A histopathology section stained with haematoxylin and eosin.",
        "size": "The lesional area occupies a {size} part of the section.",
    },
}


@dataclass
class Record:
    id: str
    split: str
    file: str
    modality: str
    label: str
    colour: str
    border: str
    size: str
    age: int
    sex: str

    def caption(self) -> str:
        return (
            f"A {self.modality} image of a {self.size} {self.colour} lesion with {self.border} "
            f"borders, consistent with {self.label.lower()}."
        )

    def qa(self) -> list[tuple[str, str, str]]:
        """(key, question, answer) for every question this record can answer.

        Each answer is worded as a report of its modality would word it, so the wording,
        like the content, can be read off the image; an answer drawn without looking
        shares little more than its content word with the reference.
        """
        words = ANSWERS[self.modality]
        return [
            ("colour", QUESTIONS["colour"], words["colour"].format(colour=self.colour)),
            ("border", QUESTIONS["border"], words[self.border]),
            ("modality", QUESTIONS["modality"], words["modality"]),
            ("size", QUESTIONS["size"], words["size"].format(size=self.size)),
        ]


def cache_root() -> Path:
    return cache_home() / "derm-harness" / f"demo-v{VERSION}"


def ensure(root: Path | None = None) -> tuple[Path, list[Record]]:
    """Generate the demo set once (atomically) and return its folder and records."""
    root = root or cache_root()
    manifest = root / "manifest.json"
    if manifest.exists():
        data = json.loads(manifest.read_text())
        return root, [Record(**r) for r in data["records"]]
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".demo-", dir=root.parent))
    try:
        records = _generate(tmp)
        (tmp / "manifest.json").write_text(
            json.dumps({"version": VERSION, "records": [asdict(r) for r in records]}, indent=1)
        )
        try:
            os.replace(tmp, root)
        except OSError:  # another process finished first; use its copy
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ensure(root)


def _generate(folder: Path) -> list[Record]:
    from PIL import Image

    rng = np.random.default_rng(SEED)
    records = []
    (folder / "images").mkdir(parents=True)
    for split, n in SPLIT_SIZES.items():
        for i in range(n):
            label = CLASSES[i % len(CLASSES)]
            modality = MODALITIES[(i // len(CLASSES)) % len(MODALITIES)]
            colours, p_irregular = CLASS_ATTRS[label]
            colour = str(rng.choice(list(colours), p=list(colours.values())))
            border = "irregular" if rng.random() < p_irregular else "regular"
            size = "small" if rng.random() < 0.5 else "large"
            rec = Record(
                id=f"demo-{split}-{i:04d}",
                split=split,
                file=f"images/demo-{split}-{i:04d}.png",
                modality=modality,
                label=label,
                colour=colour,
                border=border,
                size=size,
                age=int(rng.integers(18, 90)),
                sex=str(rng.choice(["female", "male"])),
            )
            pixels = draw(rec, rng)
            Image.fromarray(pixels).save(folder / rec.file)
            records.append(rec)
    return records


def draw(rec: Record, rng: np.random.Generator) -> np.ndarray:
    """Render one record's image: modality-specific background, lesion shaped by its attributes."""
    s = IMAGE_SIZE
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float32)
    if rec.modality == "pathology":  # H&E-like: pink stroma with scattered purple nuclei
        img = np.empty((s, s, 3), np.float32)
        img[:] = (230, 170, 200)
        nuclei = rng.random((s, s)) < 0.04
        img[nuclei] = (110, 60, 150)
    else:
        skin = np.array((225, 185, 155)) * rng.uniform(0.75, 1.05) + rng.normal(0, 4, 3)
        img = np.broadcast_to(skin, (s, s, 3)).astype(np.float32).copy()
    img += rng.normal(0, 6, img.shape)

    cy, cx = s / 2 + rng.normal(0, 3, 2)
    radius = s * (0.16 if rec.size == "small" else 0.3)
    angle = np.arctan2(yy - cy, xx - cx)
    wobble = 0.0
    if rec.border == "irregular":
        for k in (3, 5, 7):
            wobble += rng.uniform(0.08, 0.16) * np.sin(k * angle + rng.uniform(0, 2 * np.pi))
    r = np.hypot(yy - cy, xx - cx) / (radius * (1 + wobble))
    mask = np.clip((1.0 - r) * 4.0, 0.0, 1.0)[..., None]
    colour = np.array(COLOURS[rec.colour]) + rng.normal(0, 10, 3)
    texture = rng.normal(0, 9, (s, s, 1))
    img = img * (1 - mask) + (colour + texture) * mask

    if rec.modality == "dermoscopy":  # circular field of view with dark corners
        fov = np.hypot(yy - s / 2, xx - s / 2) > s * 0.48
        img[fov] = 15
    return np.clip(img, 0, 255).astype(np.uint8)


def classification_samples(split: str, root: Path | None = None) -> list[Sample]:
    folder, records = ensure(root)
    return [
        Sample(
            id=r.id,
            image=folder / r.file,
            dataset="demo",
            split=r.split,
            modality=r.modality,
            label=r.label,
            meta={"age": r.age, "sex": r.sex, "caption": r.caption(), "colour": r.colour},
        )
        for r in records
        if r.split == split
    ]


def vqa_samples(split: str, root: Path | None = None, per_image: int = 2) -> list[Sample]:
    """Question/answer pairs: ``per_image`` questions per image, chosen by a seeded draw."""
    folder, records = ensure(root)
    rng = np.random.default_rng(SEED + 1)
    out = []
    for r in records:
        qa = r.qa()
        picks = rng.choice(len(qa), size=per_image, replace=False)
        if r.split != split:
            continue
        for k in sorted(picks):
            key, question, answer = qa[k]
            out.append(
                Sample(
                    id=f"{r.id}-{key}",
                    image=folder / r.file,
                    dataset="demo-vqa",
                    split=r.split,
                    modality=r.modality,
                    label=r.label,
                    question=question,
                    answer=answer,
                    meta={"age": r.age, "sex": r.sex, "caption": r.caption()},
                )
            )
    return out

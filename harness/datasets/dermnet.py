"""Dermnet (clinical, 23 classes): the Kaggle release's class folders + the paper's test split.

Layout (as the Kaggle dataset ships it)::

    Dermnet/train/<class folder>/*.jpg
    Dermnet/test/<class folder>/*.jpg      the paper's test split lists these (4,002 rows)

Train/val: the ``train/`` folders, seeded 3:1 by class (Dermnet has no validation split).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from harness.datasets.base import Adapter
from harness.datasets.common import Skips
from harness.types import Sample

# Kaggle folder name -> the paper's label, as paired in the paper's Dermnet_test.csv (every
# test row's folder maps to exactly one label there). The labels' order is sorted.
FOLDERS = {
    "Acne and Rosacea Photos": "Acne and rosacea",
    "Actinic Keratosis Basal Cell Carcinoma and other Malignant Lesions":
        "Actinic Keratosis Basal Cell Carcinoma and other Malignant Lesions",
    "Atopic Dermatitis Photos": "Atopic dermatitis",
    "Bullous Disease Photos": "Bullous disease",
    "Cellulitis Impetigo and other Bacterial Infections":
        "Cellulitis Impetigo and other Bacterial Infections",
    "Eczema Photos": "Eczema",
    "Exanthems and Drug Eruptions": "Exanthems and Drug Eruptions",
    "Hair Loss Photos Alopecia and other Hair Diseases":
        "Hair loss  alopecia and other hair diseases",
    "Herpes HPV and other STDs Photos": "Herpes hpv and other stds",
    "Light Diseases and Disorders of Pigmentation": "Light Diseases and Disorders of Pigmentation",
    "Lupus and other Connective Tissue diseases": "Lupus and other Connective Tissue diseases",
    "Melanoma Skin Cancer Nevi and Moles": "Melanoma Skin Cancer Nevi and Moles",
    "Nail Fungus and other Nail Disease": "Nail Fungus and other Nail Disease",
    "Poison Ivy Photos and other Contact Dermatitis": "Poison ivy  and other contact dermatitis",
    "Psoriasis pictures Lichen Planus and related diseases":
        "Psoriasis pictures Lichen Planus and related diseases",
    "Scabies Lyme Disease and other Infestations and Bites":
        "Scabies Lyme Disease and other Infestations and Bites",
    "Seborrheic Keratoses and other Benign Tumors": "Seborrheic Keratoses and other Benign Tumors",
    "Systemic Disease": "Systemic Disease",
    "Tinea Ringworm Candidiasis and other Fungal Infections":
        "Tinea Ringworm Candidiasis and other Fungal Infections",
    "Urticaria Hives": "Urticaria Hives",
    "Vascular Tumors": "Vascular Tumors",
    "Vasculitis Photos": "Vasculitis",
    "Warts Molluscum and other Viral Infections": "Warts Molluscum and other Viral Infections",
}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


class Dermnet(Adapter):
    name = "dermnet"
    folder = "Dermnet"
    modality = "clinical"
    classes = tuple(sorted(FOLDERS.values()))
    classes_source = "categories of the paper's Dermnet_test.csv (ZwQ803/MM-Skin@31d105c)"
    splits = ("train", "val", "test")
    description = "Dermnet clinical, 23 classes; test = paper split, train/val seeded 3:1"
    split_file = "Dermnet_test.csv"

    def id_of(self, rel_image: str) -> str:
        # File names repeat across class folders: the id is the path inside Dermnet/.
        parts = PurePosixPath(rel_image.replace("\\", "/")).parts
        return "/".join(parts[1:]) if parts and parts[0] == self.folder else "/".join(parts)

    def pool(self, root: Path, skips: Skips) -> list[Sample]:
        from harness.errors import DataError

        base = root / self.folder / "train"
        if not base.is_dir():
            raise DataError(f"Dermnet training folder not found: {base}")
        out = []
        for folder in sorted(p for p in base.iterdir() if p.is_dir()):
            files = sorted(f for f in folder.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
            label = FOLDERS.get(folder.name)
            if label is None:
                for f in files:
                    skips.add(f"{f}: folder '{folder.name}' is not one of Dermnet's 23 class "
                              "folders; image skipped")
                continue
            for f in files:
                out.append(Sample(
                    id=f"train/{folder.name}/{f.name}", image=f, dataset=self.name,
                    modality=self.modality, label=label, meta={"source_file": str(folder)}))
        return out

    def required_files(self, root: Path) -> list[tuple[Path, str]]:
        return super().required_files(root) + [(root / self.folder / "train", "training folders")]

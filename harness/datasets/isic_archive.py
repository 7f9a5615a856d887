"""BCN20000, HIBA and MSKCC: ISIC Archive collections (dermoscopy) with the paper's test splits.

Each is downloaded from the ISIC Archive as images plus a ``metadata.csv``
(``isic_id`` and clinical fields). The paper's split files list the test images
as ``<Folder>/ISIC_*.jpg``. BCN20000 and MSKCC are evaluated on the test split
only (zero-shot); HIBA also has train/val (the probe), made from the
collection's ``metadata.csv`` minus the test images, seeded 3:1 by lesion.
"""

from __future__ import annotations

from pathlib import Path

from harness.datasets.base import Adapter
from harness.datasets.common import (
    FirstRows,
    ImageFinder,
    Skips,
    clean,
    name_problem,
    number,
    read_csv,
    row_ref,
    sex,
)
from harness.types import Sample

METADATA = "metadata.csv"


def archive_meta(rec: dict) -> dict:
    """Demographics from an ISIC Archive metadata row (legacy and 2024 column names)."""
    return {
        "age": number(rec.get("age_approx")),
        "sex": sex(rec.get("sex")),
        "lesion_id": clean(rec.get("lesion_id")),
        "patient_id": clean(rec.get("patient_id")),
        "fitzpatrick": clean(rec.get("fitzpatrick_skin_type")),
    }


class ArchiveCollection(Adapter):
    modality = "dermoscopy"
    group_key = "lesion_id"

    def _metadata(self, root: Path) -> dict[str, dict]:
        path = root / self.folder / METADATA
        if not path.is_file():
            return {}
        df = read_csv(path, ("isic_id",), f"{self.name} metadata")
        return {str(r["isic_id"]).strip(): archive_meta(r) for r in df.to_dict("records")}

    def enrich(self, root: Path, samples: list[Sample]) -> None:
        meta = self._metadata(root)
        for s in samples:
            s.meta.update({k: v for k, v in meta.get(s.id, {}).items() if v is not None})


class Bcn20000(ArchiveCollection):
    name = "bcn20000"
    folder = "BCN20000"
    # Vocabulary and order: the `categories` of the paper's BCN20000_test.csv (sorted).
    classes = ("actinic keratosis", "basal cell carcinoma", "dermatofibroma", "melanoma",
               "melanoma metastasis", "nevus", "other", "scar", "seborrheic keratosis",
               "solar lentigo", "squamous cell carcinoma", "vascular lesion")
    classes_source = "categories of the paper's BCN20000_test.csv (ZwQ803/MM-Skin@31d105c)"
    aliases = ("bcn",)
    description = "BCN20000 dermoscopy, 12 classes; the paper's test split only"
    split_file = "BCN20000_test.csv"


class Mskcc(ArchiveCollection):
    name = "mskcc"
    folder = "MSKCC"
    # Vocabulary and order: the `categories` of the paper's MSKCC_test.csv (sorted). The paper
    # says 21 classes; its published test split holds these 17 (and 3 rows with no label).
    classes = ("AIMP", "acrochordon", "actinic keratosis", "angiokeratoma",
               "atypical melanocytic proliferation", "basal cell carcinoma", "dermatofibroma",
               "lentigo NOS", "lentigo simplex", "lichenoid keratosis", "melanoma",
               "neurofibroma", "nevus", "seborrheic keratosis", "solar lentigo",
               "squamous cell carcinoma", "verruca")
    classes_source = "categories of the paper's MSKCC_test.csv (ZwQ803/MM-Skin@31d105c)"
    description = "MSKCC dermoscopy, 17 classes in the paper's test split; test only"
    split_file = "MSKCC_test.csv"


class Hiba(ArchiveCollection):
    name = "hiba"
    folder = "HIBA"
    # Vocabulary and order: the `categories` of the paper's HIBA_2class_test.csv (sorted).
    classes = ("benign", "malignant")
    classes_source = "categories of the paper's HIBA_2class_test.csv (ZwQ803/MM-Skin@31d105c)"
    splits = ("train", "val", "test")
    description = "HIBA dermoscopy, benign/malignant; test = paper split, train/val seeded 3:1"
    split_file = "HIBA_2class_test.csv"
    publisher_files = (METADATA,)

    def pool(self, root: Path, skips: Skips) -> list[Sample]:
        path = root / self.folder / METADATA
        df = read_csv(path, ("isic_id",), "HIBA metadata")
        # Legacy exports have benign_malignant; the 2024 taxonomy puts it in diagnosis_1.
        col = next((c for c in ("benign_malignant", "diagnosis_1") if c in df.columns), None)
        if col is None:
            from harness.errors import DataError

            raise DataError(f"{path}, row 1: missing column benign_malignant (or diagnosis_1)")
        finder = ImageFinder(root, ["HIBA", "HIBA/images"])
        out, seen = [], FirstRows()
        for i, rec in enumerate(df.to_dict("records")):
            row = i + 2
            where = row_ref(path, row)
            isic_id = clean(rec["isic_id"])
            value = (clean(rec[col]) or "").lower()
            if (problem := name_problem(isic_id, "isic_id", where)) is not None:
                skips.add(problem)
                continue
            if value not in self.classes:
                skips.add(f"{where}: {col} '{rec[col]}' is not benign or malignant; row skipped")
                continue
            if seen.repeated(isic_id, row, where, skips):
                continue
            out.append(Sample(
                id=isic_id, image=finder.find(f"{isic_id}.jpg"),
                dataset=self.name, modality=self.modality, label=value,
                meta={"source_file": str(path), "row": row, **archive_meta(rec)}))
        return out

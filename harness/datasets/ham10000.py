"""HAM10000 (dermoscopy, 7 classes): ISIC 2018 Task 3 training metadata + the paper's test split.

Layout under the data root (as the publishers ship it)::

    HAM10000/HAM10000_metadata.csv                          lesion_id,image_id,dx,...,age,sex
    HAM10000/HAM10000_images_part_1/ISIC_*.jpg  (and _part_2, or ISIC2018_Task3_Training_Input/)
    HAM10000/ISIC2018_Task3_Test_Images/ISIC_*.jpg          the paper's test split (1,511 rows)
    HAM10000/ISIC2018_Task3_Validation_GroundTruth.csv      optional: the official validation split
    HAM10000/ISIC2018_Task3_Validation_Input/ISIC_*.jpg
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
    split_method,
)
from harness.types import Sample

# Vocabulary and order: the `categories` of the paper's HAM10000_test.csv (sorted).
CLASSES = ("Actinic Keratoses", "Basal Cell Carcinoma", "Benign Keratosis", "Dermatofibroma",
           "Melanoma", "Nevus", "Vascular lesions")
# HAM10000 `dx` codes (Tschandl et al. 2018) -> the paper's names.
DX = {"akiec": "Actinic Keratoses", "bcc": "Basal Cell Carcinoma", "bkl": "Benign Keratosis",
      "df": "Dermatofibroma", "mel": "Melanoma", "nv": "Nevus", "vasc": "Vascular lesions"}
# The ISIC 2018 validation ground truth's one-hot columns -> the paper's names.
ONE_HOT = {"AKIEC": "Actinic Keratoses", "BCC": "Basal Cell Carcinoma", "BKL": "Benign Keratosis",
           "DF": "Dermatofibroma", "MEL": "Melanoma", "NV": "Nevus", "VASC": "Vascular lesions"}
IMAGE_FOLDERS = ("HAM10000_images_part_1", "HAM10000_images_part_2",
                 "ISIC2018_Task3_Training_Input", "HAM10000_images")
VAL_FILE = "ISIC2018_Task3_Validation_GroundTruth.csv"


class Ham10000(Adapter):
    name = "ham10000"
    folder = "HAM10000"
    modality = "dermoscopy"
    classes = CLASSES
    classes_source = "categories of the paper's HAM10000_test.csv (ZwQ803/MM-Skin@31d105c)"
    splits = ("train", "val", "test")
    aliases = ("ham",)
    description = "HAM10000 dermoscopy, 7 classes; test = ISIC 2018 Task 3 test (paper split)"
    split_file = "HAM10000_test.csv"
    group_key = "lesion_id"
    publisher_files = ("HAM10000_metadata.csv",)

    def from_pool(self, root: Path, split: str, skips: Skips) -> list[Sample]:
        # The official partition: all 10,015 metadata rows train, ISIC 2018 validation is val.
        if split == "val":
            return self._official_val(root, skips)
        out = self.pool(root, skips)
        for s in out:
            s.split, s.meta["split_method"] = "train", "official"
        return out

    def pool(self, root: Path, skips: Skips) -> list[Sample]:
        path = root / self.folder / "HAM10000_metadata.csv"
        df = read_csv(path, ("lesion_id", "image_id", "dx"), "HAM10000 metadata")
        has = set(df.columns)
        finder = ImageFinder(root, [f"{self.folder}/{d}" for d in IMAGE_FOLDERS])
        out, seen = [], FirstRows()
        for i, rec in enumerate(df.to_dict("records")):
            row = i + 2
            where = row_ref(path, row)
            image_id, dx = clean(rec["image_id"]), (clean(rec["dx"]) or "").lower()
            if (problem := name_problem(image_id, "image_id", where)) is not None:
                skips.add(problem)
                continue
            if dx not in DX:
                skips.add(f"{where}: dx '{rec['dx']}' is not one of {', '.join(DX)}; row skipped")
                continue
            if seen.repeated(image_id, row, where, skips):
                continue
            image = finder.find(f"{image_id}.jpg")
            meta = {"lesion_id": clean(rec["lesion_id"]), "source_file": str(path), "row": row,
                    "age": number(rec.get("age")) if "age" in has else None,
                    "sex": sex(rec.get("sex")) if "sex" in has else None}
            if "dx_type" in has:
                meta["dx_type"] = clean(rec["dx_type"])
            out.append(Sample(id=image_id, image=image, dataset=self.name, modality=self.modality,
                              label=DX[dx], meta=meta))
        return out

    def _official_val(self, root: Path, skips: Skips) -> list[Sample]:
        path = root / self.folder / VAL_FILE
        if not path.is_file():
            skips.note(f"{path}: official validation ground truth not found; the val split is "
                      "empty (download ISIC 2018 Task 3 validation to fill it)")
            return []
        df = read_csv(path, ("image", *ONE_HOT), "ISIC 2018 validation ground truth")
        out = []
        for i, rec in enumerate(df.to_dict("records")):
            where = row_ref(path, i + 2)
            hot = [name for col, name in ONE_HOT.items() if (number(rec[col]) or 0) >= 0.5]
            if len(hot) != 1:
                skips.add(f"{where}: expected exactly one positive class, found {len(hot)}; "
                          "row skipped")
                continue
            image_id = str(rec["image"]).strip()
            out.append(Sample(
                id=image_id, image=root / self.folder / "ISIC2018_Task3_Validation_Input" /
                f"{image_id}.jpg", dataset=self.name, split="val", modality=self.modality,
                label=hot[0], meta={"source_file": str(path), "row": i + 2,
                                    "split_method": split_method("official", file=VAL_FILE)}))
        return out

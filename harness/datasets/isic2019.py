"""ISIC 2019 (dermoscopy, 8 classes): the official training ground truth + the paper's test split.

The paper's ISIC_test.csv holds 7,600 of the 25,331 official training images;
the other 17,731 form our train/val pool. Layout::

    ISIC/ISIC_2019_Training_GroundTruth.csv       image,MEL,NV,BCC,AK,BKL,DF,VASC,SCC,UNK
    ISIC/ISIC_2019_Training_Metadata.csv          optional: image,age_approx,...,lesion_id,sex
    ISIC/ISIC_*.jpg                               (or ISIC/ISIC_2019_Training_Input/ISIC_*.jpg)
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

# Vocabulary and order: the `categories` of the paper's ISIC_test.csv (sorted).
CLASSES = ("Actinic Keratosis", "Basal Cell Carcinoma", "Benign Keratosis-like Lesions",
           "Dermatofibroma", "Melanoma", "Nevus", "Squamous Cell Carcinoma", "Vascular Lesions")
# The ground truth's one-hot columns -> the paper's names. UNK has no class: such rows are skipped.
ONE_HOT = {"AK": "Actinic Keratosis", "BCC": "Basal Cell Carcinoma",
           "BKL": "Benign Keratosis-like Lesions", "DF": "Dermatofibroma", "MEL": "Melanoma",
           "NV": "Nevus", "SCC": "Squamous Cell Carcinoma", "VASC": "Vascular Lesions"}
GROUND_TRUTH = "ISIC_2019_Training_GroundTruth.csv"
METADATA = "ISIC_2019_Training_Metadata.csv"


class Isic2019(Adapter):
    name = "isic2019"
    folder = "ISIC"
    modality = "dermoscopy"
    classes = CLASSES
    classes_source = "categories of the paper's ISIC_test.csv (ZwQ803/MM-Skin@31d105c)"
    splits = ("train", "val", "test")
    aliases = ("isic", "isic-2019")
    description = "ISIC 2019 dermoscopy, 8 classes; test = the paper's 7,600-image split"
    split_file = "ISIC_test.csv"
    group_key = "lesion_id"
    publisher_files = (GROUND_TRUTH,)

    def _metadata(self, root: Path) -> dict[str, dict]:
        path = root / self.folder / METADATA
        if not path.is_file():
            return {}
        df = read_csv(path, ("image",), "ISIC 2019 metadata")
        out = {}
        for i, rec in enumerate(df.to_dict("records")):
            out[str(rec["image"]).strip()] = {
                "age": number(rec.get("age_approx")), "sex": sex(rec.get("sex")),
                "lesion_id": clean(rec.get("lesion_id")), "site": clean(
                    rec.get("anatom_site_general")), "metadata_row": i + 2}
        return out

    def enrich(self, root: Path, samples: list[Sample]) -> None:
        meta = self._metadata(root)
        for s in samples:
            s.meta.update(meta.get(s.id, {}))

    def pool(self, root: Path, skips: Skips) -> list[Sample]:
        path = root / self.folder / GROUND_TRUTH
        df = read_csv(path, ("image", *ONE_HOT), "ISIC 2019 ground truth")
        meta = self._metadata(root)
        finder = ImageFinder(root, ["ISIC", "ISIC/ISIC_2019_Training_Input"])
        out, seen = [], FirstRows()
        for i, rec in enumerate(df.to_dict("records")):
            row = i + 2
            where = row_ref(path, row)
            image_id = clean(rec["image"])
            hot = [name for col, name in ONE_HOT.items() if (number(rec[col]) or 0) >= 0.5]
            if (problem := name_problem(image_id, "image", where)) is not None:
                skips.add(problem)
                continue
            if len(hot) != 1:
                unk = "UNK" in rec and (number(rec["UNK"]) or 0) >= 0.5
                skips.add(f"{where}: {'class UNK is outside the vocabulary' if unk else ''}"
                          f"{'' if unk else f'expected one positive class, found {len(hot)}'}; "
                          "row skipped")
                continue
            if seen.repeated(image_id, row, where, skips):
                continue
            image = finder.find(f"{image_id}.jpg")
            m = {"source_file": str(path), "row": row, **meta.get(image_id, {})}
            out.append(Sample(id=image_id, image=image, dataset=self.name,
                              modality=self.modality, label=hot[0], meta=m))
        return out

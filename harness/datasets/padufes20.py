"""PAD-UFES-20 (clinical smartphone photos, 6 diagnoses). No published split: seeded 6:2:2.

Layout (as published on Mendeley Data)::

    PAD-UFES-20/metadata.csv                     patient_id,lesion_id,...,diagnostic,img_id,...
    PAD-UFES-20/images/imgs_part_{1,2,3}/PAT_*.png   (or PAD-UFES-20/images/PAT_*.png)

The paper does not publish its PAD-UFES-20 split (Table 6: 1,839 train / 461
test). We split by patient, stratified by diagnosis, seeded; the split is
recorded per sample and by ``manifest()``.
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

# PAD-UFES-20 `diagnostic` codes (Pacheco et al. 2020) -> names in the paper's naming style.
# The paper publishes no PAD split, so this vocabulary is ours: the six codes, spelled as the
# paper's ISIC 2019 split spells the same diagnoses, in sorted order.
DIAGNOSTIC = {"ACK": "Actinic Keratosis", "BCC": "Basal Cell Carcinoma", "MEL": "Melanoma",
              "NEV": "Nevus", "SCC": "Squamous Cell Carcinoma", "SEK": "Seborrheic Keratosis"}
CLASSES = tuple(sorted(DIAGNOSTIC.values()))


class PadUfes20(Adapter):
    name = "pad-ufes-20"
    folder = "PAD-UFES-20"
    modality = "clinical"
    classes = CLASSES
    classes_source = ("PAD-UFES-20 `diagnostic` codes, named as in the paper's ISIC split "
                      "(the paper publishes no PAD split)")
    splits = ("train", "val", "test")
    aliases = ("pad", "padufes20", "pad-ufes")
    description = "PAD-UFES-20 clinical, 6 classes; seeded 6:2:2 split grouped by patient"
    group_key = "patient_id"
    publisher_files = ("metadata.csv",)

    def pool(self, root: Path, skips: Skips) -> list[Sample]:
        path = root / self.folder / "metadata.csv"
        df = read_csv(path, ("patient_id", "lesion_id", "diagnostic", "img_id"),
                      "PAD-UFES-20 metadata")
        finder = ImageFinder(root, [f"{self.folder}/images/imgs_part_{k}" for k in (1, 2, 3)]
                             + [f"{self.folder}/images", self.folder])
        out, seen = [], FirstRows()
        for i, rec in enumerate(df.to_dict("records")):
            row = i + 2
            where = row_ref(path, row)
            img, dx = clean(rec["img_id"]), (clean(rec["diagnostic"]) or "").upper()
            if (problem := name_problem(img, "img_id", where)) is not None:
                skips.add(problem)
                continue
            if dx not in DIAGNOSTIC:
                skips.add(f"{where}: diagnostic '{rec['diagnostic']}' is not one of "
                          f"{', '.join(DIAGNOSTIC)}; row skipped")
                continue
            sid = Path(img).stem
            if seen.repeated(sid, row, where, skips):
                continue
            out.append(Sample(
                id=sid, image=finder.find(img), dataset=self.name,
                modality=self.modality, label=DIAGNOSTIC[dx],
                meta={"source_file": str(path), "row": row, "age": number(rec.get("age")),
                      "sex": sex(rec.get("gender")),
                      "fitzpatrick": number(rec.get("fitspatrick")),  # sic: the column's name
                      "patient_id": clean(rec["patient_id"]),
                      "lesion_id": clean(rec["lesion_id"]),
                      "biopsed": clean(rec.get("biopsed"))}))
        return out

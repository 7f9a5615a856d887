"""DDI, Diverse Dermatology Images (clinical, malignant vs not): metadata + the paper's test split.

Layout (as Stanford AIMI ships it)::

    DDI/ddi_metadata.csv      (index),DDI_ID,DDI_file,skin_tone,malignant,disease
    DDI/000001.png ...

Train/val: the metadata rows minus the paper's 132 test images, seeded 3:1.
"""

from __future__ import annotations

from pathlib import Path

from harness.datasets.base import Adapter
from harness.datasets.common import FirstRows, Skips, clean, name_problem, read_csv, row_ref
from harness.types import Sample

CSV = "ddi_metadata.csv"
# DDI groups Fitzpatrick types in pairs: 12 = I-II, 34 = III-IV, 56 = V-VI.
SKIN_TONE = {"12": "I-II", "34": "III-IV", "56": "V-VI"}


def _malignant(value: object) -> bool | None:
    text = (clean(value) or "").lower()
    return {"true": True, "1": True, "false": False, "0": False}.get(text)


class Ddi(Adapter):
    name = "ddi"
    folder = "DDI"
    modality = "clinical"
    # Vocabulary and order: the `categories` of the paper's DDI_2class_test.csv (sorted).
    classes = ("Malignant", "Non-Malignant")
    classes_source = "categories of the paper's DDI_2class_test.csv (ZwQ803/MM-Skin@31d105c)"
    splits = ("train", "val", "test")
    description = "DDI clinical, malignant/non-malignant; test = paper split, train/val seeded 3:1"
    split_file = "DDI_2class_test.csv"
    publisher_files = (CSV,)

    def _rows(self, root: Path) -> tuple[Path, list[dict]]:
        path = root / self.folder / CSV
        df = read_csv(path, ("DDI_file", "malignant", "skin_tone"), "DDI metadata")
        return path, df.to_dict("records")

    @staticmethod
    def _meta(rec: dict) -> dict:
        tone = clean(rec.get("skin_tone"))
        return {"fitzpatrick": SKIN_TONE.get(tone or "", tone), "diagnosis": clean(
            rec.get("disease"))}

    def enrich(self, root: Path, samples: list[Sample]) -> None:
        if not (root / self.folder / CSV).is_file():
            return
        _, rows = self._rows(root)
        by_id = {Path(str(r["DDI_file"]).strip()).stem: r for r in rows}
        for s in samples:
            if s.id in by_id:
                s.meta.update(self._meta(by_id[s.id]))

    def pool(self, root: Path, skips: Skips) -> list[Sample]:
        path, rows = self._rows(root)
        out, seen = [], FirstRows()
        for i, rec in enumerate(rows):
            row = i + 2
            where = row_ref(path, row)
            file, mal = clean(rec["DDI_file"]), _malignant(rec["malignant"])
            if (problem := name_problem(file, "DDI_file", where)) is not None:
                skips.add(problem)
                continue
            if mal is None:
                skips.add(f"{where}: malignant '{rec['malignant']}' is not TRUE/FALSE; "
                          "row skipped")
                continue
            sid = Path(file).stem
            if seen.repeated(sid, row, where, skips):
                continue
            out.append(Sample(
                id=sid, image=root / self.folder / file, dataset=self.name,
                modality=self.modality, label="Malignant" if mal else "Non-Malignant",
                meta={"source_file": str(path), "row": row, **self._meta(rec)}))
        return out

"""Fitzpatrick17k (clinical, 3 classes): the publisher's CSV + the paper's test split.

Layout::

    Fitzpatrick/fitzpatrick17k.csv        md5hash,fitzpatrick_scale,...,three_partition_label,...
    Fitzpatrick/<md5hash>.jpg             images as saved by the publisher's download script

Train/val: the CSV's rows minus the paper's 3,193 test images, seeded 3:1 by label.
"""

from __future__ import annotations

from pathlib import Path

from harness.datasets.base import Adapter
from harness.datasets.common import FirstRows, Skips, clean, name_problem, number, read_csv, row_ref
from harness.types import Sample

CSV = "fitzpatrick17k.csv"


def _skin_type(value: object) -> int | None:
    n = number(value)
    return int(n) if n is not None and 1 <= n <= 6 else None  # -1 means "not labelled"


class Fitzpatrick17k(Adapter):
    name = "fitzpatrick17k"
    folder = "Fitzpatrick"
    modality = "clinical"
    # Vocabulary and order: the `categories` of the paper's Fitzpatrick_test.csv (sorted);
    # they are the publisher's `three_partition_label` values.
    classes = ("benign", "malignant", "non-neoplastic")
    classes_source = "categories of the paper's Fitzpatrick_test.csv (ZwQ803/MM-Skin@31d105c)"
    splits = ("train", "val", "test")
    aliases = ("fitzpatrick", "fitz17k")
    description = "Fitzpatrick17k clinical, 3 classes; test = paper split, train/val seeded 3:1"
    split_file = "Fitzpatrick_test.csv"
    publisher_files = (CSV,)

    def _rows(self, root: Path) -> tuple[Path, list[dict]]:
        path = root / self.folder / CSV
        df = read_csv(path, ("md5hash", "fitzpatrick_scale", "three_partition_label"),
                      "Fitzpatrick17k CSV")
        return path, df.to_dict("records")

    def enrich(self, root: Path, samples: list[Sample]) -> None:
        if not (root / self.folder / CSV).is_file():
            return
        _, rows = self._rows(root)
        by_id = {str(r["md5hash"]).strip(): r for r in rows}
        for s in samples:
            r = by_id.get(s.id)
            if r is not None:
                s.meta.update({"fitzpatrick": _skin_type(r["fitzpatrick_scale"]),
                               "diagnosis": clean(r.get("label"))})

    def pool(self, root: Path, skips: Skips) -> list[Sample]:
        path, rows = self._rows(root)
        out, seen = [], FirstRows()
        for i, rec in enumerate(rows):
            row = i + 2
            where = row_ref(path, row)
            md5, label = clean(rec["md5hash"]), clean(rec["three_partition_label"])
            if (problem := name_problem(md5, "md5hash", where)) is not None:
                skips.add(problem)
                continue
            if label not in self.classes:
                skips.add(f"{where}: three_partition_label '{label}' is not one of "
                          f"{', '.join(self.classes)}; row skipped")
                continue
            if seen.repeated(md5, row, where, skips):
                continue
            out.append(Sample(
                id=md5, image=root / self.folder / f"{md5}.jpg", dataset=self.name,
                modality=self.modality, label=label,
                meta={"source_file": str(path), "row": row,
                      "fitzpatrick": _skin_type(rec["fitzpatrick_scale"]),
                      "diagnosis": clean(rec.get("label"))}))
        return out

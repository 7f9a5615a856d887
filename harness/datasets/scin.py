"""SCIN (clinical, crowd-sourced; training only in the paper, Table 6: 10,407 images).

Layout (the public bucket dx-scin-public-data, copied as is)::

    SCIN/dataset/scin_cases.csv     case_id,...,image_1_path,image_2_path,image_3_path,
                                    sex_at_birth,age_group,fitzpatrick_skin_type,...
    SCIN/dataset/scin_labels.csv    case_id,...,weighted_skin_condition_label,...
    SCIN/dataset/images/*.png       image_N_path is relative to SCIN/

One sample per image; its label is the condition with the highest weight in
the dermatologists' weighted differential. SCIN's vocabulary is open (hundreds
of conditions) and the paper names none, so ``classes`` is empty and the
adapter yields a train split only. Written from the publisher's documented
column names; no real SCIN file was available to test against.
"""

from __future__ import annotations

import ast
from pathlib import Path

from harness.datasets.base import Adapter
from harness.datasets.common import FirstRows, Skips, clean, read_csv, row_ref, safe_join, sex
from harness.errors import DataError
from harness.types import Sample

CASES = "dataset/scin_cases.csv"
LABELS = "dataset/scin_labels.csv"


def top_condition(text: str | None, where: str) -> str | None:
    """The highest-weighted condition of a '{name: weight}' cell (ties: alphabetical)."""
    if not text:
        return None
    try:
        weights = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise DataError(f"{where}: weighted_skin_condition_label {text!r} is not a dict") from None
    if not isinstance(weights, dict) or not weights:
        return None
    return sorted(weights.items(), key=lambda kv: (-float(kv[1]), str(kv[0])))[0][0]


class Scin(Adapter):
    name = "scin"
    folder = "SCIN"
    modality = "clinical"
    classes = ()
    classes_source = "open vocabulary: the dermatologists' top-weighted condition per case"
    splits = ("train",)
    description = "SCIN clinical (training data in the paper); label = top weighted condition"
    group_key = "case_id"
    publisher_files = (CASES, LABELS)

    def from_pool(self, root: Path, split: str, skips: Skips) -> list[Sample]:
        out = self.pool(root, skips)
        for s in out:
            s.split, s.meta["split_method"] = "train", "all (training-only dataset)"
        return out

    def pool(self, root: Path, skips: Skips) -> list[Sample]:
        cases_path, labels_path = root / self.folder / CASES, root / self.folder / LABELS
        cases = read_csv(cases_path, ("case_id", "image_1_path"), "SCIN cases")
        labels = read_csv(labels_path, ("case_id", "weighted_skin_condition_label"),
                          "SCIN labels")
        by_case = {str(r["case_id"]).strip(): (i + 2, r)
                   for i, r in enumerate(labels.to_dict("records"))}
        out, seen = [], FirstRows("image id")
        for i, rec in enumerate(cases.to_dict("records")):
            row = i + 2
            where = row_ref(cases_path, row)
            case = str(rec["case_id"]).strip()
            if case not in by_case:
                skips.add(f"{where}: case {case} has no row in {labels_path}; case skipped")
                continue
            lrow, lrec = by_case[case]
            try:
                label = top_condition(clean(lrec["weighted_skin_condition_label"]),
                                      row_ref(labels_path, lrow))
            except DataError as exc:
                skips.add(f"{exc}; case skipped")
                continue
            if label is None:
                skips.add(f"{row_ref(labels_path, lrow)}: case {case} has no dermatologist "
                          "label; case skipped")
                continue
            for k in (1, 2, 3):
                rel = clean(rec.get(f"image_{k}_path"))
                if rel is None:
                    continue
                try:
                    image = safe_join(root / self.folder, rel, where)
                except DataError as exc:
                    skips.add(f"{exc}; image skipped")
                    continue
                sid = Path(rel).stem
                if seen.repeated(sid, row, where, skips):
                    continue
                out.append(Sample(
                    id=sid, image=image, dataset=self.name, modality=self.modality, label=label,
                    meta={"source_file": str(cases_path), "row": row, "case_id": case,
                          "sex": sex(rec.get("sex_at_birth")),
                          "age": clean(rec.get("age_group")),
                          "fitzpatrick": clean(rec.get("fitzpatrick_skin_type"))}))
        return out

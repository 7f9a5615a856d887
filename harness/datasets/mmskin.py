"""MM-Skin: question/answer pairs (MM-Skin-O) and captions (MM-Skin-C), per imaging modality.

Two layouts are read, both under ``<data_root>/MM-Skin/`` with image paths relative to it:

* ours (written by ``dataset_builder``)::

      MM-Skin/images/<file>
      MM-Skin/Dataframe/{train,test}/vqa/MM-Skin_{split}.csv      image,question,answer,modality
      MM-Skin/Dataframe/{train,test}/caption/MM-Skin_{split}.csv  image,caption,modality,age,sex
      MM-Skin/metadata.csv               image,modality,age,sex,caption,source_pdf,page,...

* the paper's authors' (ZwQ803/MM-Skin): ``Dataframe/test/vqa/MM-Skin_test.csv`` with
  ``image,question,answer`` and images under ``MM-Skin/dataset/``; the same test file is
  also found at ``<data_root>/mmskin-splits/vqa/MM-Skin_test.csv`` (``fetch-splits``).
  It has no modality column: modality comes from ``MM-Skin/modality.csv``
  (``image,modality``) or ``MM-Skin/metadata.csv`` when present, else stays None and
  ``Loaded.notes`` says so (per-modality scores then cannot be computed).

The authors' test file holds 3 exact duplicate rows; they are kept (the paper
scores all 5,452 rows) and named in ``Loaded.notes``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path, PurePosixPath
from typing import Any

from harness.datasets import splitfiles
from harness.datasets.common import (
    Loaded,
    Skips,
    clean,
    number,
    read_csv,
    row_ref,
    safe_join,
    sex,
)
from harness.errors import DataError
from harness.types import Sample

FOLDER = "MM-Skin"
PINNED_TEST = "vqa/MM-Skin_test.csv"  # under mmskin-splits/, as splitfiles.FILES names it
MODALITIES = ("clinical", "dermoscopy", "pathology")
# Spellings met in modality columns -> the harness's three names.
MODALITY_SPELLINGS = {
    "clinical": "clinical", "clinic": "clinical", "clinical photograph": "clinical",
    "dermoscopy": "dermoscopy", "dermoscopic": "dermoscopy", "dermatoscopy": "dermoscopy",
    "pathology": "pathology", "pathological": "pathology", "histopathology": "pathology",
    "histology": "pathology",
}
CAPTION_QUESTION = "Describe the image."


def modality_name(value: Any) -> str | None:
    text = clean(value)
    return None if text is None else MODALITY_SPELLINGS.get(text.lower())


class MmSkin:
    """Reads MM-Skin QA pairs (``caption=False``) or captions (``caption=True``)."""

    def __init__(self, splits_dir: Path | None = None, caption: bool = False) -> None:
        self.splits_dir = Path(splits_dir) if splits_dir is not None else None
        self.caption = caption
        self.name = "mm-skin-caption" if caption else "mm-skin"
        self.kind = "caption" if caption else "vqa"

    # ---- files -----------------------------------------------------------------------------

    def csv_path(self, root: Path, split: str) -> Path:
        ours = root / FOLDER / "Dataframe" / split / self.kind / f"MM-Skin_{split}.csv"
        if ours.is_file() or self.caption or split != "test":
            return ours
        fetched = self.fetched_path(root)
        return fetched if fetched is not None and fetched.is_file() else ours

    def fetched_path(self, root: Path) -> Path | None:
        """The paper's test file as `harness data fetch-splits` placed it (pinned)."""
        folder = splitfiles.splits_dir(root, self.splits_dir)
        return folder / PINNED_TEST if folder else None

    def required_files(self, root: Path) -> list[tuple[Path, str]]:
        return [(self.csv_path(root, s), f"MM-Skin {self.kind} {s} split")
                for s in ("train", "test")]

    def image_info(self, root: Path) -> tuple[dict[str, dict[str, Any]], str | None]:
        """image path (and bare file name) -> modality/age/sex/caption, and which file said so."""
        info: dict[str, dict[str, Any]] = {}
        source = None
        for name in ("modality.csv", "metadata.csv"):
            path = root / FOLDER / name
            if not path.is_file():
                continue
            df = read_csv(path, ("image", "modality"), f"MM-Skin {name}")
            source = str(path)
            names = Counter(PurePosixPath(str(i)).name for i in df["image"])
            for i, rec in enumerate(df.to_dict("records")):
                entry = {"modality": modality_name(rec["modality"]),
                         "age": number(rec.get("age")), "sex": sex(rec.get("sex")),
                         "caption": clean(rec.get("caption")), "info_row": i + 2}
                key = str(rec["image"]).strip()
                info[key] = entry
                base = PurePosixPath(key).name
                if names[base] == 1:  # the authors' paths differ in folder, not in file name
                    info.setdefault(base, entry)
            break
        return info, source

    # ---- the DatasetSpec.load contract -------------------------------------------------------

    def load(self, data_root: Path | None, split: str) -> Loaded:
        if data_root is None:
            raise DataError(f"dataset '{self.name}' is read from disk and needs a data root")
        if split not in ("train", "test"):
            raise DataError(f"dataset '{self.name}' has no '{split}' split (it has train, test)")
        root = Path(data_root)
        path = self.csv_path(root, split)
        skips = Skips()
        if path == self.fetched_path(root):  # the paper's file: it must be the pinned one
            note = splitfiles.check_pinned(path, PINNED_TEST)
            if note is not None:
                skips.note(note)
        text_cols = ("caption",) if self.caption else ("question", "answer")
        df = read_csv(path, ("image", *text_cols), f"MM-Skin {self.kind} {split} file")
        has_modality = "modality" in df.columns
        info, info_source = self.image_info(root)
        out: list[Sample] = []
        per_image: Counter[str] = Counter()
        seen_rows: dict[tuple, int] = {}
        no_modality = 0
        base = root / FOLDER
        for i, rec in enumerate(df.to_dict("records")):
            row = i + 2
            where = row_ref(path, row)
            rel = str(rec["image"]).strip()
            try:
                image = safe_join(base, rel, where)
            except DataError as exc:
                skips.add(f"{exc}; row skipped")
                continue
            texts = [clean(rec[c]) for c in text_cols]
            if any(t is None for t in texts):
                empty = [c for c, t in zip(text_cols, texts, strict=True) if t is None]
                skips.add(f"{where}: empty {', '.join(empty)}; row skipped")
                continue
            extra = info.get(rel) or info.get(PurePosixPath(rel).name) or {}
            modality = modality_name(rec["modality"]) if has_modality else extra.get("modality")
            if has_modality and clean(rec["modality"]) is not None and modality is None:
                skips.add(f"{where}: modality '{rec['modality']}' is not one of "
                          f"{', '.join(MODALITIES)}; row skipped")
                continue
            if modality is None:
                no_modality += 1
            key = (rel, *texts)
            if key in seen_rows:
                skips.note(f"{where}: same image and text as row {seen_rows[key]} "
                             "(kept, as the paper scores every row)")
            seen_rows.setdefault(key, row)
            per_image[rel] += 1
            meta = {"source_file": str(path), "row": row,
                    "age": number(rec["age"]) if "age" in rec else extra.get("age"),
                    "sex": sex(rec["sex"]) if "sex" in rec else extra.get("sex"),
                    "caption": texts[0] if self.caption else extra.get("caption")}
            if self.caption:
                sample = Sample(id=rel, image=image, dataset=self.name, split=split,
                                modality=modality, question=CAPTION_QUESTION, answer=texts[0],
                                meta=meta)
                if per_image[rel] > 1:
                    skips.add(f"{where}: duplicate id '{rel}' (a second caption for the image); "
                              "row skipped")
                    continue
            else:
                sample = Sample(id=f"{rel}#{per_image[rel]}", image=image, dataset=self.name,
                                split=split, modality=modality, question=texts[0],
                                answer=texts[1], meta=meta)
            out.append(sample)
        if no_modality:
            skips.note(f"{path}: {no_modality} of {len(out) + len(skips.messages)} rows have "
                         "no modality" + ("" if has_modality else
                                          f" (no modality column; mapping read: {info_source})"))
        return skips.finish(out, f"{self.name}/{split}")

    def expected(self, root: Path | None, split: str) -> None:
        return None

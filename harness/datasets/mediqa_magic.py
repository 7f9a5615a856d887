"""MEDIQA-MAGIC 2025 (ImageCLEF) closed questions over the DermaVQA iiyi encounters.

Read in place, in the organisers' release layout:

    <data_root>/mediqa-magic-2025/closedquestions_definitions_imageclef2025.json
    <data_root>/mediqa-magic-2025/{train,valid}_cvqa.json     answers as option indices
    <data_root>/mediqa-magic-2025/{train,valid,test}.json     the queries (OSF jgbtm/krj8g/y82bn)
    <data_root>/mediqa-magic-2025/images_{train,valid,test}/IMG_{ENCOUNTER_ID}_{N}.*  (OSF p8bfu)

Where the MAGIC query file or image folder is absent, DermaVQA's iiyi files for the same
split (``dermavqa/iiyi/{train,valid_ht,test_ht}.json``, ``images_{split}/``) are read, and
the data notes say so (the 2025 valid/test query files carry translation corrections).

One Sample per (encounter, question id): ``meta["qid"]`` (``CQID011-002``), its parent
(``CQID011``), the options in order, the gold option index ``meta["gold"]``; ``label`` is
the gold option's text.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.datasets import pins
from harness.datasets.common import Loaded, Skips
from harness.datasets.dermavqa import IIYI_FILES, image_file, images_note, read_json_list
from harness.errors import DataError
from harness.types import Sample

FOLDER = "mediqa-magic-2025"
DEFINITIONS = "closedquestions_definitions_imageclef2025.json"
SPLITS = ("train", "valid")  # the test answers are not released


def read_definitions(path: Path) -> list[dict[str, Any]]:
    defs = read_json_list(path, "MEDIQA-MAGIC question definitions")
    for i, d in enumerate(defs):
        if not {"qid", "question_en", "options_en", "question_type_en"} <= set(d):
            raise DataError(f"{path}, question {i + 1}: expected qid, question_en, options_en "
                            "and question_type_en")
    return defs


class MediqaMagic:
    name = "mediqa-magic-2025"
    aliases = ("dermavqa-das", "mediqa-magic")
    splits = SPLITS

    def __init__(self, splits_dir: Path | None = None) -> None:
        self.splits_dir = splits_dir

    def required_files(self, root: Path) -> list[tuple[Path, str]]:
        folder = root / FOLDER
        return [(folder / DEFINITIONS, "the 27 closed questions"),
                *[(folder / f"{s}_cvqa.json", f"{s} answers") for s in SPLITS],
                *[(self.query_file(root, s), f"{s} queries") for s in SPLITS]]

    def expected(self, root: Path | None, split: str) -> None:
        return None

    def query_file(self, root: Path, split: str) -> Path:
        own = root / FOLDER / f"{split}.json"
        if own.is_file():
            return own
        fallback = root / "dermavqa" / "iiyi" / IIYI_FILES[split]
        return fallback if fallback.is_file() else own

    def image_folder(self, root: Path, split: str) -> Path:
        own = root / FOLDER / f"images_{split}"
        fallback = root / "dermavqa" / "iiyi" / f"images_{split}"
        return own if own.is_dir() or not fallback.is_dir() else fallback

    def definitions(self, root: Path, skips: Skips | None = None) -> list[dict[str, Any]]:
        rel = f"{FOLDER}/{DEFINITIONS}"
        note = pins.check(root, rel) if (root / rel).is_file() else None
        if note and skips is not None:
            skips.note(note)
        return read_definitions(root / rel)

    def load(self, data_root: Path | None, split: str) -> Loaded:
        if data_root is None:
            raise DataError(f"dataset '{self.name}' is read from disk and needs a data root")
        if split not in SPLITS:
            raise DataError(f"dataset '{self.name}' has no '{split}' split (it has "
                            f"{', '.join(SPLITS)}; the test answers are not released)")
        root = Path(data_root)
        skips = Skips()
        defs = self.definitions(root, skips)
        rel = f"{FOLDER}/{split}_cvqa.json"
        answers = read_json_list(root / rel, f"MEDIQA-MAGIC {split} answers")
        note = pins.check(root, rel)
        if note:
            skips.note(note)
        qpath = self.query_file(root, split)
        queries: dict[str, dict[str, Any]] = {}
        if qpath.is_file():
            queries = {str(r.get("encounter_id")): r for r in read_json_list(qpath, "queries")}
            if qpath.parent.name != FOLDER:
                skips.note(f"queries read from DermaVQA's {qpath} (no {FOLDER}/{split}.json): "
                           "the 2025 files correct some translations")
        else:
            skips.note(f"{qpath} is missing: the samples carry no clinical text and their images "
                       f"are found by name in images_{split}/ (a closedqa task refuses them)")
        images_dir = self.image_folder(root, split)
        out: list[Sample] = []
        per_encounter: list[Sample] = []
        for i, rec in enumerate(answers):
            enc = str(rec.get("encounter_id") or "").strip()
            where = f"{root / rel}, entry {i + 1}"
            if not enc:
                skips.add(f"{where}: no encounter_id; skipped")
                continue
            query = queries.get(enc)
            if query is not None:
                image_ids = [str(x) for x in query.get("image_ids") or []]
            else:
                image_ids = sorted(p.name for p in images_dir.glob(f"IMG_{enc}_*"))
            if not image_ids:
                skips.add(f"{where}: encounter {enc} has no images listed or found; skipped")
                continue
            images = [str(image_file(images_dir, x)) for x in image_ids]
            text = None if query is None else {
                "title": str(query.get("query_title_en") or ""),
                "content": str(query.get("query_content_en") or "")}
            per_encounter.append(Sample(id=enc, image=Path(images[0]), meta={"images": images}))
            for d in defs:
                qid = d["qid"]
                if qid not in rec:
                    skips.add(f"{where}: encounter {enc} has no answer to {qid}; question skipped")
                    continue
                options = [str(o) for o in d["options_en"]]
                gold = rec[qid]
                if not isinstance(gold, int) or not 0 <= gold < len(options):
                    skips.add(f"{where}: {qid} answer {gold!r} is not an option index of "
                              f"{len(options)} options; question skipped")
                    continue
                out.append(Sample(
                    id=f"{enc}/{qid}", image=Path(images[0]), dataset=self.name, split=split,
                    question=str(d["question_en"]), label=options[gold],
                    meta={"encounter_id": enc, "qid": qid, "qid_parent": qid.split("-")[0],
                          "question_type": d["question_type_en"], "options": options,
                          "gold": gold, "images": images, "query": text,
                          "source_file": str(root / rel)},
                ))
        skips.note(images_note(per_encounter, f"{self.name}/{split}"))
        return skips.finish(out, f"{self.name}/{split}")


def option_maps_text(path: Path) -> dict[str, dict[str, int]]:
    """``option_maps.json``: parent qid -> option text -> index (checked by the tests)."""
    return json.loads(path.read_text(encoding="utf-8"))

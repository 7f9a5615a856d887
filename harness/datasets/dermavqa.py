"""DermaVQA (MEDIQA-M3G 2024): consumer dermatology queries, their images, several answers.

Read in place, in the publisher's layout (wyim/DermaVQA ``data/``, images as released):

    <data_root>/dermavqa/iiyi/{train.json, valid_ht.json, test_ht.json,
                               test_ht_spanishtestsetcorrected.json, df_userinfo.csv}
    <data_root>/dermavqa/iiyi/images_{train,valid,test}/IMG_{ENCOUNTER_ID}_{N}.*   (OSF 72rp3)
    <data_root>/dermavqa/reddit/{split}_answersonly.json
    <data_root>/dermavqa/reddit/{split}_downloaded.json   the Reddit API pull (queries)
    <data_root>/dermavqa/reddit/images_{split}/{image_id}.*

One Sample per encounter: ``image`` is its first image, ``meta["images"]`` all of them,
``meta["query"]`` the title and content per language, ``meta["responses"]`` every reference
with its author's ``validation_level`` and ``rank_level`` from ``df_userinfo.csv`` (the
organisers' deltaBLEU weights are computed from these in ``harness.metrics.deltableu``).
``test`` is the challenge's ``test_ht.json``; ``test-corrected`` the corrected Spanish file.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from harness.datasets import pins
from harness.datasets.common import Loaded, Skips, safe_join
from harness.errors import DataError
from harness.types import Sample

FOLDER = "dermavqa"
IIYI_LANGS = ("zh", "en", "es")
IIYI_FILES = {"train": "train.json", "valid": "valid_ht.json", "test": "test_ht.json",
              "test-corrected": "test_ht_spanishtestsetcorrected.json"}
REDDIT_SPLITS = ("train", "valid", "test")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp")


def read_json_list(path: Path, what: str) -> list[dict[str, Any]]:
    if not path.is_file():
        raise DataError(f"{what} {path} is missing")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{what} {path} cannot be read as JSON: {exc}") from None
    if not isinstance(data, list):
        raise DataError(f"{what} {path} is not a JSON list of encounters")
    return data


def read_userinfo(path: Path) -> dict[str, dict[str, str]]:
    """author_id -> {validation_level, rank_level} (df_userinfo.csv)."""
    if not path.is_file():
        raise DataError(f"DermaVQA author table {path} is missing (it gives deltaBLEU's "
                        "reference weights)")
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    if rows and not {"author_id", "validation_level", "rank_level"} <= set(rows[0]):
        raise DataError(f"{path}: expected columns author_id, validation_level, rank_level")
    return {r["author_id"]: {"validation_level": r["validation_level"],
                             "rank_level": r["rank_level"]} for r in rows}


def image_file(folder: Path, name: str) -> Path:
    """``folder/name``; a name without a suffix (Reddit's post ids) is looked up by stem."""
    path = folder / name
    if path.suffix.lower() in IMAGE_SUFFIXES or path.is_file():
        return path
    for suffix in IMAGE_SUFFIXES:
        if (folder / f"{name}{suffix}").is_file():
            return folder / f"{name}{suffix}"
    return folder / f"{name}.jpg"


def images_note(samples: list[Sample], what: str) -> str:
    complete = sum(1 for s in samples if all(Path(p).is_file() for p in s.meta["images"]))
    n_images = sum(len(s.meta["images"]) for s in samples)
    present = sum(1 for s in samples for p in s.meta["images"] if Path(p).is_file())
    return (f"{what}: {complete} of {len(samples)} encounters have every image "
            f"({present} of {n_images} images present)")


class DermaVqa:
    """One DermaVQA subset: ``iiyi`` (zh/en/es) or ``reddit`` (en, queries from the pull)."""

    def __init__(self, subset: str, splits_dir: Path | None = None) -> None:
        self.subset = subset
        self.name = f"dermavqa-{subset}"
        self.aliases = (f"mediqa-m3g-{subset}",)
        self.splits = tuple(IIYI_FILES) if subset == "iiyi" else REDDIT_SPLITS
        self.langs = IIYI_LANGS if subset == "iiyi" else ("en",)
        self.splits_dir = splits_dir  # unused: the adapter list passes it to every adapter

    def folder(self, root: Path) -> Path:
        return root / FOLDER / self.subset

    def answers_rel(self, split: str) -> str:
        name = IIYI_FILES[split] if self.subset == "iiyi" else f"{split}_answersonly.json"
        return f"{FOLDER}/{self.subset}/{name}"

    def image_folder(self, root: Path, split: str) -> Path:
        return self.folder(root) / f"images_{split.split('-')[0]}"

    def required_files(self, root: Path) -> list[tuple[Path, str]]:
        out = [(root / self.answers_rel(s), f"DermaVQA {self.subset} {s} encounters")
               for s in self.splits if s != "train"]
        if self.subset == "iiyi":
            out.append((self.folder(root) / "df_userinfo.csv", "author profiles (weights)"))
        else:
            out += [(self.folder(root) / f"{s}_downloaded.json", f"Reddit API pull ({s} queries)")
                    for s in ("valid", "test")]
        return out

    def expected(self, root: Path | None, split: str) -> None:
        return None

    def load(self, data_root: Path | None, split: str) -> Loaded:
        if data_root is None:
            raise DataError(f"dataset '{self.name}' is read from disk and needs a data root")
        if split not in self.splits:
            raise DataError(f"dataset '{self.name}' has no '{split}' split "
                            f"(it has {', '.join(self.splits)})")
        root = Path(data_root)
        rel = self.answers_rel(split)
        path = root / rel
        records = read_json_list(path, f"DermaVQA {self.subset} {split} file")
        skips = Skips()
        note = pins.check(root, rel)
        if note:
            skips.note(note)
        queries = self.queries(root, split, records, skips)
        users = read_userinfo(self.folder(root) / "df_userinfo.csv") if self.subset == "iiyi" \
            else {}
        images_dir = self.image_folder(root, split)
        out: list[Sample] = []
        seen: set[str] = set()
        for i, rec in enumerate(records):
            where = f"{path}, encounter {i + 1}"
            sample = self.sample(rec, where, split, images_dir, queries, users, skips)
            if sample is None:
                continue
            if sample.id in seen:
                skips.add(f"{where}: encounter '{sample.id}' repeated; skipped")
                continue
            seen.add(sample.id)
            out.append(sample)
        skips.note(images_note(out, f"{self.name}/{split}"))
        return skips.finish(out, f"{self.name}/{split}")

    def queries(self, root: Path, split: str, records: list[dict[str, Any]],
                skips: Skips) -> dict[str, dict[str, Any]]:
        """Encounter id -> the record holding its query. Reddit's come from the user's pull."""
        if self.subset == "iiyi":
            return {str(r.get("encounter_id")): r for r in records}
        pulled = self.folder(root) / f"{split}_downloaded.json"
        if not pulled.is_file():
            raise DataError(f"{pulled} is missing: the Reddit queries and images come from the "
                            "Reddit API pull (wyim/MEDIQA-MAGIC-2024 download_data.py, output "
                            f"file {pulled.name}, images into images_{split}/)")
        return {str(r.get("encounter_id")): r
                for r in read_json_list(pulled, "Reddit API pull")}

    def sample(self, rec: dict[str, Any], where: str, split: str, images_dir: Path,
               queries: dict[str, dict[str, Any]], users: dict[str, dict[str, str]],
               skips: Skips) -> Sample | None:
        enc = str(rec.get("encounter_id") or "").strip()
        if not enc:
            skips.add(f"{where}: no encounter_id; skipped")
            return None
        image_ids = rec.get("image_ids") or []
        if not isinstance(image_ids, list) or not image_ids:
            skips.add(f"{where}: encounter {enc} lists no image_ids; skipped")
            return None
        query_rec = queries.get(enc)
        if query_rec is None:
            skips.add(f"{where}: encounter {enc} has no query in the Reddit API pull (deleted "
                      "or not fetched); skipped")
            return None
        query = {lang: {"title": str(query_rec.get(f"query_title_{lang}") or ""),
                        "content": str(query_rec.get(f"query_content_{lang}") or "")}
                 for lang in self.langs}
        responses = []
        for j, resp in enumerate(rec.get("responses") or []):
            author = str(resp.get("author_id", ""))
            if self.subset == "iiyi" and author not in users:
                skips.add(f"{where}: response {j + 1} author '{author}' is not in "
                          "df_userinfo.csv; encounter skipped")
                return None
            responses.append({
                "author_id": author,
                "content": {lang: str(resp.get(f"content_{lang}") or "") for lang in self.langs},
                "completeness": resp.get("completeness"),
                "contains_freq_ans": resp.get("contains_freq_ans"),
                **users.get(author, {}),
            })
        if not responses:
            skips.add(f"{where}: encounter {enc} has no responses; skipped")
            return None
        try:
            for x in image_ids:
                safe_join(images_dir, str(x), where)  # refuses absolute or escaping names
            images = [image_file(images_dir, str(x)) for x in image_ids]
        except DataError as exc:
            skips.add(f"{exc}; encounter skipped")
            return None
        return Sample(
            id=enc, image=images[0], dataset=self.name, split=split,
            question=query["en"]["title"],
            answer=responses[0]["content"]["en"],
            meta={"source_file": where.split(", encounter")[0], "images": [str(p) for p in images],
                  "query": query, "responses": responses, "subset": self.subset,
                  "author_id": rec.get("author_id")},
        )

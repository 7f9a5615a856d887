"""The classification adapter all public datasets share.

A dataset's test split is the paper's split file when it publishes one. Its
train/val splits come from the publisher's own files: the official partition
where there is one, else a seeded, stratified (and lesion- or patient-grouped)
split of what is left once the test images are taken out. Every sample records
how its split was made in ``meta["split_method"]``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from harness.datasets import splitfiles
from harness.datasets.common import (
    SPLIT_SEED,
    FirstRows,
    Loaded,
    Skips,
    ids_digest,
    parse_label_list,
    read_csv,
    row_ref,
    safe_join,
    split_method,
)
from harness.errors import DataError
from harness.types import Sample

# Share of the non-test images that goes to train (the rest to val): 6:2 of the
# paper's 6:2:2 probing split.
TRAIN_VAL = {"train": 3.0, "val": 1.0}
TRAIN_VAL_TEST = {"train": 6.0, "val": 2.0, "test": 2.0}


@dataclass
class Expected:
    """What a split should hold, for `harness data check`."""

    rows: int
    classes: Counter[str] = field(default_factory=Counter)
    source: str = ""


class Adapter:
    """One classification dataset. Subclasses set the class attributes and ``pool``."""

    name = ""
    folder = ""  # the dataset's folder under the data root
    modality = ""
    classes: tuple[str, ...] = ()
    classes_source = ""  # where the vocabulary and its order come from
    splits: tuple[str, ...] = ("test",)
    aliases: tuple[str, ...] = ()
    description = ""
    split_file: str | None = None  # under mmskin-splits/classification/
    group_key: str | None = None  # meta field that ties images of one lesion/patient
    publisher_files: tuple[str, ...] = ()  # under <folder>/, needed for train/val
    extra: dict[str, Any] = {}

    def __init__(self, splits_dir: Path | None = None, seed: int = SPLIT_SEED) -> None:
        self.splits_dir = Path(splits_dir) if splits_dir is not None else None
        self.seed = seed

    # ---- the DatasetSpec.load contract -------------------------------------------------------

    def load(self, data_root: Path | None, split: str) -> Loaded:
        if data_root is None:
            raise DataError(f"dataset '{self.name}' is read from disk and needs a data root")
        root = Path(data_root)
        if split not in self.splits:
            raise DataError(f"dataset '{self.name}' has no '{split}' split "
                            f"(it has {', '.join(self.splits)})")
        skips = Skips()
        if split == "test" and self.split_file:
            samples = self.test_from_file(root, skips)
        else:
            samples = self.from_pool(root, split, skips)
        return skips.finish(samples, f"{self.name}/{split}")

    # ---- the paper's test split ---------------------------------------------------------------

    def split_path(self, root: Path | None, rel: str | None = None,
                   notes: list[str] | None = None) -> Path:
        rel = rel or f"classification/{self.split_file}"
        return splitfiles.require(splitfiles.splits_dir(root, self.splits_dir), rel, self.name,
                                  notes)

    def id_of(self, rel_image: str) -> str:
        """A sample id from an image path; the same rule for split-file rows and pool rows."""
        return PurePosixPath(rel_image).stem

    def read_split_rows(
        self, root: Path, rel: str | None, split: str, skips: Skips
    ) -> list[Sample]:
        """Rows of a paper split file (``image``, ``categories``) as Samples, bad rows skipped."""
        path = self.split_path(root, rel, skips.notes)
        df = read_csv(path, ("image", "categories"), "split file")
        out: list[Sample] = []
        seen = FirstRows()
        method = split_method("paper-split-file", file=path.name)
        for i, (image, cats) in enumerate(zip(df["image"], df["categories"], strict=True)):
            row = i + 2
            where = row_ref(path, row)
            try:
                abs_image = safe_join(root, image, where)
                labels = parse_label_list(cats, where)
            except DataError as exc:
                skips.add(str(exc))
                continue
            if len(labels) != 1:
                skips.add(f"{where}: expected one label, found {len(labels)} ({cats}); "
                          "row skipped")
                continue
            label = labels[0]
            if label not in self.classes:
                skips.add(f"{where}: label '{label}' is not one of {self.name}'s "
                          f"{len(self.classes)} classes; row skipped")
                continue
            sid = self.id_of(image)
            if seen.repeated(sid, row, where, skips):
                continue
            out.append(Sample(
                id=sid, image=abs_image, dataset=self.name, split=split,
                modality=self.modality, label=label,
                meta={"source_file": str(path), "row": row, "split_method": method},
            ))
        self.enrich(root, out)
        return out

    def test_from_file(self, root: Path, skips: Skips) -> list[Sample]:
        return self.read_split_rows(root, None, "test", skips)

    def enrich(self, root: Path, samples: list[Sample]) -> None:
        """Add the publisher's metadata (age, sex, skin type...) to split-file samples."""

    def expected(self, root: Path | None, split: str) -> Expected | None:
        """Row and class counts a split must have, where a published file fixes them."""
        if split != "test" or not self.split_file:
            return None
        return self.expected_from_file(root, None)

    def expected_from_file(self, root: Path | None, rel: str | None) -> Expected:
        path = self.split_path(root, rel)
        df = read_csv(path, ("image", "categories"), "split file")
        counts: Counter[str] = Counter()
        for i, cats in enumerate(df["categories"]):
            labels = parse_label_list(cats, row_ref(path, i + 2))
            counts.update(labels if len(labels) == 1 else ["(no single label)"])
        return Expected(rows=len(df), classes=counts, source=str(path))

    # ---- train/val from the publisher's files ------------------------------------------------

    def pool(self, root: Path, skips: Skips) -> list[Sample]:
        """Every labelled image the publisher's files list (split unset)."""
        raise DataError(f"dataset '{self.name}' has only the paper's test split")

    def official_split(self, root: Path, sample: Sample) -> str | None:
        """The publisher's split for a pool sample, if it has one."""
        return None

    def test_ids(self, root: Path) -> set[str]:
        if not self.split_file:
            return set()
        return {s.id for s in self.read_split_rows(root, None, "test", Skips())}

    def from_pool(self, root: Path, split: str, skips: Skips) -> list[Sample]:
        samples = self.pool(root, skips)
        held_out = self.test_ids(root)
        rest = [s for s in samples if s.id not in held_out]
        assigned = self.assign(root, rest)
        out = []
        for s in rest:
            name, method = assigned[s.id]
            if name == split:
                s.split = split
                s.meta["split_method"] = method
                out.append(s)
        return out

    def assign(self, root: Path, samples: list[Sample]) -> dict[str, tuple[str, str]]:
        """id -> (split, how). Official partitions first, a seeded split for the rest."""
        out: dict[str, tuple[str, str]] = {}
        unassigned = []
        for s in samples:
            official = self.official_split(root, s)
            if official is not None:
                out[s.id] = (official, "official")
            else:
                unassigned.append(s)
        fractions = TRAIN_VAL if self.split_file else TRAIN_VAL_TEST
        method = split_method(
            "seeded-stratified", seed=self.seed,
            ratio=":".join(str(int(v)) for v in fractions.values()),
            group=self.group_key or "none",
        )
        items = [(s.id, s.label or "", _group(s, self.group_key)) for s in unassigned]
        for id_, name in _seeded(items, fractions, self.seed).items():
            out[id_] = (name, method)
        return out

    def manifest(self, data_root: Path) -> dict[str, Any]:
        """How each split was made and a digest of its ids, for run provenance."""
        out: dict[str, Any] = {"dataset": self.name, "seed": self.seed, "splits": {}}
        for split in self.splits:
            loaded = self.load(data_root, split)
            methods = Counter(str(s.meta.get("split_method")) for s in loaded)
            out["splits"][split] = {
                "n": len(loaded), "skipped": len(loaded.skipped),
                "methods": dict(methods), "ids_sha256": ids_digest(s.id for s in loaded),
            }
        return out

    def required_files(self, root: Path) -> list[tuple[Path, str]]:
        """Files the adapter reads, with what each is for (for `harness data check`)."""
        out = []
        if self.split_file:
            folder = splitfiles.splits_dir(root, self.splits_dir)
            assert folder is not None
            out.append((folder / "classification" / self.split_file, "paper's test split"))
        for rel in self.publisher_files:
            out.append((root / self.folder / rel, "publisher's metadata (train/val)"))
        return out


def _group(sample: Sample, key: str | None) -> str | None:
    if key is None:
        return None
    value = sample.meta.get(key)
    return None if value is None else str(value)


def _seeded(items: list[tuple[str, str, str | None]], fractions: dict[str, float],
            seed: int) -> dict[str, str]:
    from harness.datasets.common import seeded_split

    return seeded_split(items, fractions, seed)

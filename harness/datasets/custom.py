"""Bring-your-own data: a CSV or JSONL file of samples, for the ``*/custom`` tasks.

One row per sample. Columns (JSONL: keys):

- ``image``: the image's path, relative to the file's folder (or absolute);
- ``question``, ``answer``: VQA (a caption task needs only ``answer``);
- ``label``: the class, for zero-shot classification and the probe;
- ``options``: closed questions' choices, a JSON list or ``|``-separated text, with the
  ``answer`` as the option's text, its letter (A, B, ...) or its 0-based index;
- ``split`` (default ``test``; the probe needs ``train`` rows), ``id`` (default: the row
  number), ``modality``; any other column is kept in the sample's ``meta``.

A file that cannot be read, or lacks a column its task needs, is a usage error naming the
file; a row with an empty required field is skipped with one sentence naming file and row,
recorded in run.json like any dataset's skipped rows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from harness.datasets.common import Loaded, row_ref
from harness.errors import UsageError
from harness.specs import DatasetSpec
from harness.types import Sample

# What each task kind needs of a row.
REQUIRED = {
    "vqa": ("image", "question", "answer"),
    "caption": ("image", "answer"),
    "zeroshot": ("image", "label"),
    "probe": ("image", "label"),
    "closedqa": ("image", "question", "options", "answer"),
}
KNOWN = ("image", "question", "answer", "label", "options", "split", "id", "modality")
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Row:
    number: int  # as a spreadsheet shows it (CSV: the header is row 1; JSONL: line number)
    values: dict[str, Any]


def read_rows(path: Path) -> list[Row]:
    """The file's rows, or a UsageError sentence naming the file (and line) that is wrong."""
    if not path.is_file():
        raise UsageError(f"-T data={path}: no such file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} is not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise UsageError(f"{path} cannot be read ({exc.strerror or exc})") from None
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        rows = []
        for i, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except ValueError as exc:
                raise UsageError(f"{path}, line {i}: not JSON ({exc.msg})") from None
            if not isinstance(value, dict):
                raise UsageError(f"{path}, line {i}: not a JSON object")
            rows.append(Row(i, value))
        return rows
    if path.suffix.lower() != ".csv":
        raise UsageError(f"-T data={path}: give a .csv or a .jsonl file")
    import csv
    import io

    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None:
        raise UsageError(f"{path} is empty: it needs a header row")
    reader.fieldnames = [f.strip() for f in reader.fieldnames]
    return [Row(i, {k: v for k, v in r.items() if k is not None})
            for i, r in enumerate(reader, start=2)]


def options_of(value: Any, where: str) -> list[str]:
    if isinstance(value, list):
        out = [str(v).strip() for v in value]
    else:
        text = str(value).strip()
        if text.startswith("["):
            try:
                parsed = json.loads(text)
            except ValueError:
                raise ValueError(f"{where}: options '{text[:60]}' is not a JSON list") from None
            out = [str(v).strip() for v in parsed]
        else:
            out = [o.strip() for o in text.split("|")]
    if len(out) < 2 or not all(out):
        raise ValueError(f"{where}: options need at least two non-empty choices")
    return out


def sample_of(row: Row, path: Path, kind: str) -> Sample:
    """One row as a Sample; ValueError naming file and row when a needed field is empty."""
    where = row_ref(path, row.number)
    values = {k: ("" if v is None else v) for k, v in row.values.items()}
    for column in REQUIRED[kind]:
        if str(values.get(column, "")).strip() == "":
            raise ValueError(f"{where}: '{column}' is empty; row skipped")
    image = Path(str(values["image"]).strip())
    image = image if image.is_absolute() else path.parent / image
    split = str(values.get("split") or "test").strip().lower()
    if split not in SPLITS:
        raise ValueError(f"{where}: split '{split}' is not one of {', '.join(SPLITS)}; "
                         "row skipped")
    meta = {k: v for k, v in values.items() if k not in KNOWN}
    meta["source"] = where
    if kind == "closedqa":
        meta["options"] = options_of(values["options"], where)
    label = str(values.get("label") or "").strip() or None
    return Sample(
        id=str(values.get("id") or "").strip() or f"row{row.number}",
        image=image, dataset="custom", split=split,
        modality=str(values.get("modality") or "").strip() or None, label=label,
        question=str(values.get("question") or "").strip() or None,
        answer=str(values.get("answer") or "").strip() or None, meta=meta)


@lru_cache(maxsize=16)
def _load(path: Path, stamp: tuple[int, int], kind: str) -> tuple[list[Sample], list[str]]:
    rows = read_rows(path)
    if not rows:
        raise UsageError(f"{path} holds no rows")
    present = set().union(*(r.values for r in rows))
    missing = [c for c in REQUIRED[kind] if c not in present]
    if missing:
        raise UsageError(f"{path}: a {kind} task needs the column(s) {', '.join(missing)} "
                         f"(found: {', '.join(sorted(present))})")
    samples, skipped, seen = [], [], set()
    for row in rows:
        try:
            sample = sample_of(row, path, kind)
        except ValueError as exc:
            skipped.append(str(exc))
            continue
        if sample.id in seen:
            skipped.append(f"{row_ref(path, row.number)}: id '{sample.id}' repeats an earlier "
                           "row; row skipped")
            continue
        seen.add(sample.id)
        samples.append(sample)
    if not samples:
        raise UsageError(f"{path}: no usable row (first problem: {skipped[0]})")
    return samples, skipped


def load(path: Path, kind: str) -> tuple[list[Sample], list[str]]:
    """Every usable sample of the file and one sentence per skipped row (read once)."""
    path = path.expanduser().resolve()
    try:
        st = path.stat()
    except OSError:
        raise UsageError(f"-T data={path}: no such file") from None
    samples, skipped = _load(path, (st.st_size, st.st_mtime_ns), kind)
    return [Sample(**{**s.__dict__, "meta": dict(s.meta)}) for s in samples], list(skipped)


def content_key(path: Path) -> str:
    """The file's name and a short hash of its bytes: names its results folder, so another
    file (or an edited one) never shares stored metrics with this one."""
    digest = hashlib.sha256(path.expanduser().read_bytes()).hexdigest()[:8]
    return f"{path.stem}-{digest}"


def dataset(path: Path, kind: str) -> DatasetSpec:
    """The file as a dataset adapter: its splits and classes are the ones its rows hold."""
    samples, _ = load(path, kind)
    splits = tuple(s for s in SPLITS if any(x.split == s for x in samples))
    classes = tuple(sorted({s.label for s in samples if s.label}))

    def read(data_root: Path | None, split: str) -> Iterable[Sample]:
        mine, skipped = load(path, kind)
        out = Loaded([s for s in mine if s.split == split],
                     skipped=skipped if split == splits[-1] else ())
        return out

    return DatasetSpec(name="custom", load=read, classes=classes, splits=splits,
                       needs_data_root=False, modality="mixed",
                       description=f"samples read from {path}")

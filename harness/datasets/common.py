"""Shared pieces of the dataset adapters: safe paths, CSV reading, skip records, seeded splits.

Every adapter reads files users downloaded themselves, so every problem with a
row becomes one sentence naming the file and the row (1-based, header = row 1),
and every row that is left out is counted in ``Loaded.skipped``.
"""

from __future__ import annotations

import ast
import hashlib
import logging
import math
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from harness.errors import DataError
from harness.types import Sample

log = logging.getLogger("harness.datasets")

# Seed of every seeded split the adapters make; changing it changes the splits,
# so it is recorded with each sample (meta["split_method"]) and in manifests.
SPLIT_SEED = 0
SPLITS = ("train", "val", "test")


class Loaded(list[Sample]):
    """The samples of one split plus one sentence per row that was left out (``skipped``)."""

    def __init__(self, samples: Iterable[Sample] = (), skipped: Sequence[str] = ()) -> None:
        super().__init__(samples)
        self.skipped: list[str] = list(skipped)
        self.notes: list[str] = []  # remarks that drop nothing (e.g. "modality unknown")

    def summary(self) -> str:
        return f"{len(self)} samples, {len(self.skipped)} rows skipped"


class Skips:
    """Collects skipped rows; logs a one-line summary so nothing is dropped silently."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.notes: list[str] = []

    def add(self, message: str) -> None:
        self.messages.append(message)

    def note(self, message: str) -> None:
        """A remark that drops nothing (an absent optional file, a kept duplicate)."""
        self.notes.append(message)

    def finish(self, samples: Iterable[Sample], what: str) -> Loaded:
        out = Loaded(samples, self.messages)
        out.notes = list(self.notes)
        if self.messages:
            log.warning("%s: %d rows skipped (first: %s)", what, len(self.messages),
                        self.messages[0])
        return out


class FirstRows:
    """The row where each id was first seen in one file, so a repeat is skipped by name."""

    def __init__(self, what: str = "id") -> None:
        self.what = what
        self.rows: dict[str, int] = {}

    def repeated(self, sid: str, row: int, where: str, skips: Skips) -> bool:
        """True (and the row recorded as skipped) when ``sid`` already had a row."""
        if sid in self.rows:
            skips.add(f"{where}: duplicate {self.what} '{sid}' (first at row {self.rows[sid]}); "
                      "row skipped")
            return True
        self.rows[sid] = row
        return False


def row_ref(path: Path, row: int) -> str:
    """'<file>, row N' where N counts the header as row 1, as a spreadsheet shows it."""
    return f"{path}, row {row}"


def safe_join(root: Path, rel: str, where: str) -> Path:
    """``root/rel`` if ``rel`` is a relative path that stays inside ``root``, else DataError.

    Checked on the path text, not on resolved links: users often link big image
    folders in from elsewhere, and that is not an escape.
    """
    text = str(rel).strip().replace("\\", "/")
    if not text:
        raise DataError(f"{where}: the image path is empty")
    p = PurePosixPath(text)
    if p.is_absolute() or (len(text) > 1 and text[1] == ":"):
        raise DataError(f"{where}: image path '{rel}' is absolute; it must be relative to "
                        f"the data root")
    norm = os.path.normpath(text)
    if norm == ".." or norm.startswith("../"):
        raise DataError(f"{where}: image path '{rel}' escapes the data root {root}")
    return Path(root) / norm


class ImageFinder:
    """Finds a file name in candidate folders (relative to root), listing each folder once.

    Publishers split images over several folders (HAM10000 part_1/part_2); one
    directory listing per folder is much faster than a stat per image and folder.
    A name found nowhere resolves into the first folder, where `data check` reports it missing.
    """

    def __init__(self, root: Path, folders: Sequence[str]) -> None:
        self.root = Path(root)
        self.folders = list(folders)
        self._listings: dict[str, set[str]] = {}

    def _listing(self, folder: str) -> set[str]:
        if folder not in self._listings:
            try:
                self._listings[folder] = set(os.listdir(self.root / folder))
            except OSError:
                self._listings[folder] = set()
        return self._listings[folder]

    def find(self, name: str) -> Path:
        for folder in self.folders:
            if name in self._listing(folder):
                return Path(os.path.join(self.root, folder, name))
        return Path(os.path.join(self.root, self.folders[0], name))


def read_csv(path: Path, required: Sequence[str], what: str = "") -> Any:
    """A CSV as strings (no type guessing), or DataError naming the file and what is missing."""
    import pandas as pd

    if not path.is_file():
        raise DataError(f"{what or 'file'} not found: {path}")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except UnicodeDecodeError as exc:
        raise DataError(f"{_undecodable(path, exc)} is not UTF-8 text") from None
    except Exception as exc:  # pandas raises many kinds; all mean "cannot parse"
        raise DataError(f"{path}: cannot be read as CSV ({type(exc).__name__}: {exc})") from None
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise DataError(f"{path}, row 1: missing column(s) {', '.join(missing)} "
                        f"(found: {', '.join(df.columns)})")
    return df


def _undecodable(path: Path, exc: UnicodeDecodeError) -> str:
    """'<file>, row N' of the first byte that is not UTF-8 (pandas' offset is per chunk)."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as whole:
        line = data[: whole.start].count(b"\n") + 1
        return f"{row_ref(path, line)}, byte {whole.start} (0x{data[whole.start]:02x})"
    return f"{path} ({exc.reason})"


def parse_label_list(text: str, where: str) -> list[str]:
    """The split files' ``categories`` cell: a Python-literal list of label strings."""
    shown = shorten(text)
    if len(text) > MAX_LABEL_CELL:  # never feed the parser megabytes (or echo them back)
        raise DataError(f"{where}: categories {shown} is {len(text)} characters long, "
                        f"more than the {MAX_LABEL_CELL} a label list may have")
    try:
        value = ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        # MemoryError/RecursionError: a cell nested too deeply for the parser
        raise DataError(f"{where}: categories {shown} is not a list literal") from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DataError(f"{where}: categories {shown} is not a list of strings")
    return value


MAX_LABEL_CELL = 10_000


def shorten(text: str, limit: int = 80) -> str:
    """``repr(text)``, cut to about ``limit`` characters so one bad cell stays one sentence."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"


def clean(value: Any) -> Any:
    """Empty cells and the usual missing-value spellings become None."""
    if value is None:
        return None
    text = str(value).strip()
    if text == "" or text.lower() in ("nan", "none", "null", "unknown"):
        return None
    return text


def number(value: Any) -> float | int | None:
    text = clean(value)
    if text is None:
        return None
    try:
        f = float(text)
    except ValueError:
        return None
    return int(f) if f.is_integer() else f


def sex(value: Any) -> str | None:
    text = clean(value)
    if text is None:
        return None
    low = text.lower()
    return {"m": "male", "f": "female"}.get(low, low)


def _rank(seed: int, key: str) -> bytes:
    return hashlib.sha256(f"{seed}:{key}".encode()).digest()


def seeded_split(
    items: Sequence[tuple[str, str, str | None]],
    fractions: dict[str, float],
    seed: int = SPLIT_SEED,
) -> dict[str, str]:
    """Assign each id to a split, stratified by label and keeping groups together.

    ``items`` are (id, label, group); a group (lesion or patient) goes wholly to
    one split under its most common label. Groups are ordered by SHA-256 of
    (seed, group) within each label, so the result depends on nothing but the
    ids, labels and seed: not on library versions or file order. Written here
    rather than with scikit-learn because no scikit-learn splitter is stratified,
    grouped and n-way at once, and its RNG streams are not stable across versions.
    """
    groups: dict[str, list[str]] = {}
    labels: dict[str, Counter[str]] = {}
    for id_, label, group in items:
        g = group if group is not None else f"id:{id_}"
        groups.setdefault(g, []).append(id_)
        labels.setdefault(g, Counter())[label] += 1
    by_label: dict[str, list[str]] = {}
    for g, counts in labels.items():
        top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
        by_label.setdefault(top, []).append(g)
    names = list(fractions)
    total = sum(fractions.values())
    out: dict[str, str] = {}
    for label in sorted(by_label):
        gs = sorted(by_label[label], key=lambda g: _rank(seed, g))
        n = len(gs)
        bounds, acc = [], 0.0
        for name in names:
            acc += fractions[name] / total
            bounds.append(round(acc * n))
        start = 0
        for name, end in zip(names, bounds, strict=True):
            for g in gs[start:end]:
                for id_ in groups[g]:
                    out[id_] = name
            start = end
    return out


def exact_holdout(
    items: Sequence[tuple[str, str, str | None]], fraction: float, seed: int = SPLIT_SEED,
) -> set[str]:
    """Ids of a held-out set of exactly ceil(fraction * n) items, stratified and grouped.

    ``items`` are (id, label, group). The size is what scikit-learn's ``train_test_split``
    holds out (ceil, e.g. 460 of 2,298); each label's share is apportioned by largest
    remainder. Groups (patients) are taken whole, in SHA-256 order of (seed, group), while
    they fit every label's remaining share; a group that would overshoot one is passed over,
    so the shares are filled exactly whenever enough small groups exist (a DataError
    otherwise). Depends on nothing but the ids, labels, groups and seed.
    """
    labels = Counter(label for _, label, _ in items)
    n = sum(labels.values())
    total = math.ceil(round(fraction * n, 9))
    exact = {label: count * total / n for label, count in labels.items()}
    quota = {label: int(v) for label, v in exact.items()}
    by_remainder = sorted(exact, key=lambda label: (-(exact[label] - quota[label]), label))
    for label in by_remainder[: total - sum(quota.values())]:
        quota[label] += 1
    members: dict[str, list[tuple[str, str]]] = {}
    for id_, label, group in items:
        members.setdefault(group if group is not None else f"id:{id_}", []).append((id_, label))
    taken: set[str] = set()
    for g in sorted(members, key=lambda g: _rank(seed, g)):
        need = Counter(label for _, label in members[g])
        if all(need[label] <= quota[label] for label in need):
            for label in need:
                quota[label] -= need[label]
            taken.update(id_ for id_, _ in members[g])
    short = {label: q for label, q in quota.items() if q}
    if short:
        raise DataError(f"cannot hold out exactly {total} of {n} items by whole groups: "
                        f"{short} still missing")
    return taken


def split_method(kind: str, **params: Any) -> str:
    """A short recorded description of how a split was made, e.g. 'seeded-stratified(...)'."""
    if not params:
        return kind
    inner = ",".join(f"{k}={v}" for k, v in params.items())
    return f"{kind}({inner})"


def ids_digest(ids: Iterable[str]) -> str:
    """SHA-256 of the sorted ids of a split: two runs used the same split iff digests match."""
    h = hashlib.sha256()
    for i in sorted(ids):
        h.update(i.encode())
        h.update(b"\n")
    return h.hexdigest()


def name_problem(value: str | None, column: str, where: str) -> str | None:
    """Why a file-name cell cannot be used (empty, or a path leaving its folder), else None."""
    if value is None:
        return f"{where}: empty {column}; row skipped"
    if "/" in value or "\\" in value or value in (".", "..") or ":" in value:
        return (f"{where}: {column} '{value}' is a path, not a file name (it could escape the "
                "data root); row skipped")
    return None

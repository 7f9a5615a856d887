"""JSONL and CSV helpers shared by the stages: append-only, torn-line tolerant, atomic rewrites."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from harness.store import atomic_write_text


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Records of a JSONL file; a torn last line (a killed writer) is skipped, not fatal."""
    if not path.exists():
        return
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


def append_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
        fh.flush()


def write_atomic(path: Path, text: str) -> None:
    """Write via a temp file and rename so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text, fsync=False)  # the umask's mode, not mkstemp's 0600


def write_jsonl_atomic(path: Path, records: Iterable[dict[str, Any]]) -> None:
    write_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


def done_ids(path: Path, key: str = "id") -> set[str]:
    """Ids already written by a stage (its resume set)."""
    return {r[key] for r in read_jsonl(path) if key in r}

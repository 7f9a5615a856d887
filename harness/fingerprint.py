"""Stable content hashes for configurations and requests."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# Bump when the meaning of a stored prediction changes (e.g. a new request schema):
# every stored answer is then re-asked instead of silently reused.
CACHE_VERSION = 1


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_default)


def _default(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, set | frozenset | tuple):
        return sorted(obj) if isinstance(obj, set | frozenset) else list(obj)
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    raise TypeError(f"cannot fingerprint {type(obj).__name__}")


def digest(obj: Any, length: int = 16) -> str:
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()[:length]


def file_stamp(path: Path) -> dict[str, Any]:
    """Cheap identity of an image file: path, size and modification time.

    Hashing every image's bytes on every run would cost minutes on large
    datasets; a changed file changes its size or mtime and is re-asked.
    """
    try:
        st = path.stat()
        return {"path": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    except OSError:
        return {"path": str(path), "missing": True}


# -- file contents, remembered --------------------------------------------------------------

HASH_CHUNK = 8 << 20


def cache_home() -> Path:
    """The user's cache folder: ``$XDG_CACHE_HOME``, else ``~/.cache``."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


def hash_memo_path() -> Path:
    """Where file content hashes are remembered between runs (a small JSON file)."""
    return cache_home() / "derm-harness" / "file-sha256.json"


def _stat_key(path: Path) -> list[int]:
    # ctime as well as mtime: a file rewritten with its old size and mtime restored (cp -p,
    # rsync -t) still gets a new ctime, which no user tool can set.
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def _read_memo(path: Path) -> dict[str, Any]:
    try:
        memo = json.loads(path.read_text(encoding="utf-8"))
        return memo if isinstance(memo, dict) else {}
    except (OSError, ValueError):
        return {}  # a missing or damaged memo only costs a re-hash


def files_sha256(paths: Sequence[Path]) -> list[str]:
    """sha256 of each file's bytes, hashed once and remembered per path, size and times.

    A 15 GB checkpoint is read once; later runs only ``stat`` its files. Symbolic
    links (the Hugging Face cache) are remembered under their target.
    """
    from harness.store import atomic_write_json

    memo_path = hash_memo_path()
    memo = _read_memo(memo_path)
    out: list[str] = []
    fresh: dict[str, Any] = {}
    for path in paths:
        real = str(Path(path).resolve())
        stamp = _stat_key(Path(real))
        entry = memo.get(real)
        if isinstance(entry, dict) and entry.get("stat") == stamp:
            out.append(entry["sha256"])
            continue
        h = hashlib.sha256()
        with open(real, "rb") as fh:
            while chunk := fh.read(HASH_CHUNK):
                h.update(chunk)
        out.append(h.hexdigest())
        fresh[real] = {"stat": stamp, "sha256": h.hexdigest()}
    if fresh:
        try:  # re-read first, so that a concurrent run's entries are kept
            atomic_write_json(memo_path, {**_read_memo(memo_path), **fresh})
        except OSError:
            pass  # a read-only cache only costs a re-hash next time
    return out

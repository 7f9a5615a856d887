"""Stable content hashes for configurations and requests."""

from __future__ import annotations

import hashlib
import json
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

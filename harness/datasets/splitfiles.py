"""The paper's published split files: where they live, their pinned hashes, and fetching them.

The MM-Skin authors publish their test splits in their repository
(ZwQ803/MM-Skin, ``Dataframe/test/``). ``harness data fetch-splits`` downloads
them at one pinned commit into ``<data_root>/mmskin-splits/`` and refuses any
file whose SHA-256 differs from the one recorded here (computed from
byte-for-byte copies taken at that commit).
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from harness.errors import DataError, UsageError
from harness.store import new_temp_file

REPOSITORY = "ZwQ803/MM-Skin"
COMMIT = "31d105c01e6723aa2c052a03414f921a447ff196"
BASE_URL = f"https://raw.githubusercontent.com/{REPOSITORY}/{COMMIT}/Dataframe/test"
SPLITS_FOLDER = "mmskin-splits"

# path under mmskin-splits/ (same as under Dataframe/test/ upstream) -> SHA-256
FILES: dict[str, str] = {
    "classification/BCN20000_test.csv":
        "504790c8a49f52b6757222b0ea230d7d955855270bd672a4f694216e6971260f",
    "classification/DDI_2class_test.csv":
        "4d3dff0aeb73e7ea796884f161e56b85b109ee21d9b8766efc9c5322f8fb034e",
    "classification/Dermnet_test.csv":
        "f3ee4b27d8c2f4b205731b165032b4397eec9aab3d9c3aa61c0334e8803730fe",
    "classification/Fitzpatrick_test.csv":
        "90fa547963a1212492adf12e994da0fd26cf24c6edfdcab2573025f55dd27145",
    "classification/HAM10000_test.csv":
        "7d3eddf3f3f57edde7f9a473df6271a5db77c34ff87c438c4c1a3564923959dd",
    "classification/HIBA_2class_test.csv":
        "51e3eff57f37e8972b7fd9727aec806f13030f7cafb805ee212e35b5ec8dedff",
    "classification/ISIC_test.csv":
        "3b2493abcb3a6e142a58a51297a653f1cb3f360adaa7665e0a8e6e7dcc7ef2a0",
    "classification/MSKCC_test.csv":
        "4c3c0f2b690df6f5a89aab8b131ec59f33376f7859130eb100b8516000b7adb1",
    "classification/Patch16_2class_test.csv":
        "0a4982f942c6f3440adf2970fc885053ea81ff58dd63cc57216b0072fe2c1149",
    "classification/Patch16_2class_val.csv":
        "6e9a0284b4fa990d92e019a936de99cd0bd42eb29732036ca26154d7195f56fa",
    "vqa/MM-Skin_test.csv":
        "c62e6bc2590972da60a3762003e856b964d15cd4cb7f5e3d22855abf3fe36c58",
}


def splits_dir(data_root: Path | None, override: Path | None = None) -> Path | None:
    """Where the split files are read from: an explicit folder, else <data_root>/mmskin-splits."""
    if override is not None:
        return Path(override)
    if data_root is None:
        return None
    return Path(data_root) / SPLITS_FOLDER


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class FetchResult:
    path: str
    status: str  # downloaded | present | failed
    detail: str = ""


def fetch(dest: Path, base_url: str = BASE_URL, force: bool = False,
          timeout: float = 60.0) -> list[FetchResult]:
    """Download every pinned split file into ``dest``; each is checked before it is kept.

    A file already present with the right hash is left alone. A download whose
    hash differs is discarded (never written under its final name).
    """
    if not base_url.startswith(("https://", "http://")):
        raise UsageError(f"--base-url {base_url!r} must start with https:// or http://")
    results: list[FetchResult] = []
    for rel, expected in FILES.items():
        target = dest / rel
        if target.is_file() and not force and sha256_file(target) == expected:
            results.append(FetchResult(rel, "present"))
            continue
        url = f"{base_url.rstrip('/')}/{rel}"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (http(s) only)
                data = resp.read()
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            results.append(FetchResult(rel, "failed", f"cannot download {url}: {reason}"))
            continue
        got = hashlib.sha256(data).hexdigest()
        if got != expected:
            results.append(FetchResult(
                rel, "failed", f"{url}: SHA-256 {got[:12]}... differs from the pinned "
                f"{expected[:12]}...; file not kept"))
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = new_temp_file(target.parent, ".fetch-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
        results.append(FetchResult(rel, "downloaded"))
    return results


def verify(folder: Path) -> dict[str, str]:
    """rel path -> 'ok' | 'missing' | 'modified' for every pinned file under ``folder``."""
    out = {}
    for rel, expected in FILES.items():
        path = folder / rel
        if not path.is_file():
            out[rel] = "missing"
        else:
            out[rel] = "ok" if digest(path) == expected else "modified"
    return out


def require(folder: Path | None, rel: str, dataset: str, notes: list[str] | None = None) -> Path:
    """The path of one split file, checked against its pin, or DataError saying how to get it.

    A modified file read under ``allowing_modified`` is named in ``notes``.
    """
    if folder is None:
        raise DataError(f"dataset '{dataset}' needs a data root holding {SPLITS_FOLDER}/{rel}")
    path = folder / rel
    if not path.is_file():
        raise DataError(
            f"dataset '{dataset}': the paper's split file {path} is missing; run "
            f"`harness data fetch-splits --data-root DIR` (downloads from {REPOSITORY})"
        )
    note = check_pinned(path, rel)
    if note is not None and notes is not None:
        notes.append(note)
    return path


# ---- the pin, checked whenever a split file is read ----------------------------------------

# Set for the duration of a run by `harness run --allow-modified-splits` (see allowing_modified).
_ALLOW_MODIFIED: ContextVar[bool] = ContextVar("allow_modified_splits", default=False)
# (path, size, mtime) -> SHA-256: a split file is read several times per run (test ids,
# expected counts), hashed once.
_DIGESTS: dict[tuple[str, int, int], str] = {}


@contextmanager
def allowing_modified(allow: bool = True) -> Iterator[None]:
    """Within this block a split file that differs from its pin is read and noted, not refused."""
    token = _ALLOW_MODIFIED.set(allow)
    try:
        yield
    finally:
        _ALLOW_MODIFIED.reset(token)


def modified_allowed() -> bool:
    """Whether the current block reads files that differ from their pins (and notes them)."""
    return _ALLOW_MODIFIED.get()


def digest(path: Path) -> str:
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _DIGESTS:
        _DIGESTS[key] = sha256_file(path)
    return _DIGESTS[key]


def modified(path: Path, rel: str) -> str | None:
    """A sentence naming ``path`` when it differs from the pinned file ``rel``, else None."""
    expected = FILES.get(rel)
    if expected is None:
        return None
    got = digest(path)
    if got == expected:
        return None
    return (f"split file {path} differs from the paper's {rel} pinned at {REPOSITORY}@"
            f"{COMMIT[:7]} (SHA-256 {got[:12]}..., pinned {expected[:12]}...)")


def check_pinned(path: Path, rel: str) -> str | None:
    """None when ``path`` is the pinned file; when it differs, DataError, or under
    ``allowing_modified`` the sentence to record beside the run's data notes."""
    differs = modified(path, rel)
    if differs is None:
        return None
    if _ALLOW_MODIFIED.get():
        return f"{differs}; read anyway, as modified split files were allowed"
    raise DataError(
        f"{differs}: its rows would not be the paper's test set; restore it with `harness data "
        "fetch-splits --force --data-root DIR`, or pass --allow-modified-splits to use it anyway"
    )

"""The result store: append-only predictions.jsonl, a lock, atomic JSON files, feature sidecars.

predictions.jsonl is the resume cache. Each line is written with one write()
on a file opened in append mode and flushed, so a crash leaves at most one torn
last line, which ``load`` detects and cuts off. A later line for the same
fingerprint supersedes an earlier one (a failure retried and answered).
"""

from __future__ import annotations

import io
import json
import math
import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import LockedError
from harness.locks import LockFile, LockHeld, describe, live_holder
from harness.types import Prediction

PREDICTIONS = "predictions.jsonl"


def new_temp_file(folder: Path, prefix: str) -> tuple[int, Path]:
    """A new, uniquely named file in ``folder``, opened for writing, with the mode of any new file.

    ``tempfile.mkstemp`` creates files readable by their owner only (0600), and a rename
    keeps that mode: results would then be unreadable to the rest of a group. Here the
    process's umask applies, as for any file it creates (0644 under the usual 022).
    """
    for _ in range(100):
        tmp = folder / f"{prefix}{secrets.token_hex(6)}.tmp"
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file in {folder}")


def atomic_write_json(path: Path, obj: Any) -> None:
    """Write JSON to a temp file in the same folder, fsync, then rename over ``path``.

    An OSError (a full disk, a read-only folder) names ``path`` and leaves the old file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        _atomic_write_json(path, obj)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(path)) from None


def _atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(_finite(obj), indent=2, sort_keys=True,
                                       ensure_ascii=False, allow_nan=False) + "\n")


def atomic_write_text(path: Path, text: str, fsync: bool = True) -> None:
    """``text`` to a new file in ``path``'s folder, then renamed over ``path``: a reader
    sees the old file or the whole new one; nothing is left behind on failure."""
    fd, tmp = new_temp_file(path.parent, f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _finite(obj: Any) -> Any:
    """NaN and infinities become null: JSON has no spelling for them, and readers choke."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    if isinstance(obj, np.floating | np.integer):
        return _finite(obj.item())
    return obj


class ResultStore:
    """One results folder: ``results/<task>/<model>/``."""

    def __init__(self, folder: Path, shard: str | None = None) -> None:
        self.folder = folder
        self.shard = shard  # per-rank file name suffix in data-parallel runs
        self.repaired_lines = 0
        self.bad_lines: list[str] = []
        self._locks: list[Any] = []
        self._fh: Any = None
        self._arrays: dict[str, np.ndarray] = {}

    @property
    def predictions_path(self) -> Path:
        name = PREDICTIONS if self.shard is None else f"predictions.{self.shard}.jsonl"
        return self.folder / name

    # -- locking ---------------------------------------------------------------
    def lock(self) -> None:
        """Lock the folder so two runs never interleave lines or merge under each other.

        Lock files created with O_EXCL (``harness.locks``: they hold on NFS, where flock may
        not). A plain run holds ``.lock``; a rank of a data-parallel run holds its own
        ``.lock.rankN``, beside its siblings. Each takes its file first and then checks for
        the other kind, so a plain run and a rank never both go on (at worst both give way).
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        name = ".lock" if self.shard is None else f".lock.{self.shard}"
        own = LockFile(self.folder / name)
        try:
            own.acquire()
        except LockHeld as exc:
            self.close()
            raise self._locked(exc.holder) from None
        self._locks.append(own)
        others = ([p for p in self.folder.glob(".lock.*") if not p.name.count(".stale-")]
                  if self.shard is None else [self.folder / ".lock"])
        for path in others:
            holder = live_holder(path)
            if holder is not None:
                self.close()
                raise self._locked(holder)

    def _locked(self, holder: dict[str, Any]) -> LockedError:
        return LockedError(
            f"results folder {self.folder} is in use by another run ({describe(holder)}); "
            "wait for it to finish or use another --output"
        )

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        while self._locks:
            self._locks.pop().release()

    # -- reading ---------------------------------------------------------------
    def prediction_files(self) -> list[Path]:
        return sorted(self.folder.glob("predictions*.jsonl"))

    def load(self, repair: bool = False) -> dict[str, Prediction]:
        """All stored predictions by fingerprint (the last line for a fingerprint wins).

        With ``repair`` a torn last line (a crash mid-write) is cut off this store's own
        file; other ranks' shards are only read, never cut, since they may be mid-write.
        """
        latest: dict[str, Prediction] = {}
        for path in self.prediction_files():
            for pred in self._read_file(path, repair and path == self.predictions_path):
                latest[pred.fingerprint] = pred
        return latest

    def _read_file(self, path: Path, repair: bool) -> Iterable[Prediction]:
        data = path.read_bytes()
        complete, _, tail = data.rpartition(b"\n")
        if tail:  # bytes after the last newline: a write cut short by a crash
            self.repaired_lines += 1
            if repair:
                with open(path, "r+b") as fh:
                    fh.truncate(len(complete) + 1 if complete or data.startswith(b"\n") else 0)
        out: list[Prediction] = []
        if not complete and not data.startswith(b"\n"):
            return out
        for i, raw in enumerate(complete.split(b"\n")):
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw)
                out.append(
                    Prediction(
                        id=str(rec["id"]),
                        fingerprint=str(rec["fingerprint"]),
                        output=rec.get("output"),
                        error=rec.get("error"),
                        seconds=float(rec.get("seconds", 0.0)),
                        extra=rec.get("extra") or {},
                        reason=rec.get("reason"),
                    )
                )
            except (ValueError, KeyError, TypeError):
                # A complete but unreadable line was not written by us; keep it, report it.
                self.bad_lines.append(f"{path.name} line {i + 1}")
        return out

    # -- writing ---------------------------------------------------------------
    def append(self, preds: Iterable[Prediction]) -> None:
        """The batch's lines in one unbuffered write: a full disk or a crash tears at most the
        last line (cut on resume), and nothing is left in a buffer to fail again later."""
        if self._fh is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.predictions_path, "ab", buffering=0)  # noqa: SIM115
        buffer = io.StringIO()
        self.write_lines(buffer, preds)
        try:
            self._fh.write(buffer.getvalue().encode("utf-8"))
            os.fsync(self._fh.fileno())
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, str(self.predictions_path)) from None

    @staticmethod
    def write_lines(fh: Any, preds: Iterable[Prediction]) -> None:
        """All lines in one write() call, so a crash tears at most the last line."""
        chunk = "".join(
            json.dumps(
                {
                    "id": p.id,
                    "fingerprint": p.fingerprint,
                    "output": p.output,
                    "error": p.error,
                    "seconds": round(p.seconds, 6),
                    "extra": p.extra,
                    **({"reason": p.reason} if p.error is not None else {}),
                },
                ensure_ascii=False,
            )
            + "\n"
            for p in preds
        )
        fh.write(chunk)

    # -- feature arrays (probe) ------------------------------------------------
    def save_array(self, name: str, array: np.ndarray) -> str:
        """Save a batch of features beside the predictions; returns the relative file name."""
        rel = f"features/{name}.npy"
        path = self.folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, array)
        os.replace(tmp, path)
        return rel

    def load_array_row(self, ref: dict[str, Any]) -> np.ndarray:
        rel = ref["array_file"]
        if rel not in self._arrays:
            self._arrays[rel] = np.load(self.folder / rel, mmap_mode="r")
        return np.asarray(self._arrays[rel][int(ref["row"])])

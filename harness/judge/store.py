"""The judge-call store: ``judgements.jsonl`` beside ``predictions.jsonl``, append-only.

One line per judge call, keyed by a digest of (judge identity, protocol and version, the
prompt, which holds the pair's inputs). Written like the predictions (``harness.store``):
each batch's lines in one unbuffered write, fsynced, so a crash tears at most the last line,
which the next run cuts off; a later line for a key supersedes an earlier one (a failed
call retried and answered). A judge or protocol that differs has other keys, so its
verdicts never mix with another's.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import LockedError

JUDGEMENTS = "judgements.jsonl"


@dataclass
class Judgement:
    """One judge call: its reply (raw, parsed at scoring time) or why there is none."""

    key: str
    sample_id: str
    role: str
    judge: str  # the judge's digest (harness.judge.config.JudgeConfig.digest)
    protocol: str  # name@version
    judge_name: str = ""  # its registry name, for people and `harness judge agreement`
    reply: str | None = None
    error: str | None = None  # the call failed (transport, refusal): asked again on a run
    seconds: float = 0.0
    # this call's share of its batch's token counts, as the judge model reported them
    usage: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None and self.reply is not None


FIELDS = frozenset(Judgement.__dataclass_fields__)


class JudgeStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / JUDGEMENTS
        self.repaired_lines = 0
        self.bad_lines: list[str] = []
        self._fh: Any = None
        self._lock: Any = None

    def lock(self) -> None:
        """Two processes judging one folder at once would ask each verdict twice."""
        self.folder.mkdir(parents=True, exist_ok=True)
        fh = open(self.folder / ".judge.lock", "a+")  # noqa: SIM115 - held while judging
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise LockedError(f"{self.folder} is being judged by another process; wait for "
                              "it to finish") from None
        self._lock = fh

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self._lock is not None:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    def load(self, repair: bool = False) -> dict[str, Judgement]:
        """Every stored call by key (the last line for a key wins)."""
        if not self.path.exists():
            return {}
        data = self.path.read_bytes()
        complete, _, tail = data.rpartition(b"\n")
        if tail:  # a write cut short by a crash
            self.repaired_lines += 1
            if repair:
                with open(self.path, "r+b") as fh:
                    fh.truncate(len(complete) + 1 if complete or data.startswith(b"\n") else 0)
            if not complete:
                return {}
        out: dict[str, Judgement] = {}
        lines = complete.split(b"\n")
        try:  # one parse of the whole file (a re-score reads every line); per line on error
            records = json.loads(b"[" + b",".join(x for x in lines if x.strip()) + b"]")
            if all(isinstance(r, dict) for r in records):
                for rec in records:
                    j = self._record(rec)
                    out[j.key] = j
                return out
        except (ValueError, TypeError, KeyError):
            out.clear()
        for i, raw in enumerate(lines):
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw)
                j = self._record(rec)
                out[j.key] = j
            except (ValueError, TypeError, KeyError):
                self.bad_lines.append(f"{JUDGEMENTS} line {i + 1}")
        return out

    @staticmethod
    def _record(rec: dict[str, Any]) -> Judgement:
        try:
            return Judgement(**rec)
        except TypeError:  # a field a later harness added: keep the known ones
            return Judgement(**{k: v for k, v in rec.items() if k in FIELDS})

    def append(self, items: Iterable[Judgement]) -> None:
        if self._fh is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "ab", buffering=0)  # noqa: SIM115
        chunk = "".join(json.dumps(asdict(j), ensure_ascii=False) + "\n" for j in items)
        try:
            self._fh.write(chunk.encode("utf-8"))
            os.fsync(self._fh.fileno())
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, str(self.path)) from None

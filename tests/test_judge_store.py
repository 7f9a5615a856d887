"""The verdict store: append-only, a torn last line cut on resume, a foreign line reported,
a later line for a key superseding an earlier one, one judging process per folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import LockedError
from harness.judge.store import JUDGEMENTS, Judgement, JudgeStore


def line(key: str, reply: str | None = "8 7", error: str | None = None) -> Judgement:
    return Judgement(key=key, sample_id=f"s-{key}", role="forward", judge="j", protocol="p@1",
                     reply=reply, error=error)


def test_torn_line_is_cut_and_later_lines_win(tmp_path: Path) -> None:
    store = JudgeStore(tmp_path)
    store.append([line("a", None, "ApiError: HTTP 500"), line("b")])
    store.append([line("a", "9 9")])
    store.close()
    with open(tmp_path / JUDGEMENTS, "ab") as fh:
        fh.write(b'{"key": "c", "sample_id": "s-c", "ro')  # a crash mid-write
    loaded = JudgeStore(tmp_path).load(repair=True)
    assert set(loaded) == {"a", "b"} and loaded["a"].ok and loaded["a"].reply == "9 9"
    assert (tmp_path / JUDGEMENTS).read_bytes().endswith(b"}\n")
    again = JudgeStore(tmp_path)
    assert set(again.load()) == {"a", "b"} and again.repaired_lines == 0


def test_a_foreign_line_is_reported_not_fatal(tmp_path: Path) -> None:
    store = JudgeStore(tmp_path)
    store.append([line("a")])
    store.close()
    with open(tmp_path / JUDGEMENTS, "ab") as fh:
        fh.write(b'{"no key here": 1}\nnot json\n')
    store.append([line("b")])
    store.close()
    reader = JudgeStore(tmp_path)
    assert set(reader.load()) == {"a", "b"}
    assert reader.bad_lines == [f"{JUDGEMENTS} line 2", f"{JUDGEMENTS} line 3"]


def test_two_judging_processes_never_share_a_folder(tmp_path: Path) -> None:
    first = JudgeStore(tmp_path)
    first.lock()
    with pytest.raises(LockedError, match="being judged by another process"):
        JudgeStore(tmp_path).lock()
    first.close()
    JudgeStore(tmp_path).lock()

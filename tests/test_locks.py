"""The results folder's lock files (harness/locks.py): what NFS-safe locking has to get right."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import locks
from harness.errors import LockedError
from harness.store import ResultStore


def _fake_lock(path: Path, host: str, pid: int, age: float = 0.0) -> None:
    path.write_text(json.dumps({"host": host, "pid": pid, "started": 0.0, "token": "t0"}))
    then = time.time() - age
    os.utime(path, (then, then))


def test_a_lock_left_by_a_killed_process_on_this_host_is_taken_over(tmp_path: Path) -> None:
    code = ("import sys, os; from pathlib import Path; from harness.store import ResultStore;"
            "s = ResultStore(Path(sys.argv[1])); s.lock(); os._exit(9)")
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=False, timeout=60)
    left = json.loads((tmp_path / ".lock").read_text())
    assert left["pid"] > 0 and left["host"]  # the killed holder never released it
    store = ResultStore(tmp_path)
    store.lock()  # its pid is gone: stale
    assert json.loads((tmp_path / ".lock").read_text())["pid"] == os.getpid()
    store.close()
    assert not (tmp_path / ".lock").exists()


def test_a_lock_of_another_host_holds_until_its_heartbeat_stops(tmp_path: Path) -> None:
    _fake_lock(tmp_path / ".lock", "node-17", 4242, age=5)
    with pytest.raises(LockedError, match="pid 4242 on node-17"):
        ResultStore(tmp_path).lock()
    _fake_lock(tmp_path / ".lock", "node-17", 4242, age=locks.STALE_SECONDS + 60)
    store = ResultStore(tmp_path)
    store.lock()  # untouched for longer than STALE_SECONDS: that host's run is gone
    store.close()


def test_a_reused_pid_does_not_keep_a_dead_holders_lock(tmp_path: Path) -> None:
    import socket

    # This process's own pid, but a start time that is not this process's: a reused pid.
    _fake_lock(tmp_path / ".lock", socket.gethostname(), os.getpid())
    store = ResultStore(tmp_path)
    store.lock()
    store.close()


def test_the_heartbeat_keeps_a_held_lock_fresh(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(locks, "HEARTBEAT_SECONDS", 0.05)
    lock = locks.LockFile(tmp_path / ".lock")
    lock.acquire()
    try:
        old = time.time() - 1000
        os.utime(lock.path, (old, old))
        locks._heartbeat._wake.set()  # a heartbeat thread started earlier sleeps 30 s
        deadline = time.time() + 5
        while lock.path.stat().st_mtime < old + 1 and time.time() < deadline:
            time.sleep(0.05)
        assert lock.path.stat().st_mtime > time.time() - 10
    finally:
        lock.release()


def test_ranks_share_a_folder_and_exclude_a_plain_run(tmp_path: Path) -> None:
    rank0, rank1 = ResultStore(tmp_path, shard="rank0"), ResultStore(tmp_path, shard="rank1")
    rank0.lock()
    rank1.lock()  # siblings run beside each other
    with pytest.raises(LockedError, match="in use by another run"):
        ResultStore(tmp_path).lock()
    rank0.close()
    rank1.close()
    plain = ResultStore(tmp_path)
    plain.lock()
    with pytest.raises(LockedError, match="in use by another run"):
        ResultStore(tmp_path, shard="rank0").lock()
    plain.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_stale_lock_replaced_meanwhile_is_put_back(tmp_path: Path) -> None:
    path = tmp_path / ".lock"
    _fake_lock(path, "node-3", 1, age=0)  # token t0, but a fresh holder's (not the stale one)
    locks._break(path, stale_token="another")
    assert json.loads(path.read_text())["token"] == "t0"
    locks._break(path, stale_token="t0")
    assert not path.exists()

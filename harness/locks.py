"""Lock files that hold on a network file system (NFS, Lustre, GPFS), where ``flock`` may not.

``flock`` is emulated by NFS clients as a POSIX lock through the server, is local-only or
refused (ENOSYS) on Lustre without ``-o flock``, and a lock server that loses its state
loses the lock. Creating a file with ``O_CREAT | O_EXCL`` is atomic on NFSv3 and later, on
Lustre and on GPFS, so a lock here is a file created that way; it holds the holder's host,
pid, process start time and a random token.

A lock is stale, and taken over, when its holder is on this host and its process is gone
(or the pid now belongs to another process), or when it is on another host and its file
has not been touched for ``STALE_SECONDS``: each holder touches its locks every
``HEARTBEAT_SECONDS`` from a background thread, so a live holder's lock never goes stale,
however slow its model. Hosts' clocks must agree to well within ``STALE_SECONDS`` (NTP).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading
import time
from pathlib import Path
from typing import Any

HEARTBEAT_SECONDS = 30.0
STALE_SECONDS = 600.0


class LockHeld(Exception):
    """The lock is held by a live holder; ``holder`` says who."""

    def __init__(self, holder: dict[str, Any]) -> None:
        super().__init__(describe(holder))
        self.holder = holder


def describe(holder: dict[str, Any]) -> str:
    return f"pid {holder.get('pid', 'unknown')} on {holder.get('host', 'an unknown host')}"


def _process_start(pid: int) -> float | None:
    import psutil

    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def read_holder(path: Path) -> tuple[dict[str, Any] | None, float | None]:
    """The holder recorded in ``path`` and the file's mtime; (None, None) if there is none."""
    try:
        mtime = path.stat().st_mtime
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, None
    try:
        holder = json.loads(text)
    except ValueError:
        holder = {}  # being written this instant, or torn by a crash: judged by its age
    return (holder if isinstance(holder, dict) else {}), mtime


def is_stale(holder: dict[str, Any], mtime: float) -> bool:
    if holder.get("host") == socket.gethostname() and isinstance(holder.get("pid"), int):
        started = _process_start(holder["pid"])
        return started is None or abs(started - float(holder.get("started") or 0)) > 1.0
    return time.time() - mtime > STALE_SECONDS


def live_holder(path: Path) -> dict[str, Any] | None:
    """Who holds ``path``, if a live holder does."""
    holder, mtime = read_holder(path)
    if holder is None or mtime is None or is_stale(holder, mtime):
        return None
    return holder


class LockFile:
    """One lock file; ``acquire`` raises ``LockHeld`` while a live holder has it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.token = secrets.token_hex(8)
        self.held = False

    def acquire(self) -> None:
        me = {"host": socket.gethostname(), "pid": os.getpid(),
              "started": _process_start(os.getpid()), "token": self.token}
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                holder, mtime = read_holder(self.path)
                if holder is None:
                    continue  # released meanwhile
                if mtime is not None and not is_stale(holder, mtime):
                    raise LockHeld(holder) from None
                _break(self.path, holder.get("token"))
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(json.dumps(me))
            self.held = True
            _heartbeat.add(self)
            return
        holder, _ = read_holder(self.path)
        raise LockHeld(holder or {})

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        _heartbeat.discard(self)
        holder, _ = read_holder(self.path)
        if holder is not None and holder.get("token") == self.token:
            self.path.unlink(missing_ok=True)


def _break(path: Path, stale_token: Any) -> None:
    """Remove a stale lock, unless another process replaced it with a fresh one meanwhile
    (then it is put back): it is moved aside under a unique name first, then checked."""
    aside = path.with_name(f"{path.name}.stale-{secrets.token_hex(4)}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return
    holder, _ = read_holder(aside)
    if holder is not None and holder.get("token") != stale_token:
        try:
            os.link(aside, path)
        except FileExistsError:
            pass
    aside.unlink(missing_ok=True)


class _Heartbeat:
    """Touches every lock this process holds, so that other hosts see them alive."""

    def __init__(self) -> None:
        self._locks: set[LockFile] = set()
        self._mutex = threading.Lock()
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()  # a lock added: beat now, and re-read the period

    def add(self, lock: LockFile) -> None:
        with self._mutex:
            self._locks.add(lock)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._beat, daemon=True,
                                                name="harness-lock-heartbeat")
                self._thread.start()
        self._wake.set()

    def discard(self, lock: LockFile) -> None:
        with self._mutex:
            self._locks.discard(lock)

    def _beat(self) -> None:
        while True:
            self._wake.wait(HEARTBEAT_SECONDS)
            self._wake.clear()
            with self._mutex:
                held = list(self._locks)
            for lock in held:
                try:
                    os.utime(lock.path)
                except OSError:
                    pass  # released meanwhile, or the folder went away


_heartbeat = _Heartbeat()

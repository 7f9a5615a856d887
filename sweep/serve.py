"""Start ``vllm serve`` for one model on the job's GPUs, wait until it answers, stop it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from harness.errors import HarnessError
from harness.sweep.plan import ModelEntry

POLL_SECONDS = 0.5
STOP_GRACE_SECONDS = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``with Server(entry, log_path) as server: ... server.base_url ...``

    The server runs in a session of its own, so stopping it stops every process it started
    (vLLM's data-parallel replicas, its engine cores).
    """

    def __init__(self, entry: ModelEntry, log_path: Path) -> None:
        self.entry, self.log_path = entry, log_path
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.ready_seconds: float | None = None
        self._t0 = 0.0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self) -> list[str]:
        e = self.entry
        return [*e.serve_command, e.path or e.model or e.name, "--host", "127.0.0.1",
                "--port", str(self.port), "--served-model-name", e.name, *e.serve_args]

    def __enter__(self) -> Server:
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def start(self) -> None:
        """Start the server; ``wait_ready`` waits until it answers (the caller may do other
        work meanwhile: vLLM takes a minute or more to load a 7B model)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._t0 = time.monotonic()
        with open(self.log_path, "ab") as log:
            try:
                self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, start_new_session=True)
            except OSError as exc:
                raise HarnessError(f"model '{self.entry.name}': could not start "
                                   f"{self.entry.serve_command[0]!r} ({exc.strerror})") from None

    def wait_ready(self) -> None:
        self._wait_ready(self._t0)
        self.ready_seconds = time.monotonic() - self._t0

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _wait_ready(self, t0: float) -> None:
        assert self.proc is not None
        deadline = t0 + self.entry.serve_timeout
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                raise HarnessError(f"model '{self.entry.name}': the server exited with status "
                                   f"{code} before answering; last lines of {self.log_path}: "
                                   f"{self._tail()}")
            if self._answers():
                return
            time.sleep(POLL_SECONDS)
        raise HarnessError(f"model '{self.entry.name}': the server did not answer within "
                           f"{self.entry.serve_timeout:g} s (serve_timeout); see {self.log_path}")

    def _answers(self) -> bool:
        """GET /v1/models answers (vLLM answers it once the weights are loaded)."""
        try:
            with urllib.request.urlopen(f"{self.base_url}/models", timeout=5) as resp:
                body = json.loads(resp.read() or b"{}")
        except (OSError, urllib.error.URLError, ValueError):
            return False
        return isinstance(body, dict) and "data" in body

    def _tail(self, lines: int = 5) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return " | ".join(text.strip().splitlines()[-lines:]) or "(empty)"

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        except ProcessLookupError:
            pass

"""No network unless asked: a Hub id that is not in the local cache is refused in one
sentence, and no request reaches the Hub; with --allow-download the harness does go there.

The "Hub" is a real HTTP server on 127.0.0.1 that records every request (HF_ENDPOINT
points huggingface_hub at it), and the Hugging Face cache is an empty folder.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.cli_helpers import harness_env, run_harness
from tests.reliability.counts import COUNTS


class FakeHub:
    def __init__(self) -> None:
        self.requests: list[str] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                hub.requests.append(f"{self.command} {self.path}")
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_HEAD = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    server = FakeHub()
    yield server
    server.close()


def env(hub: FakeHub, home: Path) -> dict[str, str]:
    out = harness_env(HF_ENDPOINT=hub.url, HF_HOME=str(home), HF_HUB_DISABLE_TELEMETRY="1")
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        out.pop(name, None)  # online, as on a user's machine with network
    return out


@pytest.mark.parametrize("command", [("run",), ("run", "--dry-run")])
def test_a_hub_id_not_in_the_cache_is_refused_without_a_request(
    hub: FakeHub, tmp_path: Path, command: tuple[str, ...]
) -> None:
    COUNTS["bad_inputs_tried"] += 1
    proc = run_harness(*command, "--model", "qwen2.5-vl-7b", "--task", "vqa/demo", "--limit",
                       "1", cwd=tmp_path, env=env(hub, tmp_path / "hf"))
    assert proc.returncode == 2, proc.stderr
    assert "not in the local Hugging Face cache" in proc.stderr
    assert "--allow-download" in proc.stderr and "Traceback" not in proc.stderr
    assert hub.requests == []


def test_allow_download_does_ask_the_hub(hub: FakeHub, tmp_path: Path) -> None:
    """The same run with --allow-download reaches the (fake) Hub: the switch is real."""
    proc = run_harness("run", "--model", "qwen2.5-vl-7b", "--task", "vqa/demo", "--limit", "1",
                       "--allow-download", cwd=tmp_path, env=env(hub, tmp_path / "hf"))
    assert hub.requests, proc.stderr
    assert any("Qwen/Qwen2.5-VL-7B-Instruct" in r for r in hub.requests)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr

"""API keys given by environment variable never reach a file, a log or the terminal.

Real `harness run` subprocesses of both API plugins against the local server, with a
distinctive random key, including runs that fail: a careless server that quotes the
credential back in its error ("leak"), 500s, dropped connections, a wrong key (401) and
`--debug`. Then every file under the run's folder (results, logs, anything written
there), the cache folder, stdout and stderr are searched for the key.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_server import ApiServer

from tests.cli_helpers import harness_env, run_harness
from tests.reliability.counts import COUNTS

KEY_ENV = "HARNESS_RELIABILITY_KEY"
TASK = ("--task", "vqa/demo", "-T", "bootstrap=10", "-T", "metrics=bleu4", "--limit", "16")
FAILING = {"borders": "leak", "colour": "500", "How large": "drop"}


@pytest.fixture
def key() -> str:
    return f"sk-reliability-{secrets.token_hex(20)}"


@pytest.fixture
def server(key: str) -> Iterator[ApiServer]:
    with ApiServer(api_key=key, retry_after=0.05) as srv:
        yield srv


def model_args(plugin: str, server: ApiServer, output: str) -> list[str]:
    base = server.openai_base_url if plugin == "openai-compatible" else server.url
    args = ["run", "--model", plugin, *TASK, "--output", output, "-M", f"base_url={base}",
            "-M", f"api_key_env={KEY_ENV}", "-M", "max_retries=1", "-M", "backoff=0.01",
            "-M", "timeout=2"]
    if plugin == "openai-compatible":
        args += ["-M", "model_id=local-vlm"]
    return args


def leaks(key: str, root: Path, streams: dict[str, str]) -> list[str]:
    """Every place the key (or its bytes) appears: files under ``root``, the cache, streams."""
    found = []
    places = [root]
    if os.environ.get("XDG_CACHE_HOME"):
        places.append(Path(os.environ["XDG_CACHE_HOME"]))
    searched = 0
    for place in places:
        for path in place.rglob("*"):
            if path.is_file() and not path.is_symlink():
                searched += 1
                if key.encode() in path.read_bytes():
                    found.append(str(path))
    found += [name for name, text in streams.items() if key in text]
    assert searched >= 3, "the search must have found the run's files"
    return found


@pytest.mark.parametrize("plugin", ["openai-compatible", "gemini-2.0-flash"])
def test_key_never_written_even_when_calls_fail(plugin: str, server: ApiServer, key: str,
                                                tmp_path: Path) -> None:
    env = harness_env(**{KEY_ENV: key})
    streams: dict[str, str] = {}
    server.configure(always=FAILING)
    first = run_harness(*model_args(plugin, server, "out"), cwd=tmp_path, env=env, timeout=240)
    streams.update(first_stdout=first.stdout, first_stderr=first.stderr)
    assert first.returncode == 3, first.stderr[-2000:]  # the failing calls: coverage < 100%
    log = server.requests()
    # the test can fail: the key was sent, and the server did quote it back
    assert any(r["fault"] is None for r in log), "some calls were answered with the key"
    assert any(r["fault"] == "leak" for r in log), "the careless server quoted the key"
    folder = next((tmp_path / "out/vqa").glob(f"demo*/{plugin}"))
    errors = (folder / "predictions.jsonl").read_text()
    assert "bad credential header" in errors and "***" in errors, "the quote was scrubbed"

    # --debug and a healthy rerun of the failures
    server.configure(always={})
    second = run_harness("--debug", *model_args(plugin, server, "out"), cwd=tmp_path,
                         env=env, timeout=240)
    streams.update(second_stdout=second.stdout, second_stderr=second.stderr)
    assert second.returncode == 0, second.stderr[-2000:]

    # a key the server refuses: the run stops or records failures, the key stays unsaid
    server.configure(api_key="sk-some-other-key")
    third = run_harness("--debug", *model_args(plugin, server, "refused"), cwd=tmp_path,
                        env=env, timeout=240)
    streams.update(third_stdout=third.stdout, third_stderr=third.stderr)
    assert "401" in third.stderr + "".join(
        p.read_text() for p in (tmp_path / "refused").rglob("predictions.jsonl")
    ), third.stderr[-2000:]

    leaked = leaks(key, tmp_path, streams)
    COUNTS["secrets_leaked"] += len(leaked)
    assert leaked == [], f"the API key leaked into {leaked}"

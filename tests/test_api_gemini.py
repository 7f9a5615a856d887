"""The Gemini plugin (google-genai) against the local server speaking the Gemini REST format."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_server import ApiServer
from PIL import Image

from harness.errors import UsageError
from harness.plugins.api_client import ApiError
from harness.plugins.gemini import GEMINI_MODEL_ID
from harness.types import DECODING_PRESETS, Request
from tests.load import load

KEY_ENV = "HARNESS_TEST_GEMINI_KEY"
FAST = {"backoff": "0.02", "backoff_max": "0.1", "timeout": "10"}


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    secret = f"AIza-test-{uuid.uuid4().hex}"
    monkeypatch.setenv(KEY_ENV, secret)
    return secret


@pytest.fixture
def server(key: str) -> Iterator[ApiServer]:
    with ApiServer(api_key=key, retry_after=0.05) as srv:
        yield srv


def model(server: ApiServer, **options: Any) -> Any:
    opts = {"base_url": server.url, "api_key_env": KEY_ENV, **FAST, **options}
    return load("gemini-2.0-flash", **{k: str(v) for k, v in opts.items()})


def requests_for(n: int) -> list[Request]:
    return [Request(f"s{i}", f"sample {i:03d}: what is shown?") for i in range(n)]


def test_images_prompt_and_decoding_reach_generate_content(
    server: ApiServer, tmp_path: Path
) -> None:
    image = tmp_path / "lesion.jpg"
    Image.new("RGB", (20, 20), (150, 80, 70)).save(image)
    m = model(server)
    try:
        greedy = Request("a", "What colour is the lesion?", images=(image,),
                         system="You are a dermatologist.")
        paper = Request("b", "Describe the image.", images=(image,),
                        decoding=DECODING_PRESETS["paper-vqa"].with_seed(3))
        outputs = m.generate([greedy, paper])
        identity = m.identity()
    finally:
        m.close()
    assert outputs[0].endswith(greedy.prompt) and outputs[1].endswith(paper.prompt)
    log = {r["prompt"]: r for r in server.requests()}
    assert log[greedy.prompt]["path"].endswith(f"/models/{GEMINI_MODEL_ID}:generateContent")
    assert log[greedy.prompt]["images"] == 1
    assert log[greedy.prompt]["params"] == {"temperature": 0.0, "maxOutputTokens": 256,
                                            "candidateCount": 1}
    assert log[paper.prompt]["params"] == {"temperature": 0.2, "topP": 0.9, "seed": 3,
                                           "maxOutputTokens": 256, "candidateCount": 1}
    assert identity["sdk"].startswith("google-genai ")
    assert identity["served_models"] == [GEMINI_MODEL_ID]


def test_faults_are_retried_within_the_limit(server: ApiServer) -> None:
    server.configure(fault_rate=0.3, max_faults_per_marker=3, seed=5,
                     fault_modes=("429", "500", "503", "drop", "truncate", "malformed"))
    m = model(server, concurrency=8, max_retries=3)
    try:
        reqs = requests_for(60)
        outputs = m.generate(reqs)
    finally:
        m.close()
    assert all(isinstance(o, str) and o.endswith(r.prompt) for r, o in zip(reqs, outputs,
                                                                           strict=True))
    counts = Counter(r["marker"] for r in server.requests())
    assert len(counts) == 60 and max(counts.values()) <= 4
    assert sum(r["fault"] is not None for r in server.requests()) >= 10


def test_failures_blocks_and_refused_keys(server: ApiServer, key: str,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    server.configure(always={"sample 000": "500", "sample 001": "empty",
                             "sample 002": "leak"})
    m = model(server, max_retries=2)
    try:
        outputs = m.generate(requests_for(4))
    finally:
        m.close()
    assert isinstance(outputs[0], ApiError) and "after 3 attempts" in str(outputs[0])
    assert isinstance(outputs[1], ApiError) and "blocked" in str(outputs[1])
    assert isinstance(outputs[2], ApiError) and "***" in str(outputs[2])
    assert isinstance(outputs[3], str)
    for out in outputs:
        assert key not in str(out) and key not in repr(out)
    counts = Counter(r["prompt"][:10] for r in server.requests())
    assert counts == {"sample 000": 3, "sample 001": 1, "sample 002": 1, "sample 003": 1}

    server.reset()
    monkeypatch.setenv(KEY_ENV, "AIza-wrong")
    m = model(server, concurrency=1)
    try:
        outputs = m.generate(requests_for(4))
    finally:
        m.close()
    assert all("HTTP 401" in str(o) for o in outputs)
    assert len(server.requests()) == 1


def test_options_and_missing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    with pytest.raises(UsageError, match="environment variable GEMINI_API_KEY, which is not set"):
        load("gemini-2.0-flash")
    with pytest.raises(UsageError, match="has no option -M max_tokens_field"):
        load("gemini-2.0-flash", max_tokens_field="max_tokens")
    with pytest.raises(UsageError, match="only from an environment variable"):
        load("gemini-2.0-flash", api_key="AIza-something")


def test_token_counts_are_read_from_usage_metadata(server: ApiServer) -> None:
    m = model(server, concurrency="2")
    try:
        outputs = m.generate(requests_for(3))
    finally:
        m.close()
    assert all(isinstance(o, str) for o in outputs)
    # the server reports 10 prompt and 5 candidate tokens per answer (tests/api_server.py)
    assert m.usage == {"prompt_tokens": 30.0, "completion_tokens": 15.0}

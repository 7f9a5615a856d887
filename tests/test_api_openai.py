"""The OpenAI-compatible plugin against a real local HTTP server: answers, decoding, faults,
retries per sample, limits measured from the server's log, and the key kept out of everything.
"""

from __future__ import annotations

import re
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_server import ApiServer, marker_of
from PIL import Image

from harness.errors import UsageError
from harness.plugins.api_client import ApiError
from harness.plugins.images import data_url
from harness.plugins.openai_compat import ARK_BASE_URL, DOUBAO_MODEL_ID
from harness.types import DECODING_PRESETS, Decoding, Request
from tests.load import load

KEY_ENV = "HARNESS_TEST_API_KEY"
FAST = {"backoff": "0.02", "backoff_max": "0.1", "timeout": "10"}


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    secret = f"sk-test-{uuid.uuid4().hex}"
    monkeypatch.setenv(KEY_ENV, secret)
    return secret


@pytest.fixture
def server(key: str) -> Iterator[ApiServer]:
    with ApiServer(api_key=key, retry_after=0.05) as srv:
        yield srv


def model(server: ApiServer, **options: Any) -> Any:
    opts = {"base_url": server.openai_base_url, "model_id": "local-vlm",
            "api_key_env": KEY_ENV, **FAST, **options}
    return load("openai-compatible", **{k: str(v) for k, v in opts.items()})


def requests_for(n: int, prefix: str = "sample", **kwargs: Any) -> list[Request]:
    return [Request(sample_id=f"{prefix}-{i:03d}", prompt=f"{prefix} {i:03d}: what is shown?",
                    **kwargs) for i in range(n)]


def per_marker(server: ApiServer) -> Counter[str]:
    return Counter(r["marker"] for r in server.requests())


def assert_answers_match(requests: list[Request], outputs: list[Any]) -> None:
    for req, out in zip(requests, outputs, strict=True):
        assert isinstance(out, str), f"{req.sample_id} failed: {out}"
        assert out.endswith(req.prompt), "each answer belongs to its own request"


@pytest.fixture
def images(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for fmt, ext in (("PNG", "png"), ("JPEG", "jpg"), ("TIFF", "tif")):
        path = tmp_path / f"lesion.{ext}"
        Image.new("RGB", (24, 16), (180, 90, 60)).save(path, format=fmt)
        out[ext] = path
    (tmp_path / "empty.png").write_bytes(b"")
    out["empty"] = tmp_path / "empty.png"
    return out


def test_answers_follow_requests_and_decoding_passes_through(
    server: ApiServer, images: dict[str, Path]
) -> None:
    m = model(server)
    try:
        greedy = Request("a", "What colour is the lesion?", images=(images["jpg"],),
                         system="You are a dermatologist.")
        paper = Request("b", "Describe the image.", images=(images["png"], images["tif"]),
                        decoding=DECODING_PRESETS["paper-vqa"].with_seed(7))
        outputs = m.generate([greedy, paper])
        assert_answers_match([greedy, paper], outputs)
        log = {r["prompt"]: r for r in server.requests()}
        # greedy -> temperature 0, no top_p and no seed; max_new_tokens -> max_tokens
        assert log[greedy.prompt]["params"] == {"temperature": 0.0, "max_tokens": 256}
        # the paper's sampling preset: temperature, top_p and the run's seed; beams not sent
        assert log[paper.prompt]["params"] == {"temperature": 0.2, "top_p": 0.9,
                                               "max_tokens": 256, "seed": 7}
        assert log[paper.prompt]["images"] == 2
        # the JPEG went byte for byte (the server's marker digests the data URL it got)
        expected = marker_of(["You are a dermatologist.", greedy.prompt],
                             [data_url(images["jpg"])])
        assert outputs[0].startswith(f"echo[{expected}]")
        assert data_url(images["tif"]).startswith("data:image/png;base64,")
        identity = m.identity()
        assert identity["model_id"] == "local-vlm" and identity["served_models"] == ["local-vlm"]
        assert "num_beams" in identity["decoding_map"]
    finally:
        m.close()


def test_200_samples_against_30_percent_faults_all_answered_within_the_retry_limit(
    server: ApiServer,
) -> None:
    max_retries = 4
    # Every retryable fault mode, 30% of requests; a sample is never failed more often
    # than the retry limit allows, so the test is deterministic whatever the interleaving.
    server.configure(fault_rate=0.3, max_faults_per_marker=max_retries, seed=11,
                     fault_modes=("429", "500", "503", "drop", "truncate", "malformed", "empty"))
    m = model(server, concurrency=16, max_retries=max_retries)
    try:
        reqs = requests_for(200)
        outputs = m.generate(reqs)
    finally:
        m.close()
    assert_answers_match(reqs, outputs)
    log = server.requests()
    faulty = sum(r["fault"] is not None for r in log)
    assert faulty / len(log) >= 0.2, f"only {faulty}/{len(log)} requests failed"
    counts = per_marker(server)
    assert len(counts) == 200
    assert max(counts.values()) <= max_retries + 1
    assert m._caller.attempts == len(log), "every attempt the client made reached the server"


def test_a_sample_that_always_fails_stops_at_exactly_the_retry_limit(server: ApiServer) -> None:
    server.configure(always={"sample 002": "500"})
    m = model(server, max_retries=3)
    try:
        reqs = requests_for(4)
        outputs = m.generate(reqs)
    finally:
        m.close()
    doomed = outputs[2]
    assert isinstance(doomed, ApiError)
    assert "HTTP 500" in str(doomed) and "gave up after 4 attempts" in str(doomed)
    assert doomed.__cause__ is None and doomed.__context__ is None
    assert_answers_match(reqs[:2] + reqs[3:], outputs[:2] + outputs[3:])
    assert sorted(per_marker(server).values()) == [1, 1, 1, 4]


def test_client_errors_are_not_retried_and_a_refused_key_stops_sending(
    server: ApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.configure(always={"sample 001": "400"})
    m = model(server, max_retries=5)
    try:
        outputs = m.generate(requests_for(3))
    finally:
        m.close()
    assert isinstance(outputs[1], ApiError) and "HTTP 400" in str(outputs[1])
    assert per_marker(server).most_common(1)[0][1] == 1, "a 400 is sent once"

    server.reset()
    monkeypatch.setenv(KEY_ENV, "sk-wrong")
    m = model(server, max_retries=5, concurrency=1)
    try:
        outputs = m.generate(requests_for(5))
    finally:
        m.close()
    assert all(isinstance(o, ApiError) and "HTTP 401" in str(o) for o in outputs)
    assert len(server.requests()) == 1, "after a 401 the other samples are not sent"


def test_a_stalled_request_times_out_and_is_retried_within_the_limit(server: ApiServer) -> None:
    server.configure(always={"sample 000": "stall"}, stall=10)
    m = model(server, timeout=0.3, max_retries=1)
    try:
        t0 = time.monotonic()
        outputs = m.generate(requests_for(2))
        elapsed = time.monotonic() - t0
    finally:
        m.close()
    assert isinstance(outputs[0], ApiError)
    assert "0.3 s timeout" in str(outputs[0]) and "after 2 attempts" in str(outputs[0])
    assert isinstance(outputs[1], str)
    assert elapsed < 3, f"the timeout did not bound the stall ({elapsed:.1f} s)"
    assert sorted(per_marker(server).values()) == [1, 2]


def test_retry_after_is_honoured(server: ApiServer) -> None:
    server.configure(fault_rate=1.0, fault_modes=("429",), max_faults_per_marker=1,
                     retry_after=0.4)
    m = model(server, concurrency=4)
    try:
        reqs = requests_for(3)
        assert_answers_match(reqs, m.generate(reqs))
    finally:
        m.close()
    by_marker: dict[str, list[float]] = {}
    for r in server.requests():
        by_marker.setdefault(r["marker"], []).append(r["t"])
    for times in by_marker.values():
        assert len(times) == 2
        assert times[1] - times[0] >= 0.4 - 0.02, "retried before the server's Retry-After"


def test_rate_limit_holds_as_measured_by_the_server(server: ApiServer) -> None:
    rpm = 1200  # 20 per second, one every 50 ms
    server.configure(fault_rate=0.2, fault_modes=("500",), max_faults_per_marker=2, seed=3)
    m = model(server, concurrency=8, rpm=rpm)
    try:
        m.generate(requests_for(24))
        m.generate(requests_for(16, prefix="second-batch"))  # the limit spans batches
    finally:
        m.close()
    times = sorted(r["t"] for r in server.requests())
    per_second = rpm / 60
    worst = max(sum(1 for u in times if t <= u < t + 1.0) for t in times)
    assert worst <= per_second + 1, f"{worst} requests in one second (limit {per_second:g})"
    rate = (len(times) - 1) / (times[-1] - times[0])
    assert rate <= per_second * 1.05, f"{rate:.1f} requests/s over the run"


def test_concurrency_limit_holds_and_requests_overlap(server: ApiServer) -> None:
    server.configure(latency=0.2)
    peaks = []
    for concurrency in (4, 12):
        server.reset()
        m = model(server, concurrency=concurrency)
        try:
            m.generate(requests_for(24))
        finally:
            m.close()
        peaks.append(max(r["inflight"] for r in server.requests()))
        assert peaks[-1] <= concurrency
    # They really overlap (loose lower bounds: the test machine may be busy).
    assert peaks[0] >= 2 and peaks[1] > 4, peaks
    assert m.batch_size_hint == 4 * 12


def test_the_key_appears_in_no_error_identity_or_repr(
    server: ApiServer, key: str, images: dict[str, Path]
) -> None:
    server.configure(always={"sample 001": "leak", "sample 002": "500", "sample 003": "drop",
                             "sample 004": "malformed"})
    m = model(server, max_retries=1)
    try:
        reqs = requests_for(5) + [Request("img", "broken image", images=(images["empty"],))]
        outputs = m.generate(reqs)
        texts = [str(o) for o in outputs] + [repr(o) for o in outputs]
        texts += [repr(m), str(m), str(m.identity()), str(vars(m))]
    finally:
        m.close()
    assert sum(isinstance(o, ApiError) for o in outputs) == 5
    assert "***" in str(outputs[1]), "the server's echo of the key was scrubbed"
    assert "empty.png" in str(outputs[5]) and "0 bytes" in str(outputs[5])
    assert len(server.requests()) == 1 + 1 + 2 + 2 + 2, "the broken image was never sent"
    for text in texts:
        assert key not in text


def test_vllm_flavour_answers_too(key: str) -> None:
    with ApiServer(api_key=key, flavour="vllm") as srv:
        srv.configure(always={"sample 001": "500"})
        m = model(srv, max_retries=1)
        try:
            outputs = m.generate(requests_for(3))
        finally:
            m.close()
    assert_answers_match([requests_for(3)[i] for i in (0, 2)], [outputs[0], outputs[2]])
    assert "internal error" in str(outputs[1])


def test_factory_options_are_checked_in_one_sentence(
    server: ApiServer, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = {"base_url": server.openai_base_url, "model_id": "m", "api_key_env": KEY_ENV}
    cases = [
        ({"colour": "red"}, "has no option -M colour"),
        ({"concurrency": "0"}, "concurrency='0' is not valid (input should be greater than 0)"),
        ({"timeout": "soon"}, "timeout='soon' is not valid"),
        ({"send_seed": "maybe"}, "send_seed='maybe' is not valid"),
        ({"max_tokens_field": "tokens"}, "'max_tokens' or 'max_completion_tokens'"),
        ({"api_key": key}, "only from an environment variable"),
        ({"api_key_env": key}, "must name an environment variable"),
        ({"api_key_env": "NOT_SET_ANYWHERE"}, "environment variable NOT_SET_ANYWHERE"),
    ]
    for extra, expected in cases:
        with pytest.raises(UsageError) as info:
            load("openai-compatible", **{**base, **extra})
        message = str(info.value)
        assert expected in message and key not in message
        assert "\n" not in message
    with pytest.raises(UsageError, match="needs -M base_url"):
        load("openai-compatible", model_id="m", api_key_env=KEY_ENV)
    with pytest.raises(UsageError, match="takes no --model-path"):
        load("openai-compatible", model_path="/weights", **base)
    monkeypatch.delenv("ARK_API_KEY", raising=False)
    with pytest.raises(UsageError, match="environment variable ARK_API_KEY, which is not set"):
        load("doubao-1.5-vision-pro")


def test_registered_presets_and_the_prefixed_form(server: ApiServer) -> None:
    m = load("doubao-1.5-vision-pro", api_key_env=KEY_ENV)  # nothing is sent until generate
    try:
        identity = m.identity()
        assert identity["base_url"] == ARK_BASE_URL and identity["model_id"] == DOUBAO_MODEL_ID
    finally:
        m.close()
    m = load("openai:gpt-4o-mini", base_url=server.openai_base_url, api_key_env=KEY_ENV,
             **FAST)
    try:
        assert m.name == "openai:gpt-4o-mini"
        assert isinstance(m.generate(requests_for(1))[0], str)
        assert server.requests()[0]["model"] == "gpt-4o-mini"
    finally:
        m.close()
    with pytest.raises(UsageError, match="openai:gpt-4o"):
        load("openai:*")


def test_registry_lists_the_api_models() -> None:
    from harness.plugin_manager import get_registries

    models = get_registries(refresh=True).models
    for name in ("openai-compatible", "doubao-1.5-vision-pro", "doubao-1-5-vision-pro-32k",
                 "gemini-2.0-flash", "openai:*"):
        assert name in models
    spec = models.get("openai:gpt-4o")
    assert spec.name == "openai:gpt-4o"
    assert spec.options is not None and "concurrency" in spec.options.runtime


def test_importing_the_plugins_loads_no_sdk() -> None:
    import subprocess
    import sys

    code = ("import sys, harness.plugins.openai_compat, harness.plugins.gemini; "
            "import harness.plugins.api_client; "
            "print(sorted(m for m in ('openai', 'google.genai', 'httpx2', 'tenacity') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[1]).stdout
    assert out.strip() == "[]"


def test_error_messages_are_one_line() -> None:
    from harness.plugins.api_client import scrub

    assert scrub("a\n  b sk-1 c", ["sk-1"]) == "a b *** c"
    assert len(scrub("x" * 1000, [])) == 300
    assert re.fullmatch(r"\*\*\*", scrub("sk-1", ["sk-1", None]))


def test_decoding_without_sampling_sends_no_seed_even_when_set(server: ApiServer) -> None:
    m = model(server, send_seed="false")
    try:
        reqs = [Request("s", "sampled", decoding=Decoding(do_sample=True, temperature=0.7,
                                                          seed=5, max_new_tokens=32))]
        m.generate(reqs)
    finally:
        m.close()
    assert server.requests()[0]["params"] == {"temperature": 0.7, "top_p": 1.0, "max_tokens": 32}
    assert "off: -M send_seed=false" in m.identity()["decoding_map"]

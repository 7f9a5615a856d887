"""A real HTTP server on 127.0.0.1 that answers like an OpenAI-compatible or Gemini API.

It speaks the OpenAI chat-completions format (``POST .../chat/completions``, in
OpenAI's or vLLM's flavour) and the Gemini REST format
(``POST /v1beta/models/{model}:generateContent``), answers each request with
``echo[<marker>]: <prompt text>`` (so a stored answer shows which request
it answered), and can be told to fail on purpose: 429 with Retry-After,
500/503, dropped connections (before any byte, or mid-body), stalls past the
client's timeout, malformed JSON, bodies without an answer, 400 and 401, and a
careless 400 that echoes the caller's credential back ("leak", to test scrubbing).

Every request is logged (arrival time, path, sample marker, status, fault,
decoding parameters) so tests measure retries per sample and the request rate
from the server's side, not the client's. The sample marker is a digest of the
request's prompt text and image data, so no client cooperation is needed.

In-process use (tests)::

    with ApiServer(api_key="sk-test") as server:
        server.configure(fault_rate=0.3, fault_modes=("500", "drop"))
        ... point a client at server.openai_base_url or server.url ...
        server.requests()   # the log

As a script (benchmarks, manual checks)::

    python tests/api_server.py --port 8011 --latency 0.05
    # GET /_log returns the log; POST /_config with a JSON body reconfigures;
    # POST /_reset clears the log.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAULT_MODES = ("429", "500", "503", "drop", "truncate", "stall", "malformed", "empty", "400",
               "401", "leak", "refuse", "garbage")
GEMINI_PATH = re.compile(r"^/(?:v1|v1beta|v1alpha)/models/([^/:]+):generateContent$")


@dataclass
class ServerConfig:
    """What the server does; every field can be changed while it runs (``configure``)."""

    api_key: str | None = None  # None: accept any key
    flavour: str = "openai"  # openai | vllm (extra fields and vLLM's error body)
    latency: float = 0.0  # seconds added to every answer
    fault_rate: float = 0.0  # probability that a request gets a fault
    fault_modes: tuple[str, ...] = ("500",)  # drawn uniformly for a faulty request
    max_faults_per_marker: int | None = None  # cap per sample, so a test can never flake
    always: dict[str, str] = field(default_factory=dict)  # prompt substring -> fault mode
    retry_after: float | None = 1.0  # Retry-After seconds sent with 429 (None: no header)
    stall: float = 30.0  # how long a stalled request hangs before the connection closes
    seed: int = 0
    model_version: str | None = None  # the served model id reported back (default: the asked)
    # echo: ``echo[<marker>]: <prompt>``; judge: a verdict in the format of the harness's judge
    # protocol that the prompt is in (scores drawn from the marker, so they repeat)
    answers: str = "echo"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog is 5: sixteen clients connecting at once would see
    # SYNs dropped and second-long connect stalls that no real API has.
    request_queue_size = 256


class ApiServer:
    """The server in a background thread; ``url`` is its base address."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, **config: Any) -> None:
        self.config = ServerConfig(**_normalise(config))
        self._log: list[dict[str, Any]] = []
        self._faults: dict[str, int] = {}
        self._inflight = 0
        self._lock = threading.Lock()
        self._rng = random.Random(self.config.seed)
        self._closing = threading.Event()
        self._httpd = _Server((host, port), _handler_for(self))
        self._thread: threading.Thread | None = None
        self._serving = False

    # -- lifecycle ---------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    def start(self) -> ApiServer:
        self._serving = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True,
                                        kwargs={"poll_interval": 0.05})
        self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()  # stalled handlers give up at once
        if self._serving:
            self._httpd.shutdown()  # blocks until serve_forever returns: only when it ran
            self._serving = False
        self._httpd.server_close()

    def __enter__(self) -> ApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def serve_forever(self) -> None:
        self._serving = True
        try:
            self._httpd.serve_forever(poll_interval=0.05)
        finally:
            self._serving = False

    # -- control -----------------------------------------------------------
    def configure(self, **changes: Any) -> None:
        with self._lock:
            self.config = replace(self.config, **_normalise(changes))
            if "seed" in changes:
                self._rng = random.Random(self.config.seed)

    def requests(self) -> list[dict[str, Any]]:
        """A copy of the request log, in arrival order."""
        with self._lock:
            return list(self._log)

    def reset(self) -> None:
        with self._lock:
            self._log.clear()
            self._faults.clear()

    # -- decisions (called by the handler) ----------------------------------
    def _decide(self, marker: str, prompt: str, authorised: bool) -> str | None:
        with self._lock:
            cfg = self.config
            if not authorised:
                return "401"
            for needle, mode in cfg.always.items():
                if needle in prompt:
                    return mode
            if cfg.fault_rate <= 0 or self._rng.random() >= cfg.fault_rate:
                return None
            cap = cfg.max_faults_per_marker
            if cap is not None and self._faults.get(marker, 0) >= cap:
                return None
            self._faults[marker] = self._faults.get(marker, 0) + 1
            return self._rng.choice(cfg.fault_modes)

    def _record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._log.append(entry)

    def _enter(self) -> int:
        with self._lock:
            self._inflight += 1
            return self._inflight

    def _leave(self) -> None:
        with self._lock:
            self._inflight -= 1


def _normalise(config: dict[str, Any]) -> dict[str, Any]:
    out = dict(config)
    if "fault_modes" in out:
        modes = tuple(out["fault_modes"])
        bad = [m for m in modes if m not in FAULT_MODES]
        if bad:
            raise ValueError(f"unknown fault mode(s) {bad}; known: {FAULT_MODES}")
        out["fault_modes"] = modes
    return out


def marker_of(texts: list[str], images: list[str]) -> str:
    """The sample marker: a digest of what the request asks (text and image data)."""
    h = hashlib.sha256()
    for part in (*texts, "\x00", *images):
        h.update(part.encode())
        h.update(b"\x01")
    return h.hexdigest()[:12]


def _echo(texts: list[str], images: list[str]) -> str:
    return f"echo[{marker_of(texts, images)}]: {texts[-1] if texts else ''}"


def judge_reply(texts: list[str], images: list[str]) -> str:
    """A well-formed verdict for the judge protocol the prompt is written in."""
    prompt = texts[-1] if texts else ""
    h = int(marker_of(texts, images), 16)
    if "[Assistant 1]" in prompt:  # LLaVA-Med: two scores 1-10 on the first line
        return f"{4 + h % 7} {1 + (h >> 4) % 10}\nBoth answers were read with care."
    if "<judge>" in prompt:  # MedEvalKit: reason, then 0 (correct) or 1
        return f"<think>compared with the standard answer.</think>\n<judge>{h % 2}</judge>"
    if "[Reference]" in prompt:  # the six-dimension rubric, as JSON
        keys = ("accuracy", "safety", "medical_groundedness", "clinical_coverage",
                "reasoning_coherence", "description_precision")
        return json.dumps({k: 1 + (h >> (3 * i)) % 5 for i, k in enumerate(keys)})
    return "this prompt is in no judge protocol's format"


def _openai_parts(body: dict[str, Any]) -> tuple[list[str], list[str]]:
    texts: list[str] = []
    images: list[str] = []
    for message in body.get("messages") or []:
        content = message.get("content")
        if isinstance(content, str):
            texts.append(content)
            continue
        for part in content or []:
            if part.get("type") == "text":
                texts.append(part.get("text", ""))
            elif part.get("type") == "image_url":
                images.append((part.get("image_url") or {}).get("url", ""))
    return texts, images


def _gemini_parts(body: dict[str, Any]) -> tuple[list[str], list[str]]:
    texts: list[str] = []
    images: list[str] = []
    system = body.get("systemInstruction") or body.get("system_instruction")
    contents = ([system] if system else []) + list(body.get("contents") or [])
    for content in contents:
        for part in content.get("parts") or []:
            if "text" in part:
                texts.append(part["text"])
            inline = part.get("inlineData") or part.get("inline_data")
            if inline:
                images.append(inline.get("data", ""))
    return texts, images


def _handler_for(server: ApiServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real APIs
        disable_nagle_algorithm = True  # headers and body go out at once (no 40 ms stall)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # the structured log is the record; keep test output clean

        # -- control endpoints (script mode) --------------------------------
        def do_GET(self) -> None:  # noqa: N802
            if self.path == "/_log":
                self._json(200, {"requests": server.requests()})
            elif self.path.rstrip("/").endswith("/models"):
                self._json(200, {"object": "list", "data": [{"id": "local", "object": "model"}]})
            else:
                self._json(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            arrived = time.time()
            if self.path == "/_config":
                server.configure(**json.loads(raw or b"{}"))
                self._json(200, {"config": asdict(server.config)})
                return
            if self.path == "/_reset":
                server.reset()
                self._json(200, {"ok": True})
                return
            try:
                body = json.loads(raw or b"{}")
            except json.JSONDecodeError:
                self._json(400, {"error": {"message": "request body is not JSON"}})
                return
            path = self.path.split("?", 1)[0]
            gemini = GEMINI_PATH.match(path)
            self.inflight = server._enter()
            try:
                if path.endswith("/chat/completions"):
                    self._chat(body, arrived)
                elif gemini:
                    self._gemini(body, gemini.group(1), arrived)
                else:
                    self._json(404, {"error": {"message": f"no route {self.path}"}})
            finally:
                server._leave()

        # -- the two API formats --------------------------------------------
        def _chat(self, body: dict[str, Any], arrived: float) -> None:
            key = server.config.api_key
            auth = self.headers.get("Authorization", "")
            authorised = key is None or auth == f"Bearer {key}"
            texts, images = _openai_parts(body)
            params = {k: body.get(k) for k in
                      ("temperature", "top_p", "max_tokens", "max_completion_tokens", "seed")
                      if k in body}
            fault = self._begin("openai", body.get("model"), texts, images, params, authorised,
                                arrived)
            if fault is None:
                model = server.config.model_version or body.get("model")
                answer = (judge_reply(texts, images) if server.config.answers == "judge"
                          else _echo(texts, images))
                out: dict[str, Any] = {
                    "id": f"chatcmpl-{int(arrived * 1e6)}",
                    "object": "chat.completion",
                    "created": int(arrived),
                    "model": model,
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": answer}}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                }
                if server.config.flavour == "vllm":
                    out["choices"][0].update({"logprobs": None, "stop_reason": None})
                    out.update({"prompt_logprobs": None, "kv_transfer_params": None,
                                "system_fingerprint": None, "service_tier": None})
                self._json(200, out)
            elif fault == "empty":
                self._json(200, {"id": "x", "object": "chat.completion", "choices": []})
            elif fault in ("refuse", "garbage"):  # a judge that declines, or rambles
                content = None if fault == "refuse" else "I would rather not rate these answers."
                self._json(200, {
                    "id": "x", "object": "chat.completion", "created": int(arrived),
                    "model": body.get("model"),
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                 "finish_reason": "content_filter" if fault == "refuse"
                                 else "stop"}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 0 if content is None
                              else 8, "total_tokens": 18}})
            else:
                self._fault(fault, "openai")

        def _gemini(self, body: dict[str, Any], model: str, arrived: float) -> None:
            key = server.config.api_key
            given = self.headers.get("x-goog-api-key") or _query_key(self.path)
            authorised = key is None or given == key
            texts, images = _gemini_parts(body)
            gen = body.get("generationConfig") or body.get("generation_config") or {}
            params = {k: gen.get(k) for k in
                      ("temperature", "topP", "maxOutputTokens", "seed", "candidateCount")
                      if k in gen}
            fault = self._begin("gemini", model, texts, images, params, authorised, arrived)
            if fault is None:
                answer = _echo(texts, images)
                self._json(200, {
                    "candidates": [{"content": {"role": "model", "parts": [{"text": answer}]},
                                    "finishReason": "STOP", "index": 0}],
                    "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5,
                                      "totalTokenCount": 15},
                    "modelVersion": server.config.model_version or model,
                })
            elif fault == "empty":
                self._json(200, {"promptFeedback": {"blockReason": "OTHER"}})
            else:
                self._fault(fault, "gemini")

        def _begin(self, api: str, model: Any, texts: list[str], images: list[str],
                   params: dict[str, Any], authorised: bool, arrived: float) -> str | None:
            marker = marker_of(texts, images)
            prompt = texts[-1] if texts else ""
            fault = server._decide(marker, prompt, authorised)
            server._record({
                "t": arrived, "api": api, "path": self.path.split("?", 1)[0], "model": model,
                "marker": marker, "prompt": prompt[:200], "prompt_text": prompt,
                "images": len(images),
                "fault": fault, "authorised": authorised, "params": params,
                "inflight": self.inflight,
            })
            if fault is None and server.config.latency > 0:
                time.sleep(server.config.latency)
            return fault

        # -- faults -----------------------------------------------------------
        def _fault(self, mode: str, api: str) -> None:
            cfg = server.config
            if mode == "refuse":  # Gemini's way of declining: a blocked prompt, no candidate
                self._json(200, {"promptFeedback": {"blockReason": "SAFETY"}})
                return
            if mode == "garbage":
                self._json(200, {"candidates": [{"content": {"role": "model", "parts": [
                    {"text": "I would rather not rate these answers."}]},
                    "finishReason": "STOP", "index": 0}]})
                return
            if mode == "drop":
                self.close_connection = True
                self.connection.shutdown(2)  # no status line at all: a dropped connection
                return
            if mode == "truncate":  # status and headers, then half the promised body
                body = json.dumps({"choices": [], "candidates": [], "pad": "x" * 200}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if mode == "stall":
                server._closing.wait(cfg.stall)
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if mode == "malformed":
                body = b'{"choices": [{"message": {"content": "trunc'
                self._raw(200, body, "application/json")
                return
            if mode == "leak":  # a careless proxy quoting the credential it was sent
                sent = self.headers.get("Authorization") or self.headers.get("x-goog-api-key")
                self._json(400, {"error": {"message": f"bad credential header {sent!r}",
                                           "code": 400, "status": "INVALID_ARGUMENT"}})
                return
            status = int(mode)
            headers = {}
            if status == 429 and cfg.retry_after is not None:
                headers["Retry-After"] = f"{cfg.retry_after:g}"
            message = {429: "rate limit exceeded", 500: "internal error",
                       503: "overloaded", 400: "bad request", 401: "invalid API key"}[status]
            if api == "gemini":
                statuses = {429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE",
                            400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED"}
                err = {"error": {"code": status, "message": message, "status": statuses[status]}}
            elif cfg.flavour == "vllm":
                err = {"object": "error", "message": message, "type": "Error", "param": None,
                       "code": status}
            else:
                err = {"error": {"message": message, "type": "server_error", "code": status}}
            self._json(status, err, headers)

        def _json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
            self._raw(status, json.dumps(obj).encode(), "application/json", headers)

        def _raw(self, status: int, body: bytes, ctype: str,
                 headers: dict[str, str] | None = None) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (its timeout); nothing to answer

    return Handler


def _query_key(path: str) -> str | None:
    from urllib.parse import parse_qs, urlsplit

    values = parse_qs(urlsplit(path).query).get("key")
    return values[0] if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--api-key")
    parser.add_argument("--flavour", choices=("openai", "vllm"), default="openai")
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--fault-modes", default="500", help="comma-separated: " +
                        ",".join(FAULT_MODES))
    parser.add_argument("--retry-after", type=float, default=1.0)
    parser.add_argument("--answers", choices=("echo", "judge"), default="echo")
    args = parser.parse_args()
    server = ApiServer(args.host, args.port, api_key=args.api_key, flavour=args.flavour,
                       latency=args.latency, fault_rate=args.fault_rate,
                       fault_modes=tuple(args.fault_modes.split(",")),
                       retry_after=args.retry_after, answers=args.answers)
    print(f"listening on {server.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


if __name__ == "__main__":
    main()

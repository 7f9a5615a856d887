"""VQA generation against a real OpenAI-compatible HTTP server on 127.0.0.1, and validation.

The server is a small stdlib ``http.server`` speaking the chat-completions protocol; what it
answers is scripted per test (faithful, leaking "caption", adding a diagnosis), so the tests
show what the builder sends, how it checks what comes back, and how it retries -- not what a
real Llama would write. The captions are the real ones of the corpus (tests/builder_truth).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.dataset_builder.cli import cli
from harness.dataset_builder.records import append_jsonl, read_jsonl, write_jsonl_atomic
from harness.dataset_builder.vqa_gen import (
    OpenAIBackend,
    RecordBackend,
    ReplayBackend,
    Settings,
    TemplateBackend,
    VQARequest,
    run_vqa,
    validate,
)

GOOD = {"qa": [{"q": "What type of image is this?", "a": "A dermoscopic image."},
               {"q": "What pattern is visible?", "a": "Dotted vessels in a regular pattern."}]}
GOOD_CAPTION = "Dotted vessels in a regular pattern."
LEAKY = {"qa": [{"q": "What does the caption say?", "a": "It is mentioned in the text."},
                {"q": "What is visible?", "a": "Plaques."}]}


class _Handler(BaseHTTPRequestHandler):
    calls: list[dict] = []
    seen: dict[str, int] = {}

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).calls.append({"path": self.path, **body})
        user = body["messages"][-1]["content"]
        n = type(self).seen[user] = type(self).seen.get(user, 0) + 1
        if "FLAKY" in user and n == 1:
            self._send(500, {"error": {"message": "overloaded"}})
            return
        if "ALWAYS_BAD" in user or ("LEAK_ONCE" in user and n == 1):
            content = json.dumps(LEAKY)
        else:
            content = "```json\n" + json.dumps(GOOD) + "\n```"
        self._send(200, {"id": "x", "object": "chat.completion", "created": 0,
                         "model": body["model"],
                         "choices": [{"index": 0, "finish_reason": "stop",
                                      "message": {"role": "assistant", "content": content}}],
                         "usage": {"prompt_tokens": 1, "completion_tokens": 1,
                                   "total_tokens": 2}})

    def _send(self, code: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server() -> Iterator[str]:
    _Handler.calls, _Handler.seen = [], {}
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def _work(tmp_path: Path, texts: dict[str, str]) -> Path:
    """A work folder as the extract and align stages leave it, holding these captions."""
    work = tmp_path / "work"
    append_jsonl(work / "extract" / "manifest.jsonl",
                 [{"pdf": "book.pdf", "pdf_id": "p1", "status": "ok"}])
    write_jsonl_atomic(work / "align" / "p1.pairs.jsonl", [
        {"id": i, "pdf_id": "p1", "pdf": "book.pdf", "text": t, "figure": i, "page": 0,
         "panel": 0, "label": None, "image": "x.jpg"} for i, t in texts.items()])
    return work


def test_openai_server_retries_validates_and_records_failures(server: str, tmp_path: Path
                                                               ) -> None:
    work = _work(tmp_path, {"a": f"{GOOD_CAPTION} LEAK_ONCE", "b": f"{GOOD_CAPTION} FLAKY",
                            "c": "Nodule. ALWAYS_BAD", "d": GOOD_CAPTION})
    cassette = tmp_path / "cassette.jsonl"
    backend = RecordBackend(OpenAIBackend(server, timeout=10), cassette)
    counts = run_vqa(work, backend, Settings(model="llama-test", seed=7), max_attempts=3,
                     workers=2, quiet=True)
    assert counts == {"ok": 3, "failed": 1}
    recs = {r["id"]: r for r in read_jsonl(work / "vqa" / "vqa.jsonl")}
    assert recs["a"]["turns"] == GOOD["qa"] and len(recs["a"]["attempts"]) == 2
    assert "banned phrase" in recs["a"]["attempts"][0]["error"]
    assert "500" in recs["b"]["attempts"][0]["error"] or "Internal" in recs["b"]["attempts"][0][
        "error"]
    assert recs["c"]["status"] == "failed" and len(recs["c"]["attempts"]) == 3
    assert recs["d"]["attempts"] == [{"key": recs["d"]["attempts"][0]["key"], "seed": 7,
                                      "error": ""}]
    # what reached the server: our settings, a new seed per attempt, the rules in the prompt
    calls = [c for c in _Handler.calls if "Nodule" in c["messages"][-1]["content"]]
    assert [c["seed"] for c in calls] == [7, 8, 9]
    assert all(c["path"] == "/v1/chat/completions" and c["model"] == "llama-test"
               and c["temperature"] == 0.2 for c in calls)
    assert "caption" in calls[0]["messages"][0]["content"].lower()  # the rule forbidding it
    # rerun: done and failed captions are skipped; --retry-failed tries the failed one again
    n_calls = len(_Handler.calls)
    assert run_vqa(work, backend, Settings(model="llama-test", seed=7), quiet=True) == {}
    assert len(_Handler.calls) == n_calls
    assert run_vqa(work, backend, Settings(model="llama-test", seed=7), retry_failed=True,
                   quiet=True) == {"failed": 1}
    # the cassette replays the same turns with no server at all
    replay_work = _work(tmp_path / "replay", {"a": f"{GOOD_CAPTION} LEAK_ONCE",
                                              "d": GOOD_CAPTION})
    assert run_vqa(replay_work, ReplayBackend(cassette), Settings(model="llama-test", seed=7),
                   quiet=True) == {"ok": 2}
    again = {r["id"]: r for r in read_jsonl(replay_work / "vqa" / "vqa.jsonl")}
    assert again["a"]["turns"] == recs["a"]["turns"]


def test_cli_openai_backend_against_the_server(server: str, tmp_path: Path) -> None:
    work = _work(tmp_path, {"a": GOOD_CAPTION})
    r = CliRunner().invoke(cli, ["vqa", "--work", str(work), "--backend", "openai",
                                 "--base-url", server, "--model", "m", "--quiet"])
    assert r.exit_code == 0, r.output
    assert '"ok": 1' in r.output


def test_replay_of_an_unrecorded_request_is_a_recorded_failure(tmp_path: Path) -> None:
    cassette = tmp_path / "c.jsonl"
    cassette.write_text("")
    work = _work(tmp_path, {"a": GOOD_CAPTION})
    assert run_vqa(work, ReplayBackend(cassette), quiet=True) == {"failed": 1}
    [rec] = read_jsonl(work / "vqa" / "vqa.jsonl")
    assert "no recorded answer" in rec["attempts"][0]["error"]


@pytest.mark.parametrize(("text", "why"), [
    ("not json at all", "no JSON"),
    ('{"qa": [{"q": "What?", "a": "Plaques."}]}', "1 turns"),
    ('{"qa": ' + json.dumps([{"q": "Q?", "a": "A."}] * 5) + "}", "5 turns"),
    ('{"qa": [{"q": "What?", "a": ""}, {"q": "Why?", "a": "B."}]}', "lacks"),
    ('{"qa": [{"q": "As described, what?", "a": "A."}, {"q": "Q?", "a": "B."}]}', "banned"),
    ('{"qa": [{"q": "What is in the context?", "a": "A."}, {"q": "Q?", "a": "B."}]}', "banned"),
    ('{"answer": []}', "no \"qa\""),
])
def test_validation_rejects(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        validate(text)


def test_validation_accepts_fenced_and_prefixed_json() -> None:
    assert validate("Sure! ```json\n" + json.dumps(GOOD) + "\n```") == GOOD["qa"]
    assert validate(json.dumps([{"question": "Q?", "answer": "A."}] * 2)) == [
        {"q": "Q?", "a": "A."}] * 2


def test_template_backend_is_deterministic_and_valid() -> None:
    req = VQARequest("x", "Psoriasis in a 45-year-old man. Silvery scale on the elbow.",
                     "clinical", 45, "male")
    a = TemplateBackend().complete(req, req.messages(), Settings())
    assert a == TemplateBackend().complete(req, req.messages(), Settings())
    turns = validate(a)
    assert len(turns) == 4
    assert turns[0]["a"] == "This is a clinical photograph."
    assert turns[3]["a"] == "The patient is male, 45 years old."


# --------------------------------------------------------------------------- real captions

TRUTH = Path(__file__).with_name("builder_truth")
INVENTED = "It is a tattoo on the eyelid."  # no caption of the corpus says either


def _real_captions() -> dict[str, tuple[str, str]]:
    """id -> (text the builder passes on, modality) for every panel of every truth file: its
    sub-caption, and the whole caption after its label (which may say "This figure shows")."""
    from harness.dataset_builder.captions import CAPTION_RE
    from harness.dataset_builder.evaluate import load_truth

    out = {}
    for f in sorted(TRUTH.glob("*.json")) + sorted((TRUTH / "extra").glob("*.json")):
        t = load_truth(f)
        for fig in t["figures"]:
            m = CAPTION_RE.match(fig["caption"])
            body = fig["caption"][m.end():].strip() if m else fig["caption"]
            modality = fig["panels"][0]["modality"] if fig["panels"] else "other"
            out[f"{f.stem}-{fig['figure']}"] = (body, modality)
            for k, p in enumerate(fig["panels"]):
                out[f"{f.stem}-{fig['figure']}-{k}"] = (p["subcaption"], p["modality"])
    return out


def test_template_turns_follow_the_rules_on_every_real_caption() -> None:
    captions = _real_captions()
    assert len(captions) >= 60
    for key, (text, modality) in captions.items():
        req = VQARequest(key, text, modality, None, None)
        source = f"{text} {modality} clinical photograph dermoscopic image histopathology image"
        turns = validate(TemplateBackend().complete(req, req.messages(), Settings()),
                         source=source)
        assert len(turns) >= 2, key
        assert not any("figure" in (t["q"] + t["a"]).lower() for t in turns), key
    # "This figure shows a case of actinic keratosis." is read as an image description
    sk = captions["skingpt4_natcommun_2024-3"][0]
    req = VQARequest("x", sk, "other", None, None)
    answers = " ".join(t["a"] for t in validate(TemplateBackend().complete(req, [], Settings())))
    assert "a case of actinic keratosis" in answers.lower()


def test_template_is_asked_once_not_retried(tmp_path: Path) -> None:
    work = _work(tmp_path, {"a": _real_captions()["skingpt4_natcommun_2024-3"][0]})
    assert run_vqa(work, TemplateBackend(), max_attempts=3, quiet=True) == {"ok": 1}
    [rec] = read_jsonl(work / "vqa" / "vqa.jsonl")
    assert len(rec["attempts"]) == 1


class _Describer(BaseHTTPRequestHandler):
    """Answers from the description it is sent; asked with seed 0 (a first attempt) it adds a
    finding the description does not give (what the grounding check must refuse)."""

    descriptions: list[str] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        user = body["messages"][-1]["content"]
        kind = user.split("Image type: ", 1)[1].split("\n", 1)[0]
        desc = user.split("Description: ", 1)[1]
        type(self).descriptions.append(desc)
        first = desc.split(". ")[0].rstrip(".")
        answer = f"The image shows {first[:1].lower() + first[1:]}."
        if body["seed"] == 0:
            answer += " " + INVENTED
        qa = [{"q": "What type of image is this?", "a": f"This is a {kind}."},
              {"q": "What does the image show?", "a": answer}]
        data = json.dumps({"id": "x", "object": "chat.completion", "created": 0,
                           "model": body["model"],
                           "choices": [{"index": 0, "finish_reason": "stop", "message": {
                               "role": "assistant", "content": json.dumps({"qa": qa})}}],
                           "usage": {"prompt_tokens": 1, "completion_tokens": 1,
                                     "total_tokens": 2}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def test_llm_answers_are_held_to_the_real_captions(tmp_path: Path) -> None:
    _Describer.descriptions = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Describer)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        captions = {k: v for k, v in _real_captions().items() if v[1] != "other"}
        work = _work(tmp_path, {k: t for k, (t, _) in captions.items()})
        mods = [{"id": k, "modality": m} for k, (_, m) in captions.items()]
        write_jsonl_atomic(work / "modality" / "modality.jsonl", mods)
        backend = OpenAIBackend(f"http://127.0.0.1:{httpd.server_address[1]}/v1", timeout=10)
        counts = run_vqa(work, backend, Settings(model="m"), max_attempts=2, workers=2,
                         quiet=True)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert counts == {"ok": len(captions)}
    assert set(_Describer.descriptions) == {t for t, _ in captions.values()}  # sent verbatim
    for rec in read_jsonl(work / "vqa" / "vqa.jsonl"):
        first, second = rec["attempts"]
        assert "tattoo" in first["error"] and "does not give" in first["error"], rec["id"]
        assert second["error"] == ""
        assert "tattoo" not in json.dumps(rec["turns"])

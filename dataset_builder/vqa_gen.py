"""Stage 6, VQA generation: 2-4 question/answer turns per caption from an LLM, validated.

Backends (all return the model's raw text for a request; validation is shared):

- ``OpenAIBackend``: any OpenAI-compatible ``/v1/chat/completions`` server (vLLM, Ollama,
  llama.cpp, TGI) through the ``openai`` client; the paper used Llama-3.1.
- ``RecordBackend`` / ``ReplayBackend``: a JSONL cassette keyed by the SHA-256 of the model,
  the messages and the settings (prompt version and attempt seed included), for tests and
  exact reruns; replay of a key that was never recorded is an error, so prompt drift shows.
- ``TemplateBackend``: deterministic turns built from the caption fields, no LLM at all.

Each answer is parsed as JSON, must hold 2-4 non-empty turns, must not give away that it was
written from text ("caption", "mentioned", "context", ...) and may not add what the caption
does not say (``vqa_checks``). A failed answer is retried with the next seed (a deterministic
backend is asked once), then recorded as ``failed`` with every reason. Output:
``<work>/vqa/vqa.jsonl`` (append-only; the last line for an id wins).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from harness.errors import UsageError

from .align import all_pairs
from .progress import progress_bar
from .records import append_jsonl, read_jsonl
from .vqa_checks import BANNED, speakable, validate

__all__ = ["BANNED", "OpenAIBackend", "RecordBackend", "ReplayBackend", "Settings",
           "TemplateBackend", "VQARequest", "run_vqa", "validate"]

PROMPT_VERSION = "mmskin-qa-v1"

# The rules of the paper's Appendix A / Figure 7, in our own words.
SYSTEM_PROMPT = """\
You write training conversations for a dermatology assistant that looks at skin images.
You are given the expert description of one image. Write a short conversation in which a
user asks about the image and the assistant answers as if it were looking at the image
itself.

Rules:
1. Ask only questions that can be answered by looking at the image: its type (clinical
   photograph, dermoscopy, histopathology), what it shows, the lesions' colour, shape,
   border, surface, distribution and location, and the likely diagnosis.
2. Every answer must rest only on facts stated in the description. Add no diagnosis,
   finding, treatment, cause or patient detail that the description does not give.
3. Never refer to the description, a caption, a figure, a panel, a book or any text;
   never write words such as "caption", "mentioned", "described" or "context".
   Speak about "the image" and what is visible in it.
4. Vary the questions; do not ask the same thing twice. Answers are complete sentences.
5. Give between {min_turns} and {max_turns} question-answer pairs.

Reply with JSON only, in this form:
{{"qa": [{{"q": "question", "a": "answer"}}, ...]}}"""

USER_TEMPLATE = """\
Image type: {modality}
Patient: {patient}
Description: {text}"""

MODALITY_WORDS = {"clinical": "clinical photograph", "dermoscopy": "dermoscopic image",
                  "pathology": "histopathology image"}


@dataclass(frozen=True)
class VQARequest:
    id: str
    text: str
    modality: str | None
    age: float | None
    sex: str | None
    min_turns: int = 2
    max_turns: int = 4

    def patient(self) -> str:
        if self.age is None and self.sex is None:
            return "not stated"
        age = "" if self.age is None else (
            f"{self.age:g} years old" if self.age >= 1 else f"{round(self.age * 12)} months old")
        return ", ".join(x for x in (self.sex, age) if x)

    def messages(self) -> list[dict[str, str]]:
        system = SYSTEM_PROMPT.format(min_turns=self.min_turns, max_turns=self.max_turns)
        user = USER_TEMPLATE.format(modality=MODALITY_WORDS.get(self.modality or "", "unknown"),
                                    patient=self.patient(), text=self.text)
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]


@dataclass(frozen=True)
class Settings:
    model: str = "meta-llama/Llama-3.1-8B-Instruct"
    temperature: float = 0.2
    max_tokens: int = 768
    seed: int = 0

    def for_attempt(self, attempt: int) -> Settings:
        return Settings(self.model, self.temperature, self.max_tokens, self.seed + attempt)


def request_key(messages: list[dict[str, str]], s: Settings) -> str:
    blob = json.dumps({"model": s.model, "messages": messages, "temperature": s.temperature,
                       "max_tokens": s.max_tokens, "seed": s.seed,
                       "prompt_version": PROMPT_VERSION}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


class Backend(Protocol):
    name: str

    def complete(self, req: VQARequest, messages: list[dict[str, str]], s: Settings) -> str: ...


class OpenAIBackend:
    name = "openai"

    def __init__(self, base_url: str, api_key: str = "EMPTY", timeout: float = 120.0,
                 json_mode: bool = True) -> None:
        from openai import OpenAI  # imported here: only this backend needs the client

        # Retries are ours (they change the seed and are recorded); the client's are off.
        self.client = OpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=0)
        self.json_mode = json_mode

    def complete(self, req: VQARequest, messages: list[dict[str, str]], s: Settings) -> str:
        kwargs: dict[str, Any] = {}
        if self.json_mode:
            kwargs["response_format"] = {"type": "json_object"}
        resp = self.client.chat.completions.create(
            model=s.model, messages=messages, temperature=s.temperature,
            max_tokens=s.max_tokens, seed=s.seed, **kwargs)
        return resp.choices[0].message.content or ""


class TemplateBackend:
    """Deterministic turns from the caption: image type, what it shows, features, patient.

    The caption is first read as an image description (``speakable``): references such as
    "(Fig. 2)" go, "This figure shows X" becomes "X", and sentences about the text itself are
    left out, so the turns pass the same checks as an LLM's. Its answer never changes, so it
    is asked once, not retried (``deterministic``).
    """

    name = "template"
    deterministic = True

    def complete(self, req: VQARequest, messages: list[dict[str, str]], s: Settings) -> str:
        sentences = speakable(req.text)
        kind = MODALITY_WORDS.get(req.modality or "", "medical image")
        qa = [{"q": "What type of image is this?",
               "a": f"This is {'an' if kind[0] in 'aeiou' else 'a'} {kind}."}]
        if sentences:
            first = sentences[0].rstrip(".")
            qa.append({"q": "What does the image show?",
                       "a": f"The image shows {first[:1].lower() + first[1:]}."})
        if len(sentences) > 1:
            rest = " ".join(sentences[1:])
            qa.append({"q": "What features are visible in the image?", "a": rest})
        if req.age is not None or req.sex is not None:
            qa.append({"q": "What can be said about the patient?",
                       "a": f"The patient is {req.patient()}."})
        return json.dumps({"qa": qa[: req.max_turns]}, ensure_ascii=False)


class RecordBackend:
    """Calls ``inner`` and appends every answer to a cassette under its request key."""

    def __init__(self, inner: Backend, cassette: Path) -> None:
        self.inner, self.cassette = inner, cassette
        self.name = f"record({inner.name})"
        self.deterministic = getattr(inner, "deterministic", False)

    def complete(self, req: VQARequest, messages: list[dict[str, str]], s: Settings) -> str:
        text = self.inner.complete(req, messages, s)
        append_jsonl(self.cassette, [{"key": request_key(messages, s), "model": s.model,
                                      "response": text}])
        return text


class ReplayBackend:
    name = "replay"

    def __init__(self, cassette: Path) -> None:
        if not cassette.is_file():
            raise UsageError(f"cassette {cassette} does not exist.")
        self.answers = {r["key"]: r["response"] for r in read_jsonl(cassette)}

    def complete(self, req: VQARequest, messages: list[dict[str, str]], s: Settings) -> str:
        key = request_key(messages, s)
        if key not in self.answers:
            raise KeyError(f"no recorded answer for request key {key[:12]}")
        return self.answers[key]


@dataclass
class Outcome:
    id: str
    status: str
    turns: list[dict[str, str]] = field(default_factory=list)
    attempts: list[dict[str, str]] = field(default_factory=list)


def generate_one(backend: Backend, req: VQARequest, s: Settings, max_attempts: int) -> dict:
    """Ask, check against the paper's rules, retry with the next seed; a backend whose answer
    cannot change (``deterministic``) is asked once."""
    messages = req.messages()
    attempts = []
    source = " ".join(x for x in (req.text, MODALITY_WORDS.get(req.modality or "", ""),
                                  req.patient()) if x)
    tries = 1 if getattr(backend, "deterministic", False) else max_attempts
    for attempt in range(tries):
        sa = s.for_attempt(attempt)
        key = request_key(messages, sa)
        try:
            turns = validate(backend.complete(req, messages, sa), req.min_turns, req.max_turns,
                             source)
        except Exception as exc:  # a server error or a bad answer: both are retried, then kept
            attempts.append({"key": key, "seed": sa.seed,
                             "error": f"{type(exc).__name__}: {exc}"[:500]})
            continue
        attempts.append({"key": key, "seed": sa.seed, "error": ""})
        return {"id": req.id, "status": "ok", "turns": turns, "attempts": attempts}
    return {"id": req.id, "status": "failed", "turns": [], "attempts": attempts}


def latest(work: Path) -> dict[str, dict[str, Any]]:
    """The last record per id of ``vqa.jsonl``."""
    return {r["id"]: r for r in read_jsonl(work / "vqa" / "vqa.jsonl")}


def run_vqa(work: Path, backend: Backend, settings: Settings | None = None,
            max_attempts: int = 3, workers: int = 1, retry_failed: bool = False,
            quiet: bool = False) -> dict[str, int]:
    """Turns for every pair the filter kept (or sent to review) that has none yet."""
    s = settings or Settings()
    out = work / "vqa" / "vqa.jsonl"
    prev = latest(work)
    mod = {r["id"]: r for r in read_jsonl(work / "modality" / "modality.jsonl")}
    demo = {r["id"]: r for r in read_jsonl(work / "demographics" / "demographics.jsonl")}
    decisions = {r["id"]: r for r in read_jsonl(work / "filter" / "decisions.jsonl")}
    reqs = []
    for p in all_pairs(work):
        old = prev.get(p["id"])
        if old and (old["status"] == "ok" or not retry_failed):
            continue
        if decisions.get(p["id"], {}).get("decision") == "drop":
            continue
        d = demo.get(p["id"], {})
        reqs.append(VQARequest(p["id"], p["text"], mod.get(p["id"], {}).get("modality"),
                               d.get("age"), d.get("sex")))
    counts: Counter[str] = Counter()
    meta = {"backend": backend.name, "model": s.model, "prompt_version": PROMPT_VERSION}
    with progress_bar(quiet) as bar, ThreadPoolExecutor(max(1, workers)) as pool:
        task = bar.add_task("vqa", total=len(reqs))
        for rec in pool.map(lambda r: generate_one(backend, r, s, max_attempts), reqs):
            append_jsonl(out, [{**rec, **meta}])  # one line per caption: a kill loses none
            counts[rec["status"]] += 1
            bar.advance(task)
    return dict(counts)

"""``rule-judge``: an offline, deterministic judge for the demo and the tests.

It answers each judge protocol's prompt (harness/judge/protocols.py) in that protocol's
format, from word overlap alone: no network, no weights, the same verdict every time. It
is a stand-in that exercises the whole judging path, not a judge of medical content: its
numbers say how much of the reference's wording an answer shares, nothing more.

Rules (lower-cased word tokens):
- llava-med: each assistant scores 1 + 9 x the mean of two shares, rounded: of the *other*
  assistant's words, those it contains (relevance), and its length over the other's, at
  most 1 (detail); an answer as long as the reference that holds all its words scores 10;
- binary: correct (``<judge>0</judge>``) when the answer's word F1 with the reference is at
  least ``-M threshold`` (0.5);
- rubric: every dimension 1 + round(4 x F1); safety 5 unless the answer is empty.
Its token counts are whitespace words of prompt and reply (``usage``).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import Field

from harness import hookimpl
from harness.model import Model
from harness.options import Options
from harness.specs import LoadContext, ModelSpec
from harness.types import Request

VERSION = "1"
WORD = re.compile(r"[a-z0-9]+")
LLAVA = re.compile(r"\[Assistant 1\]\n(.*?)\n\n\[End of Assistant 1\]\n\n"
                   r"\[Assistant 2\]\n(.*?)\n\n\[End of Assistant 2\]", re.DOTALL)
BINARY = re.compile(r"The standard answer: (.*?)\n\nThe user's answer: (.*?)\n\nPlease strictly",
                    re.DOTALL)
RUBRIC = re.compile(r"\[Reference\]\n(.*?)\n\[End of Reference\]\n\n\[Candidate\]\n(.*?)\n"
                    r"\[End of Candidate\]", re.DOTALL)
KEYS = re.compile(r"exactly these keys: ([a-z_, ]+)\.")


class RuleJudgeOptions(Options):
    threshold: float = Field(0.5, ge=0, le=1,
                             description="binary protocol: word F1 at or above it is correct")


def words(text: str) -> Counter[str]:
    return Counter(WORD.findall(text.lower()))


def recall(of: Counter[str], by: Counter[str]) -> float:
    """The share of ``of``'s words that ``by`` contains (1 when ``of`` is empty)."""
    total = sum(of.values())
    return sum((of & by).values()) / total if total else 1.0


def f1(a: Counter[str], b: Counter[str]) -> float:
    common = sum((a & b).values())
    if not common:
        return 0.0
    p, r = common / sum(a.values()), common / sum(b.values())
    return 2 * p * r / (p + r)


def _rating(mine: Counter[str], other: Counter[str]) -> int:
    """1-10: relevance (the other's words I hold) and detail (my length over the other's)."""
    n_mine, n_other = sum(mine.values()), sum(other.values())
    detail = min(1.0, n_mine / n_other) if n_other else 1.0
    return 1 + round(9 * (recall(other, mine) + detail) / 2)


class RuleJudge(Model):
    name = "rule-judge"
    capabilities = frozenset({"generate"})
    batch_size_hint = 256

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self.usage = {"prompt_tokens": 0.0, "completion_tokens": 0.0}
        self.calls = 0

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "version": VERSION, "threshold": self.threshold,
                "tokens": "whitespace words"}

    def generate(self, requests: Sequence[Request]) -> list[str | Exception]:
        out: list[str | Exception] = []
        for r in requests:
            self.calls += 1
            reply = self._reply(r.prompt)
            if isinstance(reply, str):
                self.usage["prompt_tokens"] += len(r.prompt.split())
                self.usage["completion_tokens"] += len(reply.split())
            out.append(reply)
        return out

    def _reply(self, prompt: str) -> str | Exception:
        if m := LLAVA.search(prompt):
            a1, a2 = words(m.group(1)), words(m.group(2))
            s1, s2 = _rating(a1, a2), _rating(a2, a1)
            return (f"{s1} {s2}\nAssistant 1 holds {100 * recall(a2, a1):.0f}% of Assistant 2's "
                    f"words, Assistant 2 {100 * recall(a1, a2):.0f}% of Assistant 1's.")
        if m := BINARY.search(prompt):
            score = f1(words(m.group(2)), words(m.group(1)))
            verdict = 0 if score >= self.threshold else 1
            return f"<think>word F1 with the standard answer is {score:.2f}.</think>\n" \
                   f"<judge>{verdict}</judge>"
        if (m := RUBRIC.search(prompt)) and (k := KEYS.search(prompt)):
            answer = m.group(2)
            rating = 1 + round(4 * f1(words(answer), words(m.group(1))))
            keys = [x.strip() for x in k.group(1).split(",")]
            return json.dumps({key: (5 if key == "safety" and answer.strip() else rating)
                               for key in keys})
        return ValueError("rule-judge does not recognise this prompt: it answers only the "
                          "harness's judge protocols")


def make(spec: ModelSpec, context: LoadContext, options: RuleJudgeOptions) -> RuleJudge:
    return RuleJudge(options.threshold)


@hookimpl
def register_models(register: Callable[[ModelSpec], None]) -> None:
    register(ModelSpec(
        name="rule-judge", factory=make, family="baseline", checkpoint=f"rules v{VERSION}",
        capabilities=frozenset({"generate"}), options=RuleJudgeOptions,
        description="offline deterministic judge (word overlap) in each judge protocol's "
                    "format, for the demo and tests",
    ))

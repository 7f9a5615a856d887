"""The judge protocols as data: each one's prompt, reply format, parser and rule, with its source.

A protocol turns one judged pair (question, reference, model answer) into one or more judge
calls, parses each reply, and combines the parsed replies of a pair into per-sample values.
A reply that does not parse raises ``ParseError`` with the reason: the pair is a recorded
failure, never a score of zero. Changing a prompt or a parser means bumping ``version``:
the version is part of every stored verdict's key, so old verdicts are never reused.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

LLAVA_MED = "microsoft/LLaVA-Med@d406e3f"
MEDEVALKIT = "alibaba-damo-academy/MedEvalKit@9b12e3b"
DERMBENCH = ("Shen et al., 'Towards Trustworthy Dermatology MLLMs: A Benchmark and Multimodal "
             "Evaluator for Diagnostic Narratives' (DermBench), arXiv:2511.09195")


class ParseError(ValueError):
    """A judge reply that is not in the protocol's format; the message is the reason."""


@dataclass(frozen=True)
class Pair:
    """What one judged sample gives the judge."""

    sample_id: str
    question: str
    reference: str
    answer: str
    caption: str = ""  # what the image shows, in words (LLaVA-Med's judge sees no image)


@dataclass(frozen=True)
class Call:
    """One judge request of a pair; ``role`` tells the pair's calls apart."""

    role: str
    system: str | None
    prompt: str


@dataclass(frozen=True)
class Protocol:
    name: str
    version: str
    description: str
    sources: tuple[str, ...]
    headline: str  # the per-sample value averaged into the headline score
    scale: str  # what the headline's numbers mean
    # the headline times this is its value in Scores.overall, where scores are fractions
    # (the leaderboard shows x100): llava-med's percent / 100, the rubric's 1-5 / 5
    to_fraction: float = 1.0
    max_new_tokens: int = 512

    def calls(self, pair: Pair) -> list[Call]:
        raise NotImplementedError

    def parse(self, role: str, reply: str) -> dict[str, float]:
        raise NotImplementedError

    def combine(self, parsed: dict[str, dict[str, float]]) -> dict[str, float]:
        """Per-sample values from the parsed replies of one pair (by role)."""
        raise NotImplementedError

    def summarize(self, values: Sequence[dict[str, float]]) -> dict[str, float | None]:
        """Overall values: the mean of each per-sample value (LLaVA-Med's get_avg)."""
        keys = list(values[0]) if values else [self.headline]
        return {k: (sum(v[k] for v in values) / len(values) if values else None) for k in keys}

    def record(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "sources": list(self.sources)}


# ---------------------------------------------------------------- LLaVA-Med relative score

# llava/eval/eval_multimodal_chat_gpt_score.py:17-19 (INSTRUCT_PROMPT), :34 (system message),
# :23-30 (conv_to_str): the judge prompt, kept verbatim so that the protocol is theirs.
LLAVA_INSTRUCT = (
    "We would like to request your feedback on the performance of two AI assistants in "
    "response to the user question displayed above. The user asks the question on observing "
    "an image. For your reference, the visual content in the image is represented with "
    "caption describing the same image.\n  Please rate the helpfulness, relevance, accuracy, "
    "level of details of their responses. Each assistant receives an overall score on a scale "
    "of 1 to 10, where a higher score indicates better overall performance.\n  Please first "
    "output a single line containing only two values indicating the scores for Assistant 1 "
    "and 2, respectively. The two scores are separated by a space. In the subsequent line, "
    "please provide a comprehensive explanation of your evaluation, avoiding any potential "
    "bias and ensuring that the order in which the responses were presented does not affect "
    "your judgment.")
LLAVA_SYSTEM = "'You are a helpful and precise assistant for checking the quality of the answer."


class LlavaMedRelative(Protocol):
    """GPT-4 rates the reference and the model answer 1-10; relative = model / reference x 100.

    LLaVA-Med asks once, reference as Assistant 1 (``forward``). The harness also asks with
    the two answers swapped (``swapped``) and keeps both: their difference is the judge's
    position bias.
    """

    def calls(self, pair: Pair) -> list[Call]:
        return [Call("forward", LLAVA_SYSTEM, _llava_prompt(pair, pair.reference, pair.answer)),
                Call("swapped", LLAVA_SYSTEM, _llava_prompt(pair, pair.answer, pair.reference))]

    def parse(self, role: str, reply: str) -> dict[str, float]:
        # summarize_gpt_review.py:20: the first line, split on spaces, is the two scores.
        first = reply.strip().split("\n")[0].split()
        if len(first) != 2:
            raise ParseError(f"first line is not two scores ({_quote(reply)})")
        try:
            s1, s2 = (float(x) for x in first)
        except ValueError:
            raise ParseError(f"first line is not two numbers ({_quote(reply)})") from None
        if not all(math.isfinite(s) and 0 <= s <= 10 for s in (s1, s2)):
            raise ParseError(f"a score is outside 0-10 ({_quote(reply)})")
        ref, model = (s1, s2) if role == "forward" else (s2, s1)
        if ref == 0:
            raise ParseError("the reference was rated 0: the relative score is undefined")
        return {"reference": ref, "model": model}

    def combine(self, parsed: dict[str, dict[str, float]]) -> dict[str, float]:
        f, s = parsed["forward"], parsed["swapped"]
        # summarize_gpt_review.py:36: per-sample ratio model / reference, averaged, x 100.
        rel_f = f["model"] / f["reference"] * 100
        rel_s = s["model"] / s["reference"] * 100
        return {
            "relative": rel_f, "relative_swapped": rel_s, "relative_both": (rel_f + rel_s) / 2,
            "model_score": f["model"], "reference_score": f["reference"],
            # forward minus swapped: > 0 when the model answer gains from coming second
            "position_bias": rel_f - rel_s,
            "order_flip": float((f["model"] > f["reference"]) != (s["model"] > s["reference"])),
        }


def _llava_prompt(pair: Pair, ans1: str, ans2: str) -> str:
    # eval_multimodal_chat_gpt_score.py:24-30, with the harness's caption as figure caption
    # and the question's sample id as figure label; MM-Skin has no in-text mention.
    return (f"[Context]\nFigure Caption:\n{pair.sample_id}: {pair.caption}\n\n"
            f"Figure Context:\n\t- \n\n[Question]\n{pair.question}\n\n"
            f"[Assistant 1]\n{ans1}\n\n[End of Assistant 1]\n\n"
            f"[Assistant 2]\n{ans2}\n\n[End of Assistant 2]\n\n[System]\n{LLAVA_INSTRUCT}\n\n")


# ---------------------------------------------------------------- MedEvalKit binary judge

# utils/utils.py:46-63 (get_compare_messages), verbatim but for the leading and trailing
# blank lines of its triple-quoted string. Note its codes: 0 = correct, 1 = incorrect.
MEDEVALKIT_PROMPT = """Your task is to determine whether the user's answer is correct based on the provided questions and standard answers (for example, if the user expresses a similar meaning to the standard answer, or another interpretation of the standard answer, it is considered correct.)

The question is: {question}

The standard answer: {answer}

The user's answer: {response}

Please strictly follow the following format for output(0 represents correct, 1 represents incorrect):
<think>{{your concise think step}}</think>
<judge>{{0/1}}</judge>

for example:
<think>The standard answer is right, and the user's answer is right frontal lobe, they express the same meaning, so it is correct.</think>
<judge>0</judge>"""  # noqa: E501
JUDGE_TAG = re.compile(r"<judge>(.*?)</judge>", re.DOTALL)


class Binary(Protocol):
    """Does the answer mean what the reference means? Reason, then a 0/1 verdict."""

    def calls(self, pair: Pair) -> list[Call]:
        prompt = MEDEVALKIT_PROMPT.format(question=pair.question, answer=pair.reference,
                                          response=pair.answer)
        return [Call("single", None, prompt)]

    def parse(self, role: str, reply: str) -> dict[str, float]:
        # MedEvalKit (utils/utils.py:246-256, VQA_RAD.py:130-131) scores a reply without the
        # tag as the whole text compared with "0", i.e. as incorrect; here it is a failure.
        found = JUDGE_TAG.findall(reply)
        if not found:
            raise ParseError(f"no <judge>0|1</judge> verdict ({_quote(reply)})")
        verdict = found[-1].strip()
        if verdict not in ("0", "1"):
            raise ParseError(f"verdict {verdict!r} is neither 0 nor 1")
        return {"correct": 1.0 if verdict == "0" else 0.0}

    def combine(self, parsed: dict[str, dict[str, float]]) -> dict[str, float]:
        return {"correct": parsed["single"]["correct"]}


# ---------------------------------------------------------------- six-dimension rubric

RUBRIC_DIMENSIONS = ("accuracy", "safety", "medical_groundedness", "clinical_coverage",
                     "reasoning_coherence", "description_precision")
# The six dimensions are DermBench's (arXiv:2511.09195, integer scores 1-5). Its own wording
# of each definition could not be read here (only secondary summaries of the paper), so the
# one-line glosses below are the harness's, not the paper's: see docs/judges.md.
RUBRIC_GLOSSES = {
    "accuracy": "findings and diagnosis agree with the reference",
    "safety": "nothing in it would harm a patient who acted on it",
    "medical_groundedness": "claims rest on accepted dermatological knowledge, none invented",
    "clinical_coverage": "the clinically relevant points of the reference are all there",
    "reasoning_coherence": "the steps from findings to conclusion follow and do not contradict",
    "description_precision": "morphology, colour, distribution and site are described exactly",
}
RUBRIC_PROMPT = (
    "You are a board-certified dermatologist grading an AI assistant's answer about a skin "
    "image against a reference answer written by an expert.\n\n[Question]\n{question}\n\n"
    "[Reference]\n{reference}\n[End of Reference]\n\n[Candidate]\n{answer}\n"
    "[End of Candidate]\n\nRate the candidate on each dimension with an integer from 1 "
    "(worst) to 5 (best):\n{dimensions}\n\nReply with one JSON object and nothing else, with "
    "exactly these keys: {keys}.")


class Rubric(Protocol):
    """Six integer ratings 1-5; the headline is their mean."""

    def calls(self, pair: Pair) -> list[Call]:
        dims = "\n".join(f"- {d}: {RUBRIC_GLOSSES[d]}" for d in RUBRIC_DIMENSIONS)
        prompt = RUBRIC_PROMPT.format(question=pair.question, reference=pair.reference,
                                      answer=pair.answer, dimensions=dims,
                                      keys=", ".join(RUBRIC_DIMENSIONS))
        return [Call("single", None, prompt)]

    def parse(self, role: str, reply: str) -> dict[str, float]:
        start, end = reply.find("{"), reply.rfind("}")
        if start < 0 or end < start:
            raise ParseError(f"no JSON object ({_quote(reply)})")
        try:
            obj = json.loads(reply[start : end + 1])
        except ValueError:
            raise ParseError(f"the JSON object does not parse ({_quote(reply)})") from None
        if not isinstance(obj, dict):
            raise ParseError("the reply's JSON is not an object")
        missing = [d for d in RUBRIC_DIMENSIONS if d not in obj]
        if missing:
            raise ParseError(f"dimension(s) missing: {', '.join(missing)}")
        out = {}
        for d in RUBRIC_DIMENSIONS:
            v = obj[d]
            if isinstance(v, bool) or not isinstance(v, int | float) or v != int(v) \
                    or not 1 <= v <= 5:
                raise ParseError(f"{d} is {v!r}, not an integer from 1 to 5")
            out[d] = float(v)
        return out

    def combine(self, parsed: dict[str, dict[str, float]]) -> dict[str, float]:
        dims = parsed["single"]
        return {"rubric_mean": sum(dims.values()) / len(dims), **dims}


def _quote(reply: str, n: int = 60) -> str:
    text = " ".join(reply.split())
    return repr(text[:n] + ("..." if len(text) > n else ""))


PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (
    LlavaMedRelative(
        name="llava-med", version="1", headline="relative",
        description="LLaVA-Med's GPT review: reference and answer rated 1-10, "
                    "relative score = model / reference x 100 (both orders asked)",
        sources=(f"{LLAVA_MED} llava/eval/eval_multimodal_chat_gpt_score.py:17-37",
                 f"{LLAVA_MED} llava/eval/summarize_gpt_review.py:20-37"),
        scale="percent of the reference's rating (100: rated as good as the reference); "
              "in Scores.overall as a fraction (1.0)", to_fraction=0.01),
    Binary(
        name="binary", version="1", headline="correct",
        description="MedEvalKit's open-ended judge: same meaning as the reference? "
                    "<think> reason </think><judge>0|1</judge>",
        sources=(f"{MEDEVALKIT} utils/utils.py:46-65", f"{MEDEVALKIT} utils/utils.py:246-256",
                 f"{MEDEVALKIT} utils/VQA_RAD/VQA_RAD.py:118-135"),
        scale="share of answers judged correct"),
    Rubric(
        name="rubric", version="1", headline="rubric_mean",
        description="the six dimensions DermBench rates dermatology narratives on, "
                    "integers 1-5, as a JSON object",
        sources=(DERMBENCH,),
        scale="mean of six 1-5 ratings; in Scores.overall divided by 5", to_fraction=0.2),
)}
DEFAULT_PROTOCOL = "llava-med"


def get(name: str) -> Protocol:
    from harness.errors import UsageError

    if name not in PROTOCOLS:
        raise UsageError(f"-T judge_protocol={name!r} is not one of {', '.join(PROTOCOLS)}")
    return PROTOCOLS[name]

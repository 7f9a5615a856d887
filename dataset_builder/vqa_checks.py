"""The paper's rules for generated questions and answers, as checks, and caption clean-up.

Appendix A / Figure 7 of the paper: answers speak as if looking at the image, never refer to a
caption or text, and add no information the description does not give. ``validate`` checks the
shape (JSON, 2-4 turns), the wording (no "caption", "figure", "mentioned"...), and, when the
source text is given, that every content word of every answer comes from it (``ungrounded``).
That last check compares 5-letter word stems, so "erythematous" is grounded by "erythema" and
"wheals" by "wheal", while a diagnosis, site or finding the caption never names is caught.
"""

from __future__ import annotations

import json
import re

BANNED = re.compile(
    r"\b(?:captions?|mentioned|mentions?|context|described|description|the text|figures?|"
    r"fig\.|panels?|legend|as shown|the book|the author|the passage)\b", re.I)
WORD = re.compile(r"[A-Za-z][A-Za-z-]*[A-Za-z]|\d+(?:[.,]\d+)?")
STEM = 5
# Words any faithful answer may use without the caption saying them: the image and its kind,
# looking and seeing, where and how much, the patient, and function words.
GENERIC = set("""
image images picture photograph photo clinical dermoscopic dermoscopy histopathology
histopathological histology histologic micrograph microscopy microscopic pathology medical
type kind view close show shows shown showing depicts depicted display displays seen visible
visibly appear appears appearance appearing present presents presence there here this that
these those what which where when whose with within without from into onto over under across
along around between about also other another both each every more most some many several few
multiple single large larger small smaller area areas region regions part parts site sites
surface colour color colours colors shape border borders edge edges pattern patterns
distribution located location side left right upper lower level feature features finding
findings characteristic characteristics consistent suggest suggests suggestive likely
possible possibly probably typical typically note noted notable can could would should may
might does have has had having been being were was are is the and for not but than then they
them their its it's patient patients person individual year years old aged age month months
week weeks day days male female man woman men women boy girl child children adult adults infant
newborn sex gender known unknown given stated skin lesion lesions condition diagnosis
diagnosed disease image's answer question yes none
""".split())


def _stems(text: str) -> set[str]:
    return {w.lower()[:STEM] for w in WORD.findall(text)}


def ungrounded(answer: str, source: str) -> list[str]:
    """Words of ``answer`` whose stem is neither in ``source`` nor generic, in order."""
    have = _stems(source)
    out = []
    for w in WORD.findall(answer):
        low = w.lower()
        if low in GENERIC or (len(low) < 4 and not low[0].isdigit()):
            continue
        if low[:STEM] not in have and low not in out:
            out.append(low)
    return out


def validate(text: str, min_turns: int = 2, max_turns: int = 4, source: str | None = None
             ) -> list[dict[str, str]]:
    """Turns of a model answer, or ValueError saying what is wrong with it."""
    body = re.sub(r"^\s*```(?:json)?\s*|\s*```\s*$", "", text.strip())
    if not body.startswith(("{", "[")):
        start = min((i for i in (body.find("{"), body.find("[")) if i >= 0), default=-1)
        if start < 0:
            raise ValueError("no JSON in the answer")
        body = body[start:]
    try:
        data, _ = json.JSONDecoder().raw_decode(body)
    except json.JSONDecodeError as exc:
        raise ValueError(f"answer is not valid JSON ({exc.msg})") from exc
    items = data.get("qa", data.get("conversations")) if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ValueError('JSON has no "qa" list')
    turns = []
    for it in items:
        if not isinstance(it, dict):
            raise ValueError("a turn is not an object")
        q, a = it.get("q", it.get("question")), it.get("a", it.get("answer"))
        if not isinstance(q, str) or not isinstance(a, str) or not q.strip() or not a.strip():
            raise ValueError("a turn lacks a question or an answer")
        turns.append({"q": q.strip(), "a": a.strip()})
    if not min_turns <= len(turns) <= max_turns:
        raise ValueError(f"{len(turns)} turns, expected {min_turns}-{max_turns}")
    for t in turns:
        m = BANNED.search(t["q"] + " " + t["a"])
        if m:
            raise ValueError(f"banned phrase {m.group(0)!r}")
    if source is not None:
        for t in turns:
            extra = ungrounded(t["a"], source)
            if extra:
                raise ValueError(f"answer adds {', '.join(extra[:3])!r}, which the "
                                 "description does not give")
    return turns


REFERENCE = re.compile(r"\s*\((?:see\s+)?(?:fig\.?|figure|panel|table)[^)]*\)", re.I)
SHOWS = re.compile(r"^(?:this|the)\s+(?:figure|fig\.|panel|picture|photograph|image)\s+"
                   r"(?:shows?|depicts?|illustrates?|demonstrates?|presents?)\s+", re.I)


def speakable(text: str) -> list[str]:
    """The caption's sentences as an image description: "(Fig. 2)" references removed, "This
    figure shows X" read as "X", and sentences still about the text itself left out."""
    out = []
    for s in re.split(r"(?<=[.!?])\s+", REFERENCE.sub("", text)):
        s = SHOWS.sub("", s.strip())
        if s and not BANNED.search(s):
            out.append(s[:1].upper() + s[1:])
    return out

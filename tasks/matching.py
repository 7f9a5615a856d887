"""Match a model's free-text answer to one of the candidate classes.

Two matchers:

- ``paper``: the authors' rule (ZS_classification.py:242-246 at 31d105c): first
  "actinic keratosis" is replaced by "actinic keratoses" in the answer, exactly as
  written (case-sensitive), then the first class, in list order, whose lower-cased
  name occurs in the lower-cased answer wins. It reproduces the paper's numbers and
  is easily fooled ("not melanoma" counts as melanoma, "nevus" inside "melanocytic
  nevus", and on PAD-UFES-20 a lower-case "actinic keratosis" matches nothing).
- ``sound`` (default): whole-word matches of each class's name, its
  singular/plural forms and its synonyms; overlapping mentions resolved to the
  longest; negated mentions ("not melanoma", "rule out nevus") dropped; an
  answer that names two classes is ``ambiguous`` and counts as unmatched; a
  short answer close to one class name (a typo) is a ``fuzzy`` match.

Every match says how it was made: exact, synonym, fuzzy, ambiguous, negated, none.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from harness.protocol import value

# The authors' one rewrite before matching (setting zeroshot.matcher.rewrite).
PAPER_REWRITE: tuple[str, str] = value("zeroshot.matcher.rewrite", "paper")

# Synonyms by class name (lower case). Sources: the datasets' own diagnosis
# descriptions (HAM10000's dx codes, ISIC 2019's category names) and common
# dermatology usage. A synonym equal to another candidate's own name is ignored.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "actinic keratoses": ("actinic keratosis", "solar keratosis", "solar keratoses",
                          "bowen's disease", "bowen disease", "intraepithelial carcinoma"),
    "actinic keratosis": ("actinic keratoses", "solar keratosis", "solar keratoses"),
    "basal cell carcinoma": ("bcc", "basal cell carcinomas", "basalioma", "rodent ulcer"),
    "benign keratosis": ("benign keratosis-like lesion", "benign keratosis-like lesions",
                         "seborrheic keratosis", "seborrhoeic keratosis", "solar lentigo",
                         "lichen planus-like keratosis", "lichenoid keratosis"),
    "benign keratosis-like lesions": ("benign keratosis", "seborrheic keratosis",
                                      "seborrhoeic keratosis", "solar lentigo",
                                      "lichen planus-like keratosis", "lichenoid keratosis"),
    "seborrheic keratosis": ("seborrhoeic keratosis", "seborrheic keratoses",
                             "seborrhoeic keratoses", "seborrheic wart", "basal cell papilloma"),
    "dermatofibroma": ("dermatofibromas", "benign fibrous histiocytoma"),
    "melanoma": ("malignant melanoma", "melanomas"),
    "nevus": ("nevi", "naevus", "naevi", "melanocytic nevus", "melanocytic nevi",
              "melanocytic naevus", "mole", "moles"),
    "vascular lesions": ("vascular lesion", "angioma", "hemangioma", "haemangioma",
                         "angiokeratoma", "pyogenic granuloma"),
    "vascular lesion": ("vascular lesions", "angioma", "hemangioma", "haemangioma",
                        "angiokeratoma", "pyogenic granuloma"),
    "squamous cell carcinoma": ("scc", "squamous cell carcinomas", "cutaneous scc"),
    "malignant": ("malignancy", "cancerous", "cancer"),
    "non-malignant": ("benign", "not malignant", "non malignant", "nonmalignant"),
    "benign": ("non-cancerous", "noncancerous", "not malignant", "non-malignant"),
    "tumor": ("tumour", "neoplasm", "tumor tissue", "tumour tissue"),
    "nontumor": ("non-tumor", "non-tumour", "non tumor", "normal tissue", "no tumor",
                 "no tumour", "not tumor", "not a tumor"),
}

NEGATIONS = (
    "not", "no", "without", "unlikely", "rather than", "instead of", "rule out",
    "ruled out", "excluding", "exclude", "excludes", "never", "isn't", "is not",
)
NEGATION_WINDOW = 3  # words before a mention that can negate it
NEGATION_CHARS = 256  # text searched for those words (widened when they are longer)
FUZZY_MAX_WORDS = 5
FUZZY_CUTOFF = 0.85


@dataclass
class Match:
    label: str | None
    how: str  # exact | synonym | fuzzy | ambiguous | negated | none | paper
    candidates: list[str] = field(default_factory=list)
    span: tuple[int, int] | None = None

    def to_dict(self) -> dict[str, object]:
        return {"matched": self.label, "how": self.how, "candidates": self.candidates,
                "span": list(self.span) if self.span else None}


def normalise(text: str) -> str:
    text = text.lower().replace("’", "'")
    text = re.sub(r"[^a-z0-9'\- ]+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def number_forms(phrase: str) -> set[str]:
    """Singular and plural variants of a phrase's last word (keratoses <-> keratosis)."""
    words = phrase.split(" ")
    last = words[-1]
    forms = {last}
    rules = (("oses", "osis"), ("ses", "sis"), ("i", "us"), ("ies", "y"), ("es", ""), ("s", ""))
    for plural, singular in rules:
        if last.endswith(plural) and len(last) > len(plural) + 2:
            forms.add(last[: -len(plural)] + singular)
        if singular and last.endswith(singular) and len(last) > len(singular) + 2:
            forms.add(last[: -len(singular)] + plural)
    if not last.endswith("s"):
        forms.add(last + "s")
    return {" ".join([*words[:-1], f]) for f in forms}


def surface_forms(
    classes: Sequence[str], extra: Mapping[str, Sequence[str]] | None = None
) -> list[tuple[str, str, str]]:
    """(normalised phrase, class, kind) for every way an answer may name a class."""
    own = {normalise(c): c for c in classes}
    forms: dict[str, tuple[str, str]] = {}
    for c in classes:
        key = normalise(c)
        for f in number_forms(key):
            forms.setdefault(f, (c, "exact" if f == key else "synonym"))
        forms[key] = (c, "exact")
        syns = [*SYNONYMS.get(key, ()), *((extra or {}).get(c, ()))]
        for syn in syns:
            for f in number_forms(normalise(syn)):
                if f in own and own[f] != c:
                    continue  # another candidate's own name is never this class's synonym
                forms.setdefault(f, (c, "synonym"))
    return sorted(((f, c, k) for f, (c, k) in forms.items()), key=lambda t: -len(t[0]))


def match_paper(answer: str, classes: Sequence[str]) -> Match:
    old, new = PAPER_REWRITE
    low = answer.replace(old, new).lower()
    for c in classes:
        if c.lower() in low:
            return Match(c, "paper", [c])
    return Match(None, "none")


def match_sound(
    answer: str, classes: Sequence[str], extra: Mapping[str, Sequence[str]] | None = None
) -> Match:
    text = normalise(answer)
    if not text:
        return Match(None, "none")
    taken = [False] * len(text)
    mentions: list[tuple[int, int, str, str]] = []
    for phrase, cls, kind in surface_forms(classes, extra):
        for m in re.finditer(rf"(?<![a-z0-9\-]){re.escape(phrase)}(?![a-z0-9\-])", text):
            if any(taken[m.start() : m.end()]):
                continue  # inside a longer mention already found
            for i in range(m.start(), m.end()):
                taken[i] = True
            mentions.append((m.start(), m.end(), cls, kind))
    mentions.sort()
    kept = [m for m in mentions if not _negated(text, m[0])]
    named = list(dict.fromkeys(m[2] for m in kept))
    if len(named) == 1:
        first = kept[0]
        kind = "exact" if any(m[3] == "exact" for m in kept) else "synonym"
        return Match(first[2], kind, named, (first[0], first[1]))
    if len(named) > 1:
        return Match(None, "ambiguous", named)
    if mentions:
        return Match(None, "negated", list(dict.fromkeys(m[2] for m in mentions)))
    if len(text.split()) <= FUZZY_MAX_WORDS:
        by_norm = {normalise(c): c for c in classes}
        close = difflib.get_close_matches(text, list(by_norm), n=2, cutoff=FUZZY_CUTOFF)
        if len(close) == 1:
            return Match(by_norm[close[0]], "fuzzy", [by_norm[close[0]]])
    return Match(None, "none")


def _negated(text: str, start: int) -> bool:
    # Split only the text just before the mention: splitting all of it made a long answer
    # with many mentions quadratic (a 9 MB answer never finished).
    lo = max(0, start - NEGATION_CHARS)
    before = text[lo:start].split()
    if lo > 0 and len(before) <= NEGATION_WINDOW:  # long words: the cut may matter
        before = text[:start].split()
    before = before[-NEGATION_WINDOW:]
    return _NEGATION_RE.search(" ".join(before)) is not None


# One pattern for all negations (was one search per negation and mention).
_NEGATION_RE = re.compile(
    r"(?<![a-z])(?:" + "|".join(re.escape(n) for n in NEGATIONS) + r")(?![a-z])"
)


def match(
    answer: str,
    classes: Sequence[str],
    matcher: str = "sound",
    extra: Mapping[str, Sequence[str]] | None = None,
) -> Match:
    if matcher == "paper":
        return match_paper(answer, classes)
    return match_sound(answer, classes, extra)

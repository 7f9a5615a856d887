"""Stage 4, demographics: age and sex from a panel's caption text by regular expressions.

Rules run in priority order and the first age rule that matches wins; the matched span and
the rule's name are recorded so a reader can check each value. Sex comes from the noun
attached to the age phrase, then an explicit "sex: F", then unambiguous sex nouns, then
pronouns; when both sexes appear without attachment ("mother and son") it stays unknown.
Cohort ranges ("aged 20-40") and ages over 120 are not ages of the pictured patient.

When the caption names no age or sex, a case report usually states the patient in its body
text ("A 23-year-old woman presented ..."): the article's body paragraphs (not captions, and
nothing after a "References" heading) are searched for an age attached to a person
("N-year-old woman", "a 7-year-old boy", "N-year-old patient"). Only when the whole text names
one such age is it taken (a case series or a review naming several patients gives nothing,
and says so), with its sex from the same phrase; a caption's own value always wins, and a
text sex is not taken when the caption states a different age. Each value records where it
came from: ``caption`` or ``text, page P paragraph K`` (both 1-based).
Output: ``<work>/demographics/demographics.jsonl``.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from .align import all_pairs
from .captions import CAPTION_RE, resolve_block, vocabulary
from .extract import extracted
from .records import append_jsonl, done_ids, read_jsonl

_UNITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
          "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
          "eighteen", "nineteen"]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
WORD_NUM = {w: i for i, w in enumerate(_UNITS)}
for _t, _w in enumerate(_TENS):
    if _w:
        WORD_NUM[_w] = _t * 10
        for _u in range(1, 10):
            WORD_NUM[f"{_w}-{_UNITS[_u]}"] = _t * 10 + _u
NUM = r"(?P<n>\d{1,3}(?:\.\d)?|" + "|".join(sorted(WORD_NUM, key=len, reverse=True)) + r")"
MALE = r"man|boy|male|gentleman|husband|father|son|brother|infant boy|baby boy"
FEMALE = r"woman|girl|female|lady|wife|mother|daughter|sister|infant girl|baby girl"
NOUN = rf"(?P<noun>{MALE}|{FEMALE}|patient|child|infant|baby|neonate|adult|person)"
UNIT = r"(?P<unit>year|yr|month|mo|week|wk|day)s?"

AGE_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("n-unit-old", re.compile(
        rf"\b{NUM}[\s-]*{UNIT}[\s-]*old(?:\s+(?:[a-z]+\s+){{0,2}}?{NOUN}\b)?", re.I)),
    ("aged-n", re.compile(rf"\baged\s+{NUM}\b(?!\s*[-–]\s*\d)(?:\s*{UNIT})?", re.I)),
    ("age-colon", re.compile(r"\bage\s*[:=]\s*(?P<n>\d{1,3})\b", re.I)),
    ("n-yo", re.compile(r"\b(?P<n>\d{1,3})\s*(?:y/o|yo|y\.o\.)(?:\s+" + NOUN + r"\b)?", re.I)),
    ("n-sex", re.compile(r"\b(?P<n>\d{1,3})(?:\s*(?:years?|yrs?))?\s+"
                         rf"(?P<noun>{MALE}|{FEMALE})\b", re.I)),
    ("sex-comma-n", re.compile(rf"\b(?P<noun>{MALE}|{FEMALE}),\s*(?:aged\s+)?(?P<n>\d{{1,3}})\b",
                               re.I)),
    ("sex-slash-n", re.compile(r"\b(?P<sx>[MF])\s*/\s*(?P<n>\d{1,3})\b")),
    ("n-slash-sex", re.compile(r"\b(?P<n>\d{1,3})\s*/\s*(?P<sx>[MF])\b")),
    ("decade", re.compile(r"\bin\s+(?:his|her|their)\s+(?P<when>early\s+|mid-?\s*|late\s+)?"
                          r"(?P<decade>\d0s|twenties|thirties|forties|fifties|sixties|seventies|"
                          r"eighties|nineties)", re.I)),
    ("newborn", re.compile(r"\b(?:newborn|neonate|neonatal)\b", re.I)),
]
DECADES = {"twenties": 20, "thirties": 30, "forties": 40, "fifties": 50, "sixties": 60,
           "seventies": 70, "eighties": 80, "nineties": 90}
SEX_FIELD = re.compile(r"\b(?:sex|gender)\s*[:=]\s*(?P<v>male|female|m|f)\b", re.I)
MALE_RE = re.compile(rf"\b(?:{MALE}|men|boys)\b", re.I)
FEMALE_RE = re.compile(rf"\b(?:{FEMALE}|women|girls)\b", re.I)
HE_RE = re.compile(r"\b(?:he|his|him)\b", re.I)
SHE_RE = re.compile(r"\b(?:she|her|hers)\b", re.I)


def _sex_of(word: str) -> str | None:
    w = word.lower()
    if w in ("m",) or re.fullmatch(MALE, w):
        return "male"
    if w in ("f",) or re.fullmatch(FEMALE, w):
        return "female"
    return None


def _number(raw: str) -> float:
    raw = raw.lower()
    return float(WORD_NUM[raw]) if raw in WORD_NUM else float(raw)


# Hyphens that NFKC leaves alone: Medknow prints "71-year-old" with U+2011 (non-breaking)
DASHES = str.maketrans({c: "-" for c in "\u2010\u2011\u2012\u2043\u2212"})


def extract_demographics(text: str) -> dict[str, Any]:
    """Age (years; months/weeks/days as fractions) and sex with the spans that gave them."""
    text = text.translate(DASHES)
    out: dict[str, Any] = {"age": None, "age_span": None, "age_rule": None,
                           "sex": None, "sex_span": None, "sex_rule": None}
    for name, rx in AGE_RULES:
        m = rx.search(text)
        if not m:
            continue
        gd = m.groupdict()
        if name == "decade":
            d = gd["decade"].lower()
            base = DECADES.get(d) or int(d[:-1])
            when = (gd.get("when") or "").strip().lower().rstrip("-")
            age = base + {"early": 2, "mid": 5, "late": 8}.get(when, 5)
        elif name == "newborn":
            age = 0.0
        else:
            age = _number(gd["n"])
            unit = (gd.get("unit") or "year").lower()
            if unit.startswith("mo"):
                age = round(age / 12, 2)
            elif unit.startswith("w"):
                age = round(age / 52, 2)
            elif unit.startswith("d"):
                age = round(age / 365, 3)
        if age > 120:
            continue
        out.update(age=int(age) if float(age).is_integer() else age, age_span=m.group(0),
                   age_rule=name)
        sx = gd.get("noun") or gd.get("sx")
        if sx and _sex_of(sx):
            out.update(sex=_sex_of(sx), sex_span=m.group(0), sex_rule="attached to age")
        break
    if out["sex"] is None:
        m = SEX_FIELD.search(text)
        if m:
            out.update(sex=_sex_of(m.group("v")), sex_span=m.group(0), sex_rule="sex field")
    if out["sex"] is None:
        for rule, (mrx, frx) in (("sex noun", (MALE_RE, FEMALE_RE)), ("pronoun", (HE_RE, SHE_RE))):
            mm, fm = mrx.search(text), frx.search(text)
            if mm and fm:
                break  # both sexes named: the picture's subject is unclear
            if mm or fm:
                m = mm or fm
                out.update(sex="male" if mm else "female", sex_span=m.group(0), sex_rule=rule)
                break
    return out


REFERENCES_RE = re.compile(r"^\s*(?:\d+\.?\s*)?(references|bibliography|literature cited)\b",
                           re.I)
# "A 54-year-old obese Sri Lankan woman" (BMC Infect Dis 22:938): up to three words between
PERSON = re.compile(rf"\b{NUM}[\s-]*{UNIT}[\s-]*old\s+(?:[A-Za-z]+\s+){{0,3}}?{NOUN}\b",
                    re.I)


def text_patient(pages: list[dict[str, Any]]) -> dict[str, Any]:
    """The one patient a case report's body text states, with where; or why there is none.

    ``pages`` are the extract stage's page records (blocks with resolved hyphens)."""
    found: list[dict[str, Any]] = []
    for page in pages:
        para = 0
        for b in page["blocks"]:
            text = b["text"].translate(DASHES)
            if REFERENCES_RE.match(text):
                return _one(found)  # the heading, alone or joined to the first entries (BMC)
            if CAPTION_RE.match(text) or len(text) < 40:
                continue  # captions, headings, running heads, page numbers
            para += 1
            for m in PERSON.finditer(text):
                d = extract_demographics(m.group(0))
                if d["age"] is not None:
                    d.update(age_span=m.group(0), sex_span=m.group(0) if d["sex"] else None)
                    found.append({**d, "source": f"text, page {page['page'] + 1} "
                                                 f"paragraph {para}"})
    return _one(found)


def _one(found: list[dict[str, Any]]) -> dict[str, Any]:
    ages = {f["age"] for f in found}
    if len(ages) != 1:
        return {"why": "no patient in the text" if not ages else
                f"the text names {len(ages)} patients ({', '.join(map(str, sorted(ages)))})"}
    first = found[0]
    sexes = {f["sex"] for f in found if f["sex"]}
    sex = next(iter(sexes)) if len(sexes) == 1 else None
    span = next((f["sex_span"] for f in found if f["sex"] == sex), None) if sex else None
    return {"age": first["age"], "age_span": first["age_span"], "source": first["source"],
            "sex": sex, "sex_span": span,
            "sex_source": next(f["source"] for f in found if f["sex"] == sex) if sex else None}


def _with_text(d: dict[str, Any], patient: dict[str, Any]) -> dict[str, Any]:
    """A caption's record, its missing values filled from the text's patient."""
    d = {**d, "age_source": "caption" if d["age"] is not None else None,
         "sex_source": "caption" if d["sex"] is not None else None}
    if "why" in patient:
        if d["age"] is None or d["sex"] is None:
            d["text_patient"] = patient["why"]
        return d
    if d["age"] is None:
        d.update(age=patient["age"], age_span=patient["age_span"], age_rule="case text",
                 age_source=patient["source"])
    if d["sex"] is None and patient["sex"] and d["age"] == patient["age"]:
        d.update(sex=patient["sex"], sex_span=patient["sex_span"], sex_rule="case text",
                 sex_source=patient["sex_source"])
    return d


def _pdf_patients(work: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for summary in extracted(work):
        pages = list(read_jsonl(work / "extract" / summary["pdf_id"] / "pages.jsonl"))
        vocab = vocabulary([b["text"] for p in pages for b in p["blocks"]])
        for p in pages:
            for b in p["blocks"]:
                resolve_block(b, vocab)
        out[summary["pdf_id"]] = text_patient(pages)
    return out


def run_demographics(work: Path) -> dict[str, int]:
    out = work / "demographics" / "demographics.jsonl"
    done = done_ids(out)
    recs = []
    counts: Counter[str] = Counter()
    todo = [p for p in all_pairs(work) if p["id"] not in done]
    patients = _pdf_patients(work) if todo else {}
    for p in todo:
        d = _with_text(extract_demographics(p["text"]), patients.get(p["pdf_id"], {"why": ""}))
        counts["age"] += d["age"] is not None
        counts["sex"] += d["sex"] is not None
        counts["from text"] += d["age_rule"] == "case text" or d["sex_rule"] == "case text"
        recs.append({"id": p["id"], **d})
    append_jsonl(out, recs)
    counts["pairs"] = len(recs)
    return dict(counts)

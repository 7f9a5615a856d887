"""Demographics from a case report's body text when the caption names nobody, with where each
value came from; a caption's own value wins; several patients in the text give none."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pymupdf
import pytest
from layout_pdfs import case_report_text

from harness.dataset_builder.align import all_pairs, run_align
from harness.dataset_builder.demographics import (
    _with_text,
    extract_demographics,
    run_demographics,
    text_patient,
)
from harness.dataset_builder.extract import run_extract
from harness.dataset_builder.records import read_jsonl
from harness.dataset_builder.write import demographics_source
from tests.conftest import SHARED_DATA


def _demographics(pdf: Path, work: Path) -> list[dict]:
    run_extract([pdf], work, quiet=True)
    run_align(work, quiet=True)
    run_demographics(work)
    ids = [p["id"] for p in all_pairs(work)]
    recs = {r["id"]: r for r in read_jsonl(work / "demographics" / "demographics.jsonl")}
    return [recs[i] for i in ids]


def test_a_case_reports_text_gives_the_patient(tmp_path: Path) -> None:
    doc = pymupdf.open()
    case_report_text(doc, np.random.default_rng(2))
    pdf = tmp_path / "case.pdf"
    doc.save(pdf)
    [d] = _demographics(pdf, tmp_path / "work")
    assert (d["age"], d["sex"]) == (23, "female")
    assert d["age_rule"] == d["sex_rule"] == "case text"
    assert d["age_span"] == "23-year-old woman"
    # "Case report" is a heading, not a paragraph: the first paragraph states the patient
    assert d["age_source"] == d["sex_source"] == "text, page 1 paragraph 1"
    assert demographics_source(d) == "text, page 1 paragraph 1"  # metadata.csv's column
    assert demographics_source({"age_source": "caption", "sex_source": "text, page 2 "
                                "paragraph 3"}) == "age: caption; sex: text, page 2 paragraph 3"


def _pages(*paragraphs: str) -> list[dict]:
    return [{"page": 0, "blocks": [{"text": t} for t in paragraphs]}]


def test_the_caption_wins_and_several_patients_give_none() -> None:
    patient = text_patient(_pages("A 23-year-old woman presented with a rash over the trunk."))
    d = _with_text(extract_demographics("Rash in a 60-year-old patient."), patient)
    assert (d["age"], d["age_source"]) == (60, "caption")
    assert d["sex"] is None  # the text's woman is 23, the caption's patient 60: not her
    series = text_patient(_pages(
        "Case 1. A 23-year-old woman presented with a rash over the trunk and arms.",
        "Case 2. A 41-year-old man presented with fever and petechiae on both legs.",
        "References 1. Smith J. A 70-year-old man with dengue. J Case Rep. 2020;1:1-2."))
    assert series == {"why": "the text names 2 patients (23, 41)"}
    d = _with_text(extract_demographics("Petechiae on the legs."), series)
    assert d["age"] is None and d["text_patient"] == series["why"]
    # a reference list is not the case: nothing after its heading counts
    only_refs = text_patient(_pages("References 1. Smith J. A 70-year-old man with dengue."))
    assert only_refs == {"why": "no patient in the text"}


def test_the_real_case_reports_patient(tmp_path: Path) -> None:
    """Cureus 12(6):e8581 p. 1: "A 38-year-old male with no significant past medical ...";
    its captions name nobody (read from the rendered page)."""
    pdf = SHARED_DATA / "pdfs" / "cureus_2020_raza_dengue_hemorrhagic_skin_manifestations.pdf"
    if not pdf.is_file():
        pytest.skip(f"the real reference PDF {pdf} is absent")
    recs = _demographics(pdf, tmp_path / "work")
    assert len(recs) == 3
    for d in recs:
        assert (d["age"], d["sex"], d["age_rule"]) == (38, "male", "case text")
        assert d["age_source"].startswith("text, page 1 paragraph ")


def test_non_breaking_hyphens_are_hyphens() -> None:
    """Indian J Dermatol (Medknow) prints "A 71\u2011year\u2011old Korean man" with U+2011."""
    d = extract_demographics("A 71\u2011year\u2011old Korean man returned from Laos.")
    assert (d["age"], d["sex"]) == (71, "male")
    p = text_patient(_pages("A 71\u2011year\u2011old Korean man who returned from a one-month "
                            "trip presented with generalized pruritic eruptions."))
    assert (p["age"], p["sex"]) == (71, "male")

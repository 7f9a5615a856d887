"""Caption detection, sub-caption splitting, hyphen repair and demographics on written cases."""

from __future__ import annotations

import pytest

from harness.dataset_builder.captions import (
    SOFT_HYPHEN,
    caption_candidates,
    resolve_block,
    resolve_hyphens,
    select_captions,
    split_caption,
    vocabulary,
)
from harness.dataset_builder.demographics import extract_demographics
from harness.dataset_builder.stats import text_stats

BODY = ("Times-Roman", 10.0)


def _block(text: str, bold_label: bool, font: str = "Helvetica", size: float = 8.0) -> dict:
    label_len = len(text.split()[0]) + 1 + len(text.split()[1])
    return {"bbox": [50, 100, 300, 140], "text": text, "font": font, "size": size,
            "emph": [[0, label_len]] if bold_label else []}


@pytest.mark.parametrize(("text", "bold", "font", "kept"), [
    ("Figure 12.3 Psoriasis on the elbow.", True, "Helvetica", True),
    ("Fig. 4 | Dermoscopy of a naevus.", False, "Helvetica", True),
    ("FIGURE 2-1. Lichen planus.", False, "Times-Roman", True),
    ("Fig. 12.3 shows the typical silvery scale.", False, "Times-Roman", False),
    ("Figure 3 and Figure 4 compare the two.", False, "Times-Roman", False),
])
def test_captions_are_told_from_mentions(text: str, bold: bool, font: str, kept: bool) -> None:
    size = 10.0 if font == BODY[0] else 8.0
    cands = caption_candidates(0, [_block(text, bold, font, size)], BODY, page_has_images=True)
    assert len(cands) == 1
    assert bool(select_captions(cands)) is kept


def test_caption_ids_are_normalised() -> None:
    [c] = caption_candidates(0, [_block("FIGURE 2-1. Lichen planus.", True)], BODY, True)
    assert (c.figure, c.label, c.body) == ("2.1", "FIGURE 2-1.", "Lichen planus.")


@pytest.mark.parametrize(("body", "emph", "want_labels", "want_segments", "preface"), [
    ("Psoriasis. (a) Plaques on the elbow; (b) nail pitting.", [],
     ["a", "b"], ["Plaques on the elbow", "nail pitting"], "Psoriasis."),
    ("Lichen planus. (A) Papules. (B) Wickham striae. (C) Band-like infiltrate.", [],
     ["A", "B", "C"], ["Papules", "Wickham striae", "Band-like infiltrate"], "Lichen planus."),
    ("Tinea. a Annular plaque. b Hyphae on KOH.", [[7, 8], [25, 26]],
     ["a", "b"], ["Annular plaque", "Hyphae on KOH"], "Tinea."),
    ("BCC. A, Pearly nodule. B, Palisading nests.", [[5, 7], [23, 25]],
     ["A", "B"], ["Pearly nodule", "Palisading nests"], "BCC."),
    ("Psoriasis. Plaques on the elbow (a) and pitting of the nails (b).", [],
     ["a", "b"], ["Plaques on the elbow", "pitting of the nails"], "Psoriasis."),
    ("Pemphigoid. (a-b) Tense bullae; (c) eosinophils.", [],
     ["a", "b", "c"], ["Tense bullae", "Tense bullae", "eosinophils"], "Pemphigoid."),
    ("Vitiligo. Left: before treatment. Right: after treatment.", [],
     ["left", "right"], ["before treatment", "after treatment"], "Vitiligo."),
])
def test_subcaption_styles(body: str, emph: list, want_labels: list[str],
                           want_segments: list[str], preface: str) -> None:
    s = split_caption(body, emph)
    assert s.labels == want_labels
    assert [s.segment_for(lab) for lab in want_labels] == want_segments
    assert s.preface == preface


@pytest.mark.parametrize("body", [
    "Melanoma stained with (H&E) at high power.",          # not a letter label
    "Compare with Figure 2 (see a) for the earlier stage.",  # a reference, not a label
    "Eczema; F: female; M: male.",                           # a legend, not a sequence from a
])
def test_no_false_labels(body: str) -> None:
    assert split_caption(body, []).labels == []


def test_trailing_legend_is_a_postscript() -> None:
    body = ("Examples. (a) Nevus; (b) melanoma. Legends inside each image give the age and "
            "sex of the patient. F: female; M: male; H: hand.")
    s = split_caption(body, [])
    assert s.segment_for("b") == "melanoma"
    assert s.postscript.startswith("Legends inside")


def test_hyphens_resolved_against_the_book() -> None:
    vocab = vocabulary(["the diagnostic test", f"diag-{SOFT_HYPHEN}nostic"])
    assert resolve_hyphens(f"a diag-{SOFT_HYPHEN}nostic sign", vocab) == "a diagnostic sign"
    assert resolve_hyphens(f"flat-{SOFT_HYPHEN}topped papules", vocab) == "flat-topped papules"
    text = f"A diag-{SOFT_HYPHEN}nostic and flat-{SOFT_HYPHEN}topped sign. B, next."
    block = {"text": text, "emph": [[text.index("B,"), text.index("B,") + 2]]}
    resolve_block(block, vocab)
    assert block["text"] == "A diagnostic and flat-topped sign. B, next."
    [[s, e]] = block["emph"]
    assert block["text"][s:e] == "B,"  # emphasis ranges move with the text


@pytest.mark.parametrize(("text", "age", "sex"), [
    ("Psoriasis in a 45-year-old man.", 45, "male"),
    ("Haemangioma in a 3-month-old girl.", 0.25, "female"),
    ("Plaques in a seventy-two-year-old woman.", 72, "female"),
    ("Patient: male, 62, back.", 62, "male"),
    ("F/34, eczema of the hands.", 34, "female"),
    ("A 53 female with a rash.", 53, "female"),
    ("Seen in her early forties.", 42, "female"),
    ("Aged 7 years, with molluscum.", 7, None),
    ("Patients aged 20-40 years were included.", None, None),
    ("A mother and son with tinea capitis.", None, None),
    ("Human papillomavirus infection; management.", None, None),
    ("He had plaques on his elbows.", None, "male"),
    ("Bullae in a newborn.", 0, None),
    ("A 150-year-old tree.", None, None),
])
def test_demographics(text: str, age: float | None, sex: str | None) -> None:
    d = extract_demographics(text)
    assert (d["age"], d["sex"]) == (age, sex)
    if age is not None:
        assert d["age_span"] in text and d["age_rule"]


def test_herdan_c() -> None:
    s = text_stats(["a b c a", "b d"])
    assert (s["words"], s["vocabulary"], s["avg_length_words"]) == (6, 4, 3.0)
    assert s["herdan_c_paper"] == pytest.approx(4 / 1.791759, abs=1e-3)
    assert s["herdan_c"] == pytest.approx(1.386294 / 1.791759, abs=1e-3)


# Nature-family layout (Nature Communications 15:5649, a CC BY article outside the shared
# corpus): text, fonts and boxes below are what PyMuPDF returns for its page 3 and page 7.

def _span(text: str, font: str = "AdvOTdd63dae3", size: float = 7.0, flags: int = 4) -> dict:
    return {"text": text, "font": font, "size": size, "flags": flags}


def test_line_end_hyphen_before_a_digit_stays_and_joins() -> None:
    from harness.dataset_builder.blocks import block_record

    block = {"bbox": [39.7, 339.5, 294.8, 386.3], "lines": [
        {"spans": [_span("Fig. 1 | Illustration of SkinGPT-4.", "AdvOT3d287b35.B"),
                   _span(" To implement SkinGPT-")]},
        {"spans": [_span("4, we have designed a diag-")]},
        {"spans": [_span("nostic system.")]}]}
    rec = block_record(block)
    assert rec["text"].startswith("Fig. 1 | Illustration of SkinGPT-4. To implement SkinGPT-4, ")
    assert f"diag-{SOFT_HYPHEN}nostic" in rec["text"]  # a word break, decided by the vocabulary
    assert rec["emph"] == [[0, len("Fig. 1 | Illustration of SkinGPT-4.")]]  # '.B' font = bold


def test_a_caption_across_two_columns_is_one_caption_with_its_printed_label() -> None:
    first = {"bbox": [39.7, 339.5, 294.8, 386.3], "font": "AdvOTdd63dae3", "size": 7.0,
             "text": "Fig. 1 | Illustration of SkinGPT-4. SkinGPT-4 was trained on images, "
                     "accompanied", "emph": [[0, 35]]}
    second = {"bbox": [306.1, 339.4, 561.2, 386.3], "font": "AdvOTdd63dae3", "size": 7.0,
              "text": "by clinical concepts and doctors’ notes.", "emph": []}
    body = {"bbox": [39.7, 413.1, 294.9, 539.0], "font": "AdvOTdd63dae3", "size": 8.2,
            "text": "image into smaller patches and extracts vital features " * 3, "emph": []}
    [c] = caption_candidates(2, [first, second, body], ("AdvOTdd63dae3", 8.2), True)
    assert c.label == "Fig. 1 |"
    assert c.body.endswith("accompanied by clinical concepts and doctors’ notes.")


def test_elsevier_wrapped_line_in_an_overlapping_block_is_joined() -> None:
    first = {"bbox": [49.6, 629.5, 288.7, 648.5], "font": "TrebuchetMS", "size": 8.5,
             "text": "Figure 2 Overview of the rash. Rubelliform rash, on the third day",
             "emph": [[0, 8]]}
    second = {"bbox": [62.9, 640.6, 285.7, 648.5], "font": "TrebuchetMS", "size": 8.5,
              "text": "of clinical evolution. The right axillary region was spared.", "emph": []}
    [c] = caption_candidates(1, [first, second], ("TrebuchetMS", 9.0), True)
    assert c.body.endswith("third day of clinical evolution. The right axillary region was spared.")


def test_a_letter_closing_a_bold_title_and_bold_letters_joined_by_and() -> None:
    body = ("Clinical evaluation of SkinGPT-4 by board-certified offline and online "
            "dermatologists. a Questionnaire-based assessment. b Response time. c Consistency.")
    b, c = body.index(" b ") + 1, body.index(" c ") + 1
    s = split_caption(body, [[0, body.index(". a") + 3], [b, b + 1], [c, c + 1]])
    assert s.labels == ["a", "b", "c"] and s.segment_for("a") == "Questionnaire-based assessment"
    body = "A and B Histology of the liver biopsy. (H&E stain × 400) The portal tracts."
    s = split_caption(body, [[0, 1], [6, 7]])  # BMC: "A", "B" semibold, "and" light
    assert s.labels == ["A", "B"] and s.segment_for("A") == s.segment_for("B")
    assert s.segment_for("B").startswith("Histology of the liver biopsy")

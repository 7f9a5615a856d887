"""The zero-shot answer matcher on hand-written answers, including the known pitfalls."""

import pytest

from harness.tasks.matching import match, number_forms

HAM = ["Actinic Keratoses", "Basal Cell Carcinoma", "Benign Keratosis", "Dermatofibroma",
       "Melanoma", "Nevus", "Vascular lesions"]
BCN = ["melanoma", "melanoma metastasis", "basal cell carcinoma", "nevus", "other",
       "squamous cell carcinoma", "actinic keratosis", "scar", "solar lentigo",
       "seborrheic keratosis", "vascular lesion", "dermatofibroma"]
BINARY = ["Malignant", "Non-Malignant"]
PATCH = ["nontumor", "tumor"]

# (answer, classes, expected label, expected how)
CASES = [
    # exact names, any case, with surrounding text
    ("Melanoma", HAM, "Melanoma", "exact"),
    ("melanoma.", HAM, "Melanoma", "exact"),
    ("The diagnosis is melanoma.", HAM, "Melanoma", "exact"),
    ("MELANOMA", HAM, "Melanoma", "exact"),
    ("This lesion is most consistent with a dermatofibroma.", HAM, "Dermatofibroma", "exact"),
    ("Basal cell carcinoma", HAM, "Basal Cell Carcinoma", "exact"),
    ("It looks like a nevus", HAM, "Nevus", "exact"),
    ("Answer: Vascular lesions", HAM, "Vascular lesions", "exact"),
    ("Benign keratosis.", HAM, "Benign Keratosis", "exact"),
    ("Actinic keratoses", HAM, "Actinic Keratoses", "exact"),
    # singular / plural forms
    ("actinic keratosis", HAM, "Actinic Keratoses", "synonym"),
    ("These are nevi.", HAM, "Nevus", "synonym"),
    ("a vascular lesion", HAM, "Vascular lesions", "synonym"),
    ("melanomas", HAM, "Melanoma", "synonym"),
    ("dermatofibromas", HAM, "Dermatofibroma", "synonym"),
    # synonyms
    ("melanocytic nevus", HAM, "Nevus", "synonym"),
    ("Melanocytic naevus", HAM, "Nevus", "synonym"),
    ("This is a benign mole.", HAM, "Nevus", "synonym"),
    ("seborrheic keratosis", HAM, "Benign Keratosis", "synonym"),
    ("Seborrhoeic keratosis", HAM, "Benign Keratosis", "synonym"),
    ("solar lentigo", HAM, "Benign Keratosis", "synonym"),
    ("malignant melanoma", HAM, "Melanoma", "synonym"),
    ("BCC", HAM, "Basal Cell Carcinoma", "synonym"),
    ("a cherry angioma", HAM, "Vascular lesions", "synonym"),
    ("pyogenic granuloma", HAM, "Vascular lesions", "synonym"),
    ("Bowen's disease", HAM, "Actinic Keratoses", "synonym"),
    ("solar keratosis", HAM, "Actinic Keratoses", "synonym"),
    # the pitfalls the issue names
    ("melanocytic nevus", BCN, "nevus", "synonym"),
    ("seborrheic keratosis", BCN, "seborrheic keratosis", "exact"),
    ("actinic keratosis", BCN, "actinic keratosis", "exact"),
    ("melanoma metastasis", BCN, "melanoma metastasis", "exact"),
    ("Findings suggest a melanoma metastasis.", BCN, "melanoma metastasis", "exact"),
    ("This is not melanoma.", HAM, None, "negated"),
    ("Not melanoma", HAM, None, "negated"),
    ("There is no evidence of melanoma.", HAM, None, "negated"),
    ("Melanoma is unlikely; I would rule out melanoma.", HAM, "Melanoma", "exact"),
    ("This is not melanoma, it is a nevus.", HAM, "Nevus", "exact"),
    ("Rather than melanoma, this is a seborrheic keratosis.", HAM, "Benign Keratosis",
     "synonym"),
    ("It is not a nevus but a melanoma.", HAM, "Melanoma", "exact"),
    # two classes named: ambiguous, counted unmatched
    ("Melanoma or nevus", HAM, None, "ambiguous"),
    ("It could be a melanoma or a basal cell carcinoma.", HAM, None, "ambiguous"),
    ("Nevus, dermatofibroma", HAM, None, "ambiguous"),
    ("benign keratosis or actinic keratosis", HAM, None, "ambiguous"),
    # nothing matched
    ("I cannot determine the diagnosis from this image.", HAM, None, "none"),
    ("", HAM, None, "none"),
    ("   ", HAM, None, "none"),
    ("psoriasis", HAM, None, "none"),
    ("keratosis", HAM, None, "none"),
    ("carcinoma", HAM, None, "none"),
    ("nevusy", HAM, "Nevus", "fuzzy"),
    # typos: a short answer close to one name
    ("Melanom", HAM, "Melanoma", "fuzzy"),
    ("Dermatofibrome", HAM, "Dermatofibroma", "fuzzy"),
    ("Basal cel carcinoma", HAM, "Basal Cell Carcinoma", "fuzzy"),
    # binary datasets
    ("Malignant", BINARY, "Malignant", "exact"),
    ("Non-Malignant", BINARY, "Non-Malignant", "exact"),
    ("The lesion appears benign.", BINARY, "Non-Malignant", "synonym"),
    ("non-malignant", BINARY, "Non-Malignant", "exact"),
    ("This is malignant.", BINARY, "Malignant", "exact"),
    ("It is not malignant.", BINARY, "Non-Malignant", "synonym"),
    ("tumor", PATCH, "tumor", "exact"),
    ("nontumor", PATCH, "nontumor", "exact"),
    ("Non-tumor tissue", PATCH, "nontumor", "synonym"),
    ("The patch shows tumour cells.", PATCH, "tumor", "synonym"),
    ("normal tissue without tumor", PATCH, "nontumor", "synonym"),
]


@pytest.mark.parametrize(("answer", "classes", "label", "how"), CASES)
def test_sound_matcher(answer: str, classes: list[str], label: str | None, how: str) -> None:
    m = match(answer, classes)
    assert (m.label, m.how) == (label, how), m


def test_there_are_at_least_sixty_cases() -> None:
    assert len(CASES) >= 60


@pytest.mark.parametrize(
    ("answer", "classes", "label"),
    [
        ("This is not melanoma.", HAM, "Melanoma"),  # the reference ignores negation
        ("melanocytic nevus", BCN, "nevus"),
        ("melanoma metastasis", BCN, "melanoma"),  # first in list order wins
        ("Non-Malignant", BINARY, "Malignant"),  # substring of the other class
        ("nevi", HAM, None),
        ("Seborrheic keratosis", HAM, None),
    ],
)
def test_paper_matcher_reproduces_the_reference_rule(
    answer: str, classes: list[str], label: str | None
) -> None:
    m = match(answer, classes, "paper")
    assert m.label == label


def test_number_forms() -> None:
    assert "actinic keratosis" in number_forms("actinic keratoses")
    assert "nevi" in number_forms("nevus")
    assert "vascular lesion" in number_forms("vascular lesions")

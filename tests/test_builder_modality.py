"""The shipped modality library: what is in it, that it can be rebuilt, and what it is worth.

References are rendered from the corpus PDFs at their hand-made truth boxes (tests/
builder_truth) and taken from scikit-image's bundled public-domain pictures. Accuracy is
measured leave-one-source-out: no picture is classified against references from its own PDF.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from harness.dataset_builder.modality import (
    DEFAULT_LIBRARY,
    MODALITIES,
    Weights,
    default_library,
    features,
)
from harness.dataset_builder.references import (
    corpus_references,
    skimage_references,
)
from tests.conftest import SHARED_DATA


@pytest.fixture(scope="module")
def refs() -> list:
    if not (SHARED_DATA / "pdfs").is_dir():
        pytest.skip(f"the real reference PDFs ({SHARED_DATA / 'pdfs'}) are absent")
    return corpus_references([SHARED_DATA / "pdfs"]) + skimage_references()


def test_the_shipped_library_holds_features_of_redistributable_pictures_only() -> None:
    lib = default_library()
    assert set(lib.labels) == set(MODALITIES)
    assert lib.colour.shape == (len(lib.labels), 512) and lib.lbp.shape[0] == len(lib.labels)
    listing = DEFAULT_LIBRARY.with_suffix(".md").read_text(encoding="utf-8")
    rows = [r for r in listing.splitlines() if r.startswith("| ") and "---" not in r][1:]
    assert len(rows) == len(lib.labels)
    assert all(origin in listing for origin in lib.paths)
    licences = {r.rsplit("|", 2)[1].strip() for r in rows}
    assert not any("NC" in x or "ND" in x for x in licences), licences
    assert "HAM10000" not in listing  # measured with, never shipped


def test_the_shipped_features_are_rebuilt_from_the_corpus(refs: list) -> None:
    lib = default_library()
    index = {origin: i for i, origin in enumerate(lib.paths)}
    checked = 0
    for r in refs:
        if not r.shippable:
            assert r.origin not in index
            continue
        i = index[r.origin]
        colour, lbp = features(r.image, lib.config)
        assert lib.labels[i] == r.modality
        np.testing.assert_allclose(lib.colour[i], colour, atol=1e-5)
        np.testing.assert_allclose(lib.lbp[i], lbp, atol=1e-5)
        checked += 1
    assert checked >= 35  # the rest come from the four extra articles (not in shared/data)


def test_held_out_pictures_of_skin_are_never_called_other_unflagged(refs: list) -> None:
    """The property the dataset relies on: a skin picture from an unseen PDF is not lost as
    'other' without review, and a non-skin one is not taken for skin without review."""
    lib = default_library()
    lost, slipped, correct = [], [], 0
    for r in refs:
        res = lib.without(r.source).classify(r.image, Weights())
        sure = not res["margin"] < Weights().review_margin
        correct += res["modality"] == r.modality
        if r.modality != "other" and res["modality"] == "other" and sure:
            lost.append(r.origin)
        if r.modality == "other" and res["modality"] != "other" and sure:
            slipped.append(r.origin)
    assert lost == [] and slipped == []
    assert correct / len(refs) > 0.35  # the clinical/dermoscopy/pathology split is weak


def test_a_low_power_section_on_white_is_pathology_not_other() -> None:
    """Indian J Dermatol 69:423 Fig. 2a/c: H&E sections on white glass; colour/texture
    neighbours call such pictures ``other`` (white, like a diagram). Drawn here: two pink
    sections with purple nuclei on white; a blue diagram on white keeps its ``other``."""
    from harness.dataset_builder.modality import STAIN_SHARE, stain_share

    rng = np.random.default_rng(0)
    img = np.full((400, 400, 3), 250, np.uint8)
    for cx in (110, 290):
        cv2.ellipse(img, (cx, 200), (70, 150), 0, 0, 360, (200, 150, 225), -1)  # eosin
        for _ in range(300):
            x, y = int(rng.normal(cx, 30)), int(rng.normal(200, 70))
            cv2.circle(img, (x, y), 3, (140, 40, 110), -1)                      # nuclei
    tissue, stained = stain_share(img)
    assert 0.1 <= tissue <= 0.6 and stained >= STAIN_SHARE
    diagram = np.full((400, 400, 3), 255, np.uint8)
    cv2.rectangle(diagram, (40, 40), (360, 200), (200, 120, 40), -1)
    cv2.putText(diagram, "Phase", (60, 300), cv2.FONT_HERSHEY_SIMPLEX, 2, (0, 0, 0), 4)
    assert stain_share(diagram)[1] < 0.3

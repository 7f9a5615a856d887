"""The builder on a real open-access paper (Lucius et al. 2020, Diagnostics 10:969).

The expected list below was made by rendering pages 3 and 8 of the PDF and reading them:
page 3 holds Figure 1, seven dermoscopic images in two rows (a-d above, e-g below) with a
caption "(a) Melanocytic nevus; (b) benign keratosis; ... (g) melanoma" followed by a legend
("F: female; M: male; LE: lower extremity; B: back; H: hand; T: trunk"); page 8 holds
Figure 2, seven synthetic images in the same arrangement, "(A) melanocytic nevus ... (G)
melanoma". The journal logos on pages 1 and 15 are decorations; Tables carry no pictures.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.dataset_builder.align import all_pairs, run_align
from harness.dataset_builder.extract import run_extract

PDF = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "pdfs" / \
    "Deep_Neural_Frameworks_Improve.pdf"

DISEASES = ["melanocytic nevus", "benign keratosis", "vascular lesion", "dermatofibroma",
            "intraepithelial carcinoma", "basal cell carcinoma", "melanoma"]
# (figure, printed page, panel letters in reading order, row of each panel as seen)
EXPECTED = [
    ("1", 3, list("abcdefg"), [0, 0, 0, 0, 1, 1, 1]),
    ("2", 8, list("ABCDEFG"), [0, 0, 0, 0, 1, 1, 1]),
]


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    if not PDF.is_file():
        pytest.skip(f"the real reference PDF {PDF} is absent")
    work = tmp_path_factory.mktemp("real")
    [summary] = run_extract([PDF], work, quiet=True)
    assert summary["status"] == "ok" and summary["errors"] == 0
    run_align(work, quiet=True)
    return all_pairs(work)


def test_figures_panels_and_letters_match_the_hand_made_list(pairs: list[dict]) -> None:
    assert sorted({p["figure"] for p in pairs}) == ["1", "2"]
    for figure, page, letters, rows in EXPECTED:
        panels = [p for p in pairs if p["figure"] == figure]
        assert [p["page"] + 1 for p in panels] == [page] * len(letters)
        assert [p["label"] for p in panels] == letters
        assert {p["alignment"] for p in panels} == {"label_order"}
        # the letter printed on each panel sits where reading order puts it
        tops = sorted({round(p["bbox"][1]) for p in panels})
        assert [0 if abs(p["bbox"][1] - tops[0]) < 5 else 1 for p in panels] == rows
        row0 = [p["bbox"][0] for p in panels if abs(p["bbox"][1] - tops[0]) < 5]
        assert row0 == sorted(row0)


def test_subcaptions_are_the_disease_names_and_the_legend_is_kept_apart(pairs: list[dict]
                                                                        ) -> None:
    for figure, *_ in EXPECTED:
        panels = [p for p in pairs if p["figure"] == figure]
        assert [p["subcaption"].lower() for p in panels] == DISEASES
        assert all(p["text"].startswith("Examples of") for p in panels)
    legend = {p["postscript"] for p in pairs if p["figure"] == "1"}
    assert len(legend) == 1 and legend.pop().startswith("Legends inside each image")
    assert all("female" not in p["text"] for p in pairs)

"""The builder on the five real open-access PDFs of ../shared/data/pdfs, scored against truth
files made by hand from rendered pages (tests/builder_truth/, never from the builder's output).

Every stage runs except the LLM (template questions). The modality stage uses the shipped
library *less the references taken from the PDF under test*, so no picture is classified
against itself: the score is what a user gets on a PDF the library has never seen.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.dataset_builder.align import all_pairs
from harness.dataset_builder.evaluate import build_and_score, load_truth
from harness.dataset_builder.modality import default_library
from harness.dataset_builder.records import read_jsonl
from tests.conftest import SHARED_DATA

TRUTH = Path(__file__).with_name("builder_truth")
TRUTH_FILES = sorted(TRUTH.glob("*.json"))
THRESHOLDS = {"figures": 1.0, "caption_text": 0.98, "caption_pairing": 0.98,
              "panel_recall": 0.95, "panel_precision": 0.95, "subcaption": 0.90}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    pdfs = SHARED_DATA / "pdfs"
    if not pdfs.is_dir():
        pytest.skip(f"the real reference PDFs ({pdfs}) are absent")
    library = default_library()
    out = {}
    for tf in TRUTH_FILES:
        truth = load_truth(tf)
        pdf = pdfs / truth["pdf"]
        work = tmp_path_factory.mktemp(tf.stem[:20])
        score = build_and_score(pdf, truth, work, library.without(pdf.stem))
        out[tf.stem] = {"score": score, "work": work, "pairs": all_pairs(work)}
    return out


def test_the_corpus_is_five_publishers() -> None:
    assert len(TRUTH_FILES) == 5
    assert all((SHARED_DATA / "pdfs" / load_truth(f)["pdf"]).is_file() or not SHARED_DATA.is_dir()
               for f in TRUTH_FILES)


@pytest.mark.parametrize("stem", [f.stem for f in TRUTH_FILES])
def test_figures_captions_panels_and_subcaptions(runs: dict, stem: str) -> None:
    s = runs[stem]["score"]
    for key, floor in THRESHOLDS.items():
        assert s[key] >= floor, (key, s[key], s["failures"])
    # only pictures of skin are written unflagged; anything else is left out or flagged
    assert s["written_non_skin"] == 0, s["written_non_skin_ids"]


def test_corpus_totals(runs: dict) -> None:
    scores = [r["score"] for r in runs.values()]
    panels = sum(s["panels_truth"] for s in scores)
    assert panels == 26
    assert sum(s["matched"] for s in scores) / panels >= 0.95
    assert sum(s["subcaption"] * s["panels_truth"] for s in scores) / panels >= 0.90
    assert sum(s["written_non_skin"] for s in scores) == 0
    # the pipeline loses no skin picture on the way: each is written, kept or flagged
    assert sum(s["skin_written"] for s in scores) == sum(s["skin_panels"] for s in scores)


def test_grouped_letters_cut_one_raster_into_four_panels(runs: dict) -> None:
    pairs = runs["ajtmh_2024_nguyen_dengue_acute_urticaria"]["pairs"]
    assert [p["label"] for p in pairs] == ["A", "B", "C", "D"]
    assert {p["alignment"] for p in pairs} == {"label_order_split"}
    assert pairs[0]["subcaption"] == pairs[1]["subcaption"] != pairs[2]["subcaption"]


def test_liver_histology_is_pathology_but_flagged_as_not_skin(runs: dict) -> None:
    run = runs["bmc_infectdis_2022_gunasekera_dengue_liver_failure_histology"]
    assert [p["label"] for p in run["pairs"]] == ["A", "B"]  # "A and B" in bold, one raster
    decisions = {r["id"]: r for r in read_jsonl(run["work"] / "filter" / "decisions.jsonl")}
    for p in run["pairs"]:
        d = decisions[p["id"]]
        assert d["decision"] == "review"
        assert any("caption names liver" in r for r in d["reasons"])


def test_burnt_in_arrow_check_against_the_truth_marks(runs: dict) -> None:
    """The heuristic flags no arrow-free skin panel; of the three arrowed Cureus photographs it
    finds the one whose arrow is a filled stroke (Fig. 1) -- the hollow outlined arrows of
    Figs. 2 and 3 are missed (docs/dataset_builder.md, Not done)."""
    from harness.dataset_builder.evaluate import match_panels

    found, missed, false = 0, 0, 0
    for stem, run in runs.items():
        truth = load_truth(TRUTH / f"{stem}.json")
        panels = [p for f in truth["figures"] for p in f["panels"] if p["skin"]]
        decisions = {r["id"]: r for r in read_jsonl(run["work"] / "filter" / "decisions.jsonl")}
        for t, p, _ in match_panels(panels, run["pairs"]):
            flagged = bool(decisions[p["id"]]["checks"]["raster_arrow"])
            if t.get("marks") == "burnt-in arrow":
                found, missed = found + flagged, missed + (not flagged)
            else:
                false += flagged
    assert (found, missed, false) == (1, 2, 0)


def test_wrapped_elsevier_captions_are_whole(runs: dict) -> None:
    pairs = runs["anbrasdermatol_2021_palhares_exanthematic_dengue_mimicking_rubella"]["pairs"]
    assert [p["caption"] for p in pairs][1].endswith("The right axillary region was spared.")
    assert all("  " not in p["caption"] for p in pairs)  # one space between words


def test_run_needs_no_library_of_its_own(tmp_path: Path) -> None:
    """`run` once refused to start without --library; the shipped one is the default now."""
    from click.testing import CliRunner

    from harness.dataset_builder.cli import cli

    pdf = SHARED_DATA / "pdfs" / "cureus_2020_raza_dengue_hemorrhagic_skin_manifestations.pdf"
    if not pdf.is_file():
        pytest.skip(f"the real reference PDF {pdf} is absent")
    r = CliRunner().invoke(cli, ["run", str(pdf), "--work", str(tmp_path / "w"),
                                 "--out", str(tmp_path / "o"), "--quiet"])
    assert r.exit_code == 0, r.output
    meta = (tmp_path / "o" / "MM-Skin" / "metadata.csv").read_text().splitlines()
    assert len(meta) == 4 and all(",clinical," in line for line in meta[1:])

"""The whole dataset builder on a synthetic textbook, scored against the generator's truth."""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from synthetic_book import _iou, build_book, reference_folders, score_pairs

from harness.dataset_builder.align import all_pairs
from harness.dataset_builder.cli import cli
from harness.dataset_builder.records import read_jsonl

N_PAGES = 30


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("builder")
    book = root / "books" / "book.pdf"
    book.parent.mkdir()
    gt = build_book(book, N_PAGES, seed=3)
    refs = reference_folders(root / "refs", n_per_class=10, seed=5)
    runner = CliRunner()
    lib = root / "lib.npz"
    r = runner.invoke(cli, ["library", str(refs), str(lib)])
    assert r.exit_code == 0, r.output
    work, out, cassette = root / "work", root / "out", root / "cassette.jsonl"
    r = runner.invoke(cli, ["run", str(book.parent), "--work", str(work), "--out", str(out),
                            "--library", str(lib), "--backend", "template",
                            "--record", str(cassette), "--quiet"])
    assert r.exit_code == 0, r.output
    return {"root": root, "gt": gt, "work": work, "out": out, "cassette": cassette,
            "lib": lib, "book": book, "output": r.output}


def _book_pairs(built: dict) -> list[dict]:
    return all_pairs(built["work"])


def test_panels_captions_and_subcaptions_match_ground_truth(built: dict) -> None:
    s = score_pairs(built["gt"], _book_pairs(built))
    assert s["gt_panels"] >= 50  # the book really has many panels to find
    assert s["recall"] >= 0.98, s
    assert s["precision"] >= 0.98, s
    assert s["caption_pairing"] >= 0.98, s["failures"]
    assert s["subcaption"] >= 0.98, s["failures"]


def test_every_layout_case_occurs_and_is_paired(built: dict) -> None:
    pairs = _book_pairs(built)
    methods = {p["alignment"] for p in pairs}
    # composite rasters cut at gutters, label order, left/right, single-panel figures
    assert {"label_order", "label_order_split", "single"} <= methods
    positions = {f["position"] for f in built["gt"]["figures"]}
    assert positions == {"above", "below"}
    figs = {f["figure"] for f in built["gt"]["figures"]}
    assert {p["figure"] for p in pairs} == figs


def test_mentions_small_figures_and_logos_are_not_pairs(built: dict) -> None:
    caps = []
    for f in (built["work"] / "align").glob("*.captions.jsonl"):
        caps += list(read_jsonl(f))
    rejected = [c for c in caps if c.get("rejected")]
    # paragraphs that start with "Fig. 1.3 shows ..." were found and turned down
    assert rejected and all(c["score"] < 2 for c in rejected)
    small = {s["figure"] for s in built["gt"]["small"]}
    assert small and not small & {p["figure"] for p in _book_pairs(built)}
    small_caps = [c for c in caps if c["figure"] in small and not c.get("rejected")]
    assert small_caps and all(c["n_panels"] == 0 for c in small_caps)
    manifest = list(read_jsonl(built["work"] / "extract" / "manifest.jsonl"))
    assert manifest[0]["small_dropped"] >= N_PAGES  # the logo on every page, the small figures


def _match(built: dict) -> list[tuple[dict, dict]]:
    pairs = _book_pairs(built)
    out = []
    for g in built["gt"]["panels"]:
        p = max((p for p in pairs if p["page"] == g["page"]),
                key=lambda p: _iou(p["bbox"], g["bbox"]))
        out.append((g, p))
    return out


def test_modality_demographics_and_filters_against_truth(built: dict) -> None:
    work = built["work"]
    mod = {r["id"]: r for r in read_jsonl(work / "modality" / "modality.jsonl")}
    demo = {r["id"]: r for r in read_jsonl(work / "demographics" / "demographics.jsonl")}
    dec = {r["id"]: r for r in read_jsonl(work / "filter" / "decisions.jsonl")}
    matched = _match(built)
    acc = sum(mod[p["id"]]["modality"] == g["modality"] for g, p in matched) / len(matched)
    assert acc >= 0.95  # synthetic modalities are easy; this checks the plumbing, not accuracy
    for g, p in matched:
        d = demo[p["id"]]
        assert (d["age"], d["sex"]) == (g["age"], g["sex"]) or g["age"] == 0 and d["age"] == 0.25
        if d["age"] is not None:
            assert d["age_span"] in p["text"]
        checks = dec[p["id"]]["checks"]
        assert bool(checks["vector"]["marks"]) == g["vector_arrow"], checks["vector"]
        assert bool(checks["raster_arrow"]) == g["raster_arrow"], (g, checks)
        if mod[p["id"]]["modality"] == "clinical" or mod[p["id"]].get("review"):
            assert checks["face"] == {"faces": 0, "full_face": False}  # OpenCV's cascade ran
        else:  # no full face under a dermatoscope or a microscope: not looked for
            assert checks["face"].startswith("skipped")
        if g["vector_arrow"]:  # a drawn arrow: the paper removes it, a person decides
            assert dec[p["id"]]["decision"] == "review"
            assert any("vector mark" in r for r in dec[p["id"]]["reasons"])
    review = (work / "modality" / "review.csv").read_text()
    assert review.startswith("id,image,predicted,runner_up,margin")


def test_written_layout_split_and_statistics(built: dict) -> None:
    root = built["out"] / "MM-Skin"
    with (root / "metadata.csv").open() as fh:
        meta = list(csv.DictReader(fh))
    assert list(meta[0]) == ["image", "modality", "age", "sex", "caption", "source_pdf", "page",
                             "figure", "panel", "review", "demographics_source"]
    assert all((root / m["image"]).is_file() for m in meta)
    splits = {}
    for split in ("train", "test"):
        with (root / "Dataframe" / split / "vqa" / f"MM-Skin_{split}.csv").open() as fh:
            rows = list(csv.DictReader(fh))
        assert rows and list(rows[0]) == ["image", "question", "answer", "modality"]
        with (root / "Dataframe" / split / "caption" / f"MM-Skin_{split}.csv").open() as fh:
            caps = list(csv.DictReader(fh))
        assert list(caps[0]) == ["image", "caption", "modality", "age", "sex"]
        for c in caps:
            splits[c["image"]] = split
    by_fig: dict[tuple[str, str], set[str]] = {}
    for m in meta:
        by_fig.setdefault((m["source_pdf"], m["figure"]), set()).add(splits[m["image"]])
    assert all(len(s) == 1 for s in by_fig.values())  # a figure never straddles the split
    stats = json.loads((root / "stats.json").read_text())
    # drawn arrows go to review, which is written (flagged): nothing of the book is dropped
    assert stats["table2"]["overall"]["images"] == len(meta) == len(built["gt"]["panels"])
    assert "filter: drop" not in stats["excluded"]
    arrowed = sum(1 for g in built["gt"]["panels"] if g["vector_arrow"])
    assert sum("vector mark" in m["review"] for m in meta) == arrowed > 0
    q = stats["text"]["questions"]
    assert q["herdan_c_paper"] == pytest.approx(q["vocabulary"] / math.log(q["words"]), abs=1e-3)
    assert "| overall |" in (root / "stats.md").read_text()


def test_replay_reproduces_the_template_run_and_resume_skips_work(built: dict, tmp_path: Path
                                                                   ) -> None:
    work = tmp_path / "work"
    shutil.copytree(built["work"], work)
    (work / "vqa" / "vqa.jsonl").unlink()
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["vqa", "--work", str(work), "--backend", "replay",
                                 "--cassette", str(built["cassette"]), "--quiet"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli, ["write", "--work", str(work), "--out", str(out)])
    assert r.exit_code == 0, r.output
    for split in ("train", "test"):
        rel = Path("MM-Skin/Dataframe") / split / "vqa" / f"MM-Skin_{split}.csv"
        assert (out / rel).read_text() == (built["out"] / rel).read_text()
    # A rerun of every stage finds everything done: no line is added anywhere.
    sizes = {p: p.stat().st_size for p in work.rglob("*.jsonl")}
    r = CliRunner().invoke(cli, ["run", str(built["book"]), "--work", str(work), "--out",
                                 str(out), "--library", str(built["lib"]), "--quiet"])
    assert r.exit_code == 0, r.output
    assert {p: p.stat().st_size for p in work.rglob("*.jsonl")} == sizes

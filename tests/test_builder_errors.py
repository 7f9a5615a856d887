"""Bad input is a recorded error while the rest is processed; CLI errors are one sentence."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from synthetic_book import (
    build_book,
    corrupt_image_page,
    corrupt_pdf,
    encrypted_pdf,
    no_image_pdf,
    reference_folders,
)

from harness.dataset_builder.align import all_pairs, run_align
from harness.dataset_builder.cli import cli
from harness.dataset_builder.extract import run_extract
from harness.dataset_builder.records import read_jsonl


@pytest.fixture(scope="module")
def books(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("bad")
    good = d / "src" / "good.pdf"
    good.parent.mkdir()
    build_book(good, 8, seed=11)
    inp = d / "in"
    inp.mkdir()
    corrupt_pdf(inp / "a_corrupt.pdf")
    corrupt_pdf(inp / "a_garbage.pdf", header=False)
    encrypted_pdf(inp / "b_encrypted.pdf")
    no_image_pdf(inp / "c_no_images.pdf")
    corrupt_image_page(good, inp / "d_broken_page.pdf", page_no=0)
    return d


def test_each_bad_pdf_is_recorded_and_the_rest_processed(books: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    res = {Path(r["pdf"]).name: r for r in run_extract([books / "in"], work, quiet=True)}
    assert res["a_corrupt.pdf"]["status"] == "error"
    assert res["a_corrupt.pdf"]["error"] == "no pages (a corrupt or empty file)"
    assert res["a_garbage.pdf"]["status"] == "error"
    assert res["a_garbage.pdf"]["error"].startswith("cannot open")
    assert res["b_encrypted.pdf"] == {**res["b_encrypted.pdf"], "status": "error",
                                      "error": "encrypted: a password is needed"}
    no_img = res["c_no_images.pdf"]
    assert no_img["status"] == "ok" and no_img["images"] == 0 and no_img["errors"] == 1
    errs = list(read_jsonl(work / "extract" / no_img["pdf_id"] / "errors.jsonl"))
    assert errs == [{"page": None, "error": "no images of at least 300 px"}]
    broken = res["d_broken_page.pdf"]
    assert broken["status"] == "ok" and broken["errors"] == 1
    [err] = read_jsonl(work / "extract" / broken["pdf_id"] / "errors.jsonl")
    assert err["page"] == 0 and "cannot be decoded" in err["error"]
    # every other page of that book still gave its images and pairs
    good = run_extract([books / "src"], tmp_path / "ref", quiet=True)[0]
    assert broken["images"] == good["images"] - 1
    run_align(work, quiet=True)
    pages = {p["page"] for p in all_pairs(work)}
    assert pages and max(pages) > 0
    # the manifest is the resume set: a second run does nothing and records nothing new
    assert run_extract([books / "in"], work, quiet=True) == []


def test_captions_without_pictures_are_recorded(books: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    run_extract([books / "in" / "c_no_images.pdf", books / "src"], work, quiet=True)
    run_align(work, quiet=True)
    caps = [c for f in sorted((work / "align").glob("*.captions.jsonl")) for c in read_jsonl(f)]
    # body-font "Figure 1.1" on a page without pictures: a candidate, turned down, kept on file
    plain = [c for c in caps if c["text"].startswith("Figure 1.1 A caption without")]
    assert len(plain) == 1 and plain[0]["rejected"] and plain[0]["score"] < 2
    # a real caption whose picture is too small: accepted, paired with nothing, recorded
    small = [c for c in caps if "below the size threshold" in c["text"]]
    assert small and all(c["alignment"] == "no_image" and c["n_panels"] == 0 for c in small)


@pytest.mark.parametrize(("args", "message"), [
    (["extract", "nowhere.pdf", "--work", "{w}"], "input nowhere.pdf does not exist."),
    (["modality", "--work", "{w}", "--library", "{bad}"], "is not a library file"),
    (["modality", "--work", "{w}", "--references", "{w}/none"], "does not exist."),
    (["vqa", "--work", "{w}", "--backend", "openai"], "--backend openai needs --base-url."),
    (["vqa", "--work", "{w}", "--backend", "replay", "--cassette", "{w}/x"], "does not exist."),
    (["filter", "--work", "{w}", "--face-model", "{bad}"], "must be an OpenCV cascade"),
    (["write", "--work", "{w}", "--out", "{w}/o"], "no aligned pairs"),
])
def test_cli_errors_are_one_sentence_exit_2(args: list[str], message: str, tmp_path: Path
                                            ) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_text("not a library")
    argv = [a.format(w=tmp_path, bad=bad) for a in args]
    r = CliRunner().invoke(cli, argv)
    assert r.exit_code == 2, r.output
    assert message in r.output and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_library_needs_two_labelled_folders(tmp_path: Path) -> None:
    refs = reference_folders(tmp_path / "refs", n_per_class=2)
    for d in ("dermoscopy", "pathology"):
        for f in (refs / d).iterdir():
            f.unlink()
        (refs / d).rmdir()
    r = CliRunner().invoke(cli, ["library", str(refs), str(tmp_path / "l.npz")])
    assert r.exit_code == 2 and "at least two sub-folders" in r.output


def test_written_records_have_the_mode_of_any_new_file(tmp_path: Path) -> None:
    """mkstemp's 0600 left a built dataset unreadable to the rest of a group (issue 18)."""
    import os
    import stat

    from harness.dataset_builder.records import write_jsonl_atomic

    old = os.umask(0o002)
    try:
        write_jsonl_atomic(tmp_path / "records.jsonl", [{"id": "a"}, {"id": "b"}])
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "records.jsonl").stat().st_mode) == 0o664
    assert [r["id"] for r in read_jsonl(tmp_path / "records.jsonl")] == ["a", "b"]
    assert [p.name for p in tmp_path.iterdir()] == ["records.jsonl"]  # no temporary left

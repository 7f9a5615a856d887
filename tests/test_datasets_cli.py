"""`harness data check` and `harness data fetch-splits`, run as a user would (subprocess)."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import run_harness
from datasets_helpers import REPO, shared_or_skip

from harness.datasets import splitfiles


def _tiny_jpeg(path: Path, value: int) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (value % 256, 90, 60)).save(path, quality=90)


def test_check_reports_exactly_the_missing_and_broken_files(tmp_path: Path) -> None:
    shared = shared_or_skip()
    root = tmp_path / "root"
    (root / "mmskin-splits/classification").mkdir(parents=True)
    split = root / "mmskin-splits/classification/HAM10000_test.csv"
    split.symlink_to(shared / "mmskin-splits/classification/HAM10000_test.csv")
    lines = split.read_text().splitlines()[1:]
    images = [root / line.split(",")[0] for line in lines]
    for k, path in enumerate(images):
        _tiny_jpeg(path, k)
    removed = [images[5], images[700], images[1510]]
    for p in removed:
        p.unlink()
    images[42].write_bytes(images[42].read_bytes()[:40])  # truncated JPEG
    (root / "HAM10000/HAM10000_metadata.csv").parent.mkdir(exist_ok=True)
    # HAM10000_metadata.csv deliberately absent: train is reported missing.
    out = run_harness("data", "check", "--data-root", str(root), "ham10000", cwd=REPO)
    assert out.returncode == 1, out.stderr
    text = out.stdout
    assert f"MISSING {root}/HAM10000/HAM10000_metadata.csv" in text
    assert "found   " + str(split) in text
    assert "test: 1511 samples, 0 skipped of 1511 rows in the split file" in text
    missing = [line.split("missing image: ")[1] for line in text.splitlines()
               if "missing image: " in line]
    assert sorted(missing) == sorted(str(p) for p in removed)
    unreadable = [line for line in text.splitlines() if "unreadable image: " in line]
    assert len(unreadable) == 1 and str(images[42]) in unreadable[0]
    assert "train: not loaded: HAM10000 metadata not found" in text
    assert "class '" not in text  # class counts match the split file
    verdict = [line for line in text.splitlines() if line.startswith("ham10000: ")]
    assert verdict == ["ham10000: INCOMPLETE (1511 samples; 1 file(s) missing; split(s) train "
                       "not loaded; 3 image(s) missing; 1 image(s) unreadable)"]


def test_check_ok_with_the_papers_split_file(tmp_path: Path) -> None:
    """OK needs the paper's own split file (linked, pinned SHA-256) and every image."""
    import csv

    shared = shared_or_skip()
    root = tmp_path / "root"
    (root / "mmskin-splits/classification").mkdir(parents=True)
    (root / "DDI").mkdir()
    split = root / "mmskin-splits/classification/DDI_2class_test.csv"
    split.symlink_to(shared / "mmskin-splits/classification/DDI_2class_test.csv")
    (root / "DDI/ddi_metadata.csv").symlink_to(shared / "metadata/ddi/ddi_metadata.csv")
    with open(root / "DDI/ddi_metadata.csv", newline="") as meta, open(split, newline="") as f:
        names = {r["DDI_file"] for r in csv.DictReader(meta)}
        names |= {r["image"].rsplit("/", 1)[-1] for r in csv.DictReader(f)}
    for k, name in enumerate(sorted(names)):
        _tiny_jpeg(root / "DDI" / name, k)
    out = run_harness("data", "check", "--data-root", str(root), "ddi", cwd=REPO)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "ddi: OK (653 samples, all images present and readable)" in out.stdout
    assert "MODIFIED" not in out.stdout


def test_check_names_a_modified_split_file_and_class_count_mismatch(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "mmskin-splits/classification").mkdir(parents=True)
    (root / "DDI").mkdir()
    (root / "DDI/ddi_metadata.csv").write_text(
        ",DDI_ID,DDI_file,skin_tone,malignant,disease\n0,1,000001.png,12,TRUE,melanoma\n"
        "1,2,000002.png,34,FALSE,nevus\n2,3,000003.png,56,FALSE,nevus\n"
        "3,4,000004.png,56,FALSE,nevus\n")
    split = root / "mmskin-splits/classification/DDI_2class_test.csv"
    split.write_text("image,atributes,categories\nDDI/000001.png,[],['Malignant']\n")
    for k in range(1, 5):
        _tiny_jpeg(root / f"DDI/{k:06d}.png", k)
    out = run_harness("data", "check", "--data-root", str(root), "ddi", cwd=REPO)
    assert out.returncode == 1, out.stdout + out.stderr
    assert (f"MODIFIED split file {split} differs from the paper's "
            "classification/DDI_2class_test.csv pinned at ZwQ803/MM-Skin@31d105c") in out.stdout
    assert ("ddi: INCOMPLETE (4 samples; 1 split file(s) differ from the paper's)"
            in out.stdout)
    split.write_text("image,atributes,categories\nDDI/000001.png,[],['Malignant']\n"
                     "DDI/000002.png,[],['Cancer']\n")
    out = run_harness("data", "check", "--data-root", str(root), "ddi", "--no-images", cwd=REPO)
    assert out.returncode == 1
    assert "skipped: " in out.stdout and "row 3: label 'Cancer'" in out.stdout
    assert "class 'Cancer': 0 loaded, 1 in the split file" in out.stdout


@pytest.fixture
def split_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real HTTP server on 127.0.0.1 serving a copy of the split files' upstream layout."""
    shared = shared_or_skip()
    served = tmp_path / "served"
    for rel in splitfiles.FILES:
        (served / rel).parent.mkdir(parents=True, exist_ok=True)
        (served / rel).symlink_to(shared / "mmskin-splits" / rel)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", served
    finally:
        server.shutdown()
        server.server_close()


def test_fetch_splits_checks_sha256(tmp_path: Path, split_server: tuple[str, Path]) -> None:
    url, served = split_server
    root = tmp_path / "root"
    root.mkdir()
    out = run_harness("data", "fetch-splits", "--data-root", str(root), "--base-url", url,
                      cwd=REPO)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "11 of 11 files in place" in out.stdout
    assert set(splitfiles.verify(root / "mmskin-splits").values()) == {"ok"}
    again = run_harness("data", "fetch-splits", "--data-root", str(root), "--base-url", url,
                        cwd=REPO)
    assert again.stdout.count("present") == 11
    # A tampered upstream file is refused and never written under its name.
    tampered = served / "classification/DDI_2class_test.csv"
    tampered.unlink()
    shutil.copy(shared_or_skip() / "mmskin-splits/classification/DDI_2class_test.csv", tampered)
    with open(tampered, "a") as fh:
        fh.write("DDI/999999.png,[],['Malignant']\n")
    (root / "mmskin-splits/classification/DDI_2class_test.csv").unlink()
    bad = run_harness("data", "fetch-splits", "--data-root", str(root), "--base-url", url,
                      cwd=REPO)
    assert bad.returncode == 1
    assert "failed" in bad.stdout and "differs from the pinned" in bad.stdout
    assert not (root / "mmskin-splits/classification/DDI_2class_test.csv").exists()
    assert not list((root / "mmskin-splits/classification").glob(".fetch-*"))


def test_fetch_splits_offline_says_so(tmp_path: Path) -> None:
    out = run_harness("data", "fetch-splits", "--data-root", str(tmp_path),
                      "--base-url", "http://127.0.0.1:9", cwd=REPO)
    assert out.returncode == 1 and "cannot download http://127.0.0.1:9/" in out.stdout
    assert "Traceback" not in out.stdout + out.stderr

"""The paper's split files are the paper's: a changed byte is named before any model loads.

Issue 18: a modified pinned split file was not noticed, so a run could report numbers on
another test set under the paper's name. Real split files from the shared reference data,
the real `harness run` command.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.datasets import splitfiles
from tests.cli_helpers import harness_env
from tests.reliability.counts import COUNTS
from tests.reliability.real_roots import (
    HAM_SPLIT,
    VQA_SPLIT,
    ham10000_root,
    mm_skin_root,
    shared_or_skip,
)
from tests.reliability.test_bad_input import assert_one_sentence


def harness(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=cwd, env=harness_env(),
                          capture_output=True, text=True, timeout=300)


def unlink_and_copy(path: Path) -> None:
    """Replace a link to the real file by a writable copy of it."""
    real = path.resolve()
    path.unlink()
    shutil.copyfile(real, path)


def test_the_pins_are_the_published_files() -> None:
    """Every pinned SHA-256 is that of the authors' file (shared copies of ZwQ803/MM-Skin@31d105c
    Dataframe/test/)."""
    shared = shared_or_skip()
    assert splitfiles.verify(shared / "mmskin-splits") == dict.fromkeys(splitfiles.FILES, "ok")


@pytest.fixture(scope="module")
def ham_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ham10000_root(tmp_path_factory.mktemp("pins") / "root")


def test_a_relabelled_row_is_refused_by_name_then_allowed_and_recorded(ham_root: Path,
                                                                         tmp_path: Path) -> None:
    COUNTS["bad_inputs_tried"] += 1
    args = ("run", "--model", "chance", "--task", "zeroshot/ham10000", "-T", "bootstrap=0",
            "--data-root", str(ham_root))
    assert harness(*args, "--dry-run", cwd=tmp_path).returncode == 0  # the real file passes
    split = ham_root / HAM_SPLIT
    unlink_and_copy(split)
    try:
        text = split.read_text()
        # a silent edit: still 1,511 well-formed rows, one label changed
        split.write_text(text.replace("['Nevus']", "['Melanoma']", 1))
        refused = harness(*args, "--dry-run", cwd=tmp_path)
        assert_one_sentence(refused, 1, (str(split), "pinned", "--allow-modified-splits",
                                         "fetch-splits --force"))
        allowed = harness(*args, "--limit", "3", "--allow-modified-splits", "--output", "out",
                          cwd=tmp_path)
        assert allowed.returncode == 0, allowed.stderr[-2000:]
        run = json.loads((tmp_path / "out/zeroshot/ham10000/chance/run.json").read_text())
        noted = [n for n in run["data"]["notes"] if str(split) in n]
        assert len(noted) == 1 and "differs from the paper's" in noted[0], run["data"]["notes"]
        # `harness data overlap` reads the same file: refused alike, allowed with the flag
        overlap = ("data", "overlap", "ham10000:test", "ham10000:test", "--ids-only",
                   "--data-root", str(ham_root), "--out", "pairs.csv")
        assert_one_sentence(harness(*overlap, cwd=tmp_path), 1,
                            (str(split), "--allow-modified-splits"))
        allowed = harness(*overlap, "--allow-modified-splits", cwd=tmp_path)
        assert allowed.returncode == 0, allowed.stderr[-2000:]
        assert "1511 images" in allowed.stdout and (tmp_path / "pairs.csv").exists()
    finally:
        split.unlink()
        split.symlink_to(shared_or_skip() / HAM_SPLIT)


def test_a_modified_mm_skin_test_file_is_refused_by_name(tmp_path: Path) -> None:
    COUNTS["bad_inputs_tried"] += 1
    root = mm_skin_root(tmp_path / "root", rows=0)
    split = root / VQA_SPLIT
    unlink_and_copy(split)
    with open(split, "a", encoding="utf-8") as fh:  # one extra question at the end
        fh.write("dataset/extra.png,What is shown?,A lesion.\n")
    refused = harness("run", "--model", "chance", "--task", "vqa/mm-skin", "--data-root",
                      str(root), "--dry-run", cwd=tmp_path)
    assert_one_sentence(refused, 1, (str(split), "vqa/MM-Skin_test.csv", "--allow-modified-splits"))

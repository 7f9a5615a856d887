"""Wall time of one evaluation with 1 and with 2 data-parallel processes (torchrun, gloo, CPU).

A tiny random-weight LLaVA-Med-style checkpoint is built offline (tests/tiny_models.py)
and evaluated on `vqa/demo` through the real CLI, first as one process, then under
`torchrun --nproc-per-node 2`. Both include process start-up, model loading and
scoring, as a user would see them; the ratio is what data parallelism buys on this
machine. Each process uses one thread.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/parallel.py [--task vqa/demo] [--limit 160]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:6])} ... failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--task", default="vqa/demo")
    ap.add_argument("--limit", type=int, default=160)
    ap.add_argument("--batch-size", type=int, default=4)
    args = ap.parse_args()
    from tiny_models import build_llava

    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1",
               PYTHONPATH=f"{REPO}:{os.environ.get('PYTHONPATH', '')}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ckpt = build_llava(work / "tiny-llava")
        run = ["-m", "harness", "run", "--model", "skinvl", "--model-path", str(ckpt),
               "--task", args.task, "--limit", str(args.limit), "--batch-size",
               str(args.batch_size), "--device", "cpu", "-T", "bootstrap=0", "-T",
               "metrics=bleu4,rougeL,recall", "-T", "max_new_tokens=16"]
        # Warm the demo image cache and compiled imports once, outside the timings.
        timed([sys.executable, *run, "--output", "warm"], work, env)
        one = timed([sys.executable, *run, "--output", "one"], work, env)
        two = timed([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node=2",
                     "--master-addr=127.0.0.1", f"--master-port={free_port()}", *run,
                     "--output", "two"], work, env)
    print(f"task={args.task} samples={args.limit} batch={args.batch_size} (tiny LLaVA, CPU)")
    print(f"1 process : {one:.2f} s")
    print(f"2 processes: {two:.2f} s")
    print(f"speed-up 1/2: {one / two:.2f}x")


if __name__ == "__main__":
    main()

"""Wall time of one evaluation with 1 and with 2 data-parallel processes (torchrun, gloo, CPU).

A tiny random-weight LLaVA-Med-style checkpoint is built offline (tests/tiny_models.py)
and evaluated on `vqa/demo` through the real CLI, first as one process, then under
`torchrun --nproc-per-node 2`. Both include process start-up, model loading and
scoring, as a user would see them; the ratio is what data parallelism buys on this
machine. Each process uses one thread. Decoding is greedy (``--protocol sound``): the
paper protocol samples, and a sampled answer depends on which samples share its batch and
its process, so only greedy runs can be compared answer for answer. The two runs must store
the same answers for the same samples and score them alike, or the result line says FAIL.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/parallel.py [--task vqa/demo] [--limit 160]
        [--smoke]
"""

from __future__ import annotations

import argparse
import json
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

from _result import SMOKE_HELP, result  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        result(__file__, False, f"{' '.join(cmd[:6])} ... exited {done.returncode}:\n"
               f"{done.stderr[-2000:]}")
    return time.perf_counter() - t0


def stored(output: Path) -> tuple[dict[str, object], dict[str, float]]:
    """The one task's answers by sample id and its overall scores, as the run stored them."""
    from harness.store import ResultStore

    (metrics,) = output.rglob("metrics.json")
    answers = {p.id: p.output for p in ResultStore(metrics.parent).load().values()}
    return answers, json.loads(metrics.read_text())["scores"]["overall"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--task", default="vqa/demo")
    ap.add_argument("--limit", type=int, default=160)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--tokens", type=int, default=16, help="max_new_tokens")
    ap.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    args = ap.parse_args()
    if args.smoke:
        args.limit, args.tokens = 16, 4
    from tiny_models import build_llava

    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1",
               PYTHONPATH=f"{REPO}:{os.environ.get('PYTHONPATH', '')}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ckpt = build_llava(work / "tiny-llava")
        run = ["-m", "harness", "run", "--model", "skinvl", "--model-path", str(ckpt),
               "--task", args.task, "--limit", str(args.limit), "--batch-size",
               str(args.batch_size), "--device", "cpu", "--protocol", "sound",
               "-T", "bootstrap=0", "-T", "metrics=bleu4,rougeL,recall",
               "-T", f"max_new_tokens={args.tokens}"]
        # Warm the demo image cache and compiled imports once, outside the timings (a smoke
        # run skips it: its timings are not read).
        if not args.smoke:
            timed([sys.executable, *run, "--output", "warm"], work, env)
        one = timed([sys.executable, *run, "--output", "one"], work, env)
        two = timed([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node=2",
                     "--master-addr=127.0.0.1", f"--master-port={free_port()}", *run,
                     "--output", "two"], work, env)
        (answers_one, scores_one), (answers_two, scores_two) = stored(work / "one"), stored(
            work / "two")
    print(f"task={args.task} samples={args.limit} batch={args.batch_size} (tiny LLaVA, CPU)")
    print(f"1 process : {one:.2f} s")
    print(f"2 processes: {two:.2f} s")
    print(f"speed-up 1/2: {one / two:.2f}x")
    differ = sorted(k for k in answers_one.keys() | answers_two.keys()
                    if answers_one.get(k) != answers_two.get(k))
    ok = not differ and len(answers_one) == args.limit and scores_one == scores_two
    result(__file__, ok,
           f"{len(answers_one)} answers and scores {scores_one} alike in 1 and 2 processes; "
           f"speed-up x{one / two:.2f}" if ok else
           f"1 vs 2 processes: {len(answers_one)} vs {len(answers_two)} answers stored, "
           f"{len(differ)} differ (e.g. {differ[:3]}); scores {scores_one} vs {scores_two}")


if __name__ == "__main__":
    main()

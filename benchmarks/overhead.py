"""How much wall time the harness adds around a model: a run against a plain loop.

Both sides build the same model, send the same requests in the same batches,
and keep the outputs; the harness additionally fingerprints, stores every
prediction (fsync'd JSONL), writes metrics.json/run.json and scores. Scoring is
kept to one cheap metric so the comparison is about the runner itself.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/overhead.py [--model knn-retrieval] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.plugin_manager import get_registries  # noqa: E402
from harness.runner import RunOptions, build_task, run  # noqa: E402


def plain_loop(model_name: str, task_name: str, batch_size: int) -> float:
    regs = get_registries()
    task = build_task(regs, task_name, {})
    samples = task.load_samples(None)
    requests = [task.build_request(s) for s in samples]
    t0 = time.perf_counter()
    model = regs.models.get(model_name).factory(model_path=None, device="cpu", seed=0)
    outputs = []
    for i in range(0, len(requests), batch_size):
        outputs += task.call(model, requests[i : i + batch_size])
    assert len(outputs) == len(requests)
    return time.perf_counter() - t0


def harness_run(model_name: str, task_name: str, batch_size: int) -> float:
    with tempfile.TemporaryDirectory() as out:
        opts = RunOptions(model=model_name, tasks=[task_name], output=Path(out),
                          batch_size=batch_size, device="cpu",
                          task_options={"bootstrap": "0", "metrics": "recall"})
        t0 = time.perf_counter()
        run(get_registries(), opts)
        return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="knn-retrieval")
    ap.add_argument("--task", default="vqa/demo")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    plain_loop(args.model, args.task, args.batch_size)  # warm caches (demo images, imports)
    plain = min(plain_loop(args.model, args.task, args.batch_size) for _ in range(args.repeat))
    ours = min(harness_run(args.model, args.task, args.batch_size) for _ in range(args.repeat))
    print(f"model={args.model} task={args.task} batch={args.batch_size}")
    print(f"plain loop : {plain:.3f} s")
    print(f"harness run: {ours:.3f} s")
    print(f"ratio harness/plain: {ours / plain:.3f} (overhead {100 * (ours / plain - 1):+.1f}%)")


if __name__ == "__main__":
    main()

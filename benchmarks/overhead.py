"""How much wall time the harness adds around a model: a run against a plain loop.

Both sides build the same model (as ``harness run`` builds it: ``harness.runner.load_model``),
send the same requests in the same batches, and keep the outputs; the harness additionally
fingerprints, stores every prediction (fsync'd JSONL), writes metrics.json/run.json and
scores. Scoring is kept to one cheap metric so the comparison is about the runner itself.
The harness's stored answers must equal the plain loop's, or the result line says FAIL.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/overhead.py [--model knn-retrieval] [--repeat 3]
        [--smoke]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _result import SMOKE_HELP, result  # noqa: E402

from harness.plugin_manager import get_registries  # noqa: E402
from harness.runner import RunOptions, build_task, load_model, run  # noqa: E402
from harness.store import ResultStore  # noqa: E402


def plain_loop(model_name: str, task_name: str, batch_size: int, limit: int | None
               ) -> tuple[float, dict[str, object]]:
    """Seconds to build the model and answer every request, and the answers by sample id."""
    regs = get_registries()
    task = build_task(regs, task_name, {})
    samples = task.load_samples(None)[:limit]
    requests = [task.build_request(s) for s in samples]
    t0 = time.perf_counter()
    model = load_model(regs, model_name, {}, device="cpu", seed=0)
    outputs = []
    for i in range(0, len(requests), batch_size):
        outputs += task.call(model, requests[i : i + batch_size])
    seconds = time.perf_counter() - t0
    return seconds, {r.sample_id: o for r, o in zip(requests, outputs, strict=True)}


def harness_run(model_name: str, task_name: str, batch_size: int, limit: int | None
                ) -> tuple[float, dict[str, object]]:
    """Seconds of a whole ``run`` and the answers it stored, by sample id."""
    with tempfile.TemporaryDirectory() as out:
        opts = RunOptions(model=model_name, tasks=[task_name], output=Path(out),
                          batch_size=batch_size, device="cpu", limit=limit,
                          task_options={"bootstrap": "0", "metrics": "recall"})
        t0 = time.perf_counter()
        (outcome,) = run(get_registries(), opts)
        seconds = time.perf_counter() - t0
        stored = ResultStore(outcome.folder).load()
        return seconds, {p.id: p.output for p in stored.values()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="knn-retrieval")
    ap.add_argument("--task", default="vqa/demo")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--limit", type=int, default=None, help="samples (default: all)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    args = ap.parse_args()
    if args.smoke:
        args.limit, args.repeat = 32, 1
    side = (args.model, args.task, args.batch_size, args.limit)
    plain_loop(*side)  # warm caches (demo images, imports)
    plain, plain_answers = min((plain_loop(*side) for _ in range(args.repeat)),
                               key=lambda timed: timed[0])
    ours, our_answers = min((harness_run(*side) for _ in range(args.repeat)),
                            key=lambda timed: timed[0])
    print(f"model={args.model} task={args.task} batch={args.batch_size} "
          f"samples={len(plain_answers)}")
    print(f"plain loop : {plain:.3f} s")
    print(f"harness run: {ours:.3f} s")
    print(f"ratio harness/plain: {ours / plain:.3f} (overhead {100 * (ours / plain - 1):+.1f}%)")
    differ = sorted(k for k in plain_answers.keys() | our_answers.keys()
                    if plain_answers.get(k) != our_answers.get(k))
    result(__file__, not differ and bool(plain_answers),
           f"{len(our_answers)} stored answers equal the plain loop's; harness/plain "
           f"x{ours / plain:.3f}" if not differ else
           f"{len(differ)} of {len(plain_answers)} answers differ from the plain loop's, "
           f"e.g. {differ[:3]}")


if __name__ == "__main__":
    main()

"""Generation throughput of the local model plugins: samples/s at batch 1 and batch 8.

Builds a tiny random-weight checkpoint (tests/tiny_models.py; nothing downloaded),
loads it as ``harness run`` does (``harness.runner.load_model``) and generates a fixed
number of new tokens (``min_new_tokens = max_new_tokens``, so every batch does the same
work) for 32 requests, batched 1 at a time and then 8 at a time. Greedy decoding: the
batched answers must equal the one-at-a-time answers (padding must not change them),
or the result line says FAIL.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/generate.py [--family llava-med] [--tokens 16]
        [--smoke]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from _result import SMOKE_HELP, result  # noqa: E402

# family -> (tests/tiny_models.py builder, the registered model it is loaded as)
FAMILIES = {
    "llava-med": ("build_original_llava", "llava-med-7b"),
    "llava-next": ("build_llava_next", "llava-v1.6-7b"),
    "qwen2.5-vl": ("build_qwen2_5_vl", "qwen2.5-vl-7b"),
    "internvl": ("build_internvl", "internvl2.5-8b"),
}


def main() -> None:
    import tiny_models
    import torch

    from harness.plugin_manager import get_registries
    from harness.runner import load_model
    from harness.types import Decoding, Request

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", choices=sorted(FAMILIES), default="llava-med")
    parser.add_argument("--tokens", type=int, default=16)
    parser.add_argument("--requests", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    args = parser.parse_args()
    if args.smoke:
        args.tokens, args.requests, args.repeat = 4, 8, 1
    torch.set_num_threads(1)
    builder, name = FAMILIES[args.family]
    with tempfile.TemporaryDirectory() as tmp:
        folder = getattr(tiny_models, builder)(Path(tmp) / "ckpt")
        images = tiny_models.write_images(Path(tmp) / "images", 4)
        model = load_model(get_registries(), name, {}, model_path=str(folder), device="cpu",
                           seed=0)
        decoding = Decoding(max_new_tokens=args.tokens, min_new_tokens=args.tokens)
        reqs = [Request(sample_id=str(i), prompt=f"What is the diagnosis of lesion {i}?",
                        images=(images[i % 4],), decoding=decoding)
                for i in range(args.requests)]
        model.generate(reqs[:8])  # warm-up
        rates, answers = {}, {}
        for batch in (1, 8):
            best = float("inf")
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                out = []
                for i in range(0, len(reqs), batch):
                    out += model.generate(reqs[i:i + batch])
                best = min(best, time.perf_counter() - t0)
            rates[batch], answers[batch] = len(reqs) / best, out
            print(f"{args.family} batch {batch}: {rates[batch]:.1f} samples/s "
                  f"({args.tokens} new tokens each, best of {args.repeat})")
        print(f"ratio batch 8 / batch 1: {rates[8] / rates[1]:.2f}x")
    failed = [r.sample_id for r, a in zip(reqs, answers[1], strict=True) if not isinstance(a, str)]
    differ = [r.sample_id for r, a, b in zip(reqs, answers[1], answers[8], strict=True) if a != b]
    result(__file__, not failed and not differ,
           f"{args.family}: {len(reqs)} answers at batch 8 equal batch 1's; batch 8 / 1 "
           f"x{rates[8] / rates[1]:.2f}" if not failed and not differ else
           f"{args.family}: {len(failed)} failed at batch 1 {failed[:3]}, {len(differ)} of "
           f"{len(reqs)} answers at batch 8 differ from batch 1's {differ[:5]}")


if __name__ == "__main__":
    main()

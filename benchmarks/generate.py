"""Generation throughput of the local model plugins: samples/s at batch 1 and batch 8.

Builds a tiny random-weight checkpoint (tests/tiny_models.py; nothing downloaded),
loads it through the plugin's ordinary path and generates a fixed number of new
tokens (``min_new_tokens = max_new_tokens``, so every batch does the same work)
for 32 requests, batched 1 at a time and then 8 at a time.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/generate.py [--family llava-med] [--tokens 16]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

FAMILIES = {
    "llava-med": ("build_original_llava", "harness.plugins.llava_med", "make_llava_med"),
    "llava-next": ("build_llava_next", "harness.plugins.llava", "make_llava_next"),
    "qwen2.5-vl": ("build_qwen2_5_vl", "harness.plugins.qwen_vl", "make_qwen_vl"),
    "internvl": ("build_internvl", "harness.plugins.internvl", "make_internvl"),
}


def main() -> None:
    import importlib

    import tiny_models
    import torch

    from harness.types import Decoding, Request

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", choices=sorted(FAMILIES), default="llava-med")
    parser.add_argument("--tokens", type=int, default=16)
    parser.add_argument("--requests", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    builder, module, factory = FAMILIES[args.family]
    with tempfile.TemporaryDirectory() as tmp:
        folder = getattr(tiny_models, builder)(Path(tmp) / "ckpt")
        images = tiny_models.write_images(Path(tmp) / "images", 4)
        model = getattr(importlib.import_module(module), factory)(
            model_path=str(folder), device="cpu", seed=0)
        decoding = Decoding(max_new_tokens=args.tokens, min_new_tokens=args.tokens)
        reqs = [Request(sample_id=str(i), prompt=f"What is the diagnosis of lesion {i}?",
                        images=(images[i % 4],), decoding=decoding)
                for i in range(args.requests)]
        model.generate(reqs[:8])  # warm-up
        rates = {}
        for batch in (1, 8):
            best = float("inf")
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                for i in range(0, len(reqs), batch):
                    model.generate(reqs[i:i + batch])
                best = min(best, time.perf_counter() - t0)
            rates[batch] = len(reqs) / best
            print(f"{args.family} batch {batch}: {rates[batch]:.1f} samples/s "
                  f"({args.tokens} new tokens each, best of {args.repeat})")
        print(f"ratio batch 8 / batch 1: {rates[8] / rates[1]:.2f}x")


if __name__ == "__main__":
    main()

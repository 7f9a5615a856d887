"""Dataset builder speed: pages/s and images/s per stage on a synthetic book (no LLM).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/builder.py [--pages 200] [--seed 0]

Builds the synthetic textbook of ``tests/synthetic_book.py``, then times each stage of the
pipeline in one process (template VQA backend) and prints a table, plus the extraction
accuracy against the generator's ground truth so a speed-up that breaks pairing shows.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from harness.dataset_builder.align import all_pairs, run_align  # noqa: E402
from harness.dataset_builder.demographics import run_demographics  # noqa: E402
from harness.dataset_builder.extract import run_extract  # noqa: E402
from harness.dataset_builder.filters import run_filter  # noqa: E402
from harness.dataset_builder.modality import Library, run_modality  # noqa: E402
from harness.dataset_builder.vqa_gen import TemplateBackend, run_vqa  # noqa: E402
from harness.dataset_builder.write import run_write  # noqa: E402
from synthetic_book import build_book, reference_folders, score_pairs  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        gt = build_book(root / "book.pdf", args.pages, args.seed)
        print(f"built {args.pages}-page book ({(root / 'book.pdf').stat().st_size / 1e6:.1f} MB)"
              f" in {time.perf_counter() - t:.1f} s")
        lib = Library.from_folders(reference_folders(root / "refs", 12))
        work = root / "work"
        stages = [
            ("extract", lambda: run_extract([root / "book.pdf"], work, quiet=True)),
            ("align", lambda: run_align(work, quiet=True)),
            ("modality", lambda: run_modality(work, lib, quiet=True)),
            ("demographics", lambda: run_demographics(work)),
            ("filter", lambda: run_filter(work, quiet=True)),
            ("vqa (template)", lambda: run_vqa(work, TemplateBackend(), quiet=True)),
            ("write", lambda: run_write(work, root / "out")),
        ]
        times = {}
        n_images = 0
        for name, fn in stages:
            t = time.perf_counter()
            fn()
            times[name] = time.perf_counter() - t
            if name == "align":
                n_images = len(all_pairs(work))
        print(f"\n{'stage':<16}{'seconds':>9}{'pages/s':>10}{'images/s':>10}")
        for name, sec in times.items():
            print(f"{name:<16}{sec:>9.2f}{args.pages / sec:>10.1f}{n_images / sec:>10.1f}")
        total = sum(times.values())
        print(f"{'end to end':<16}{total:>9.2f}{args.pages / total:>10.1f}"
              f"{n_images / total:>10.1f}")
        s = score_pairs(gt, all_pairs(work))
        print(f"\npanels {s['gt_panels']}: recall {s['recall']:.3f} precision {s['precision']:.3f}"
              f" caption pairing {s['caption_pairing']:.3f} sub-captions {s['subcaption']:.3f}")


if __name__ == "__main__":
    main()

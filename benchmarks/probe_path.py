"""The torch probe's 50 grid-search fits as one batch from zero, against warm starts along C.

"one batch": every fold and C value in one batch, all from zero. "path": the C values one
after another (ascending), the folds batched, each C's problems starting from the previous
C's solutions; "+ pairs" also carries their L-BFGS curvature pairs, corrected for the change
of penalty (what fit_probe does). Same features as benchmarks/probe.py --scale paper
(--dims to change the width), one thread; CPU time, so a shared machine disturbs it less.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/probe_path.py [--dims 4096]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from probe import SCALES, Scale, make_features  # noqa: E402
from sklearn.model_selection import StratifiedKFold  # noqa: E402

from harness.tasks.probe_fit import C_GRID, MAX_ITER, TOL  # noqa: E402
from harness.tasks.probe_torch import TorchProbe  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dims", type=int, default=SCALES["paper"].dims)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    base = SCALES["paper"]
    X, y = make_features(base.samples, Scale(base.samples, args.dims, base.counts,
                                             base.latent, base.sep))
    classes, codes = np.unique(y, return_inverse=True)
    splits = list(StratifiedKFold(5).split(X, y))
    probe = TorchProbe(X, codes, len(classes), [tr for tr, _ in splits], device="cpu")
    folds, n_c = np.arange(len(splits)), len(C_GRID)

    print(f"{base.samples} x {args.dims}, {len(classes)} classes, {len(folds)} folds x {n_c} C")
    t0 = time.process_time()
    batch = probe.solve(np.repeat(folds, n_c), np.tile(C_GRID, len(folds)), tol=TOL,
                        max_iter=MAX_ITER)
    t_batch = time.process_time() - t0
    print(f"one batch from zero      cpu {t_batch:6.1f}s  {sum(batch.n_iter)} problem-iterations")
    for name, carry in (("path, warm starts", False), ("path, warm starts + pairs", True)):
        t0, iters, last = time.process_time(), 0, None
        for C in C_GRID:
            last = probe.solve(folds, np.full(len(folds), C), tol=TOL, max_iter=MAX_ITER,
                               **({"start": last} if carry else
                                  {"init": None if last is None else last.theta}))
            iters += sum(last.n_iter)
        t = time.process_time() - t0
        print(f"{name:<24} cpu {t:6.1f}s  {iters} problem-iterations  "
              f"(cpu time x{t_batch / t:.2f} faster than one batch)", flush=True)

if __name__ == "__main__":
    main()

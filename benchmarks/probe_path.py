"""The torch probe's 50 grid-search fits as one batch from zero, against warm starts along C.

"one batch": every fold and C value in one batch, all from zero. "path": the C values one
after another (ascending), the folds batched, each C's problems starting from the previous
C's solutions; "+ pairs" also carries their L-BFGS curvature pairs, corrected for the change
of penalty (what fit_probe does). Same features as benchmarks/probe.py --scale paper
(--dims to change the width), one thread; CPU time, so a shared machine disturbs it less.
All three solve the same problems to the same stopping rule, so the grid search must come
out alike: every problem converged, the same C chosen by mean validation ROC-AUC, and the
fold scores at that C within FOLD_TOLERANCE of one batch's, or the result line says FAIL.
(Parameters are not compared: weakly regularised problems meet the stopping rule far from
their optimum at different points of different paths, see docs/probe.md.)

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/probe_path.py [--dims 4096] [--smoke]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from _result import SMOKE_HELP, result  # noqa: E402
from probe import SCALES, Scale, make_features  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.model_selection import StratifiedKFold  # noqa: E402

from harness.tasks.probe_fit import C_GRID, MAX_ITER, TOL  # noqa: E402
from harness.tasks.probe_torch import TorchProbe  # noqa: E402

# Largest |fold ROC-AUC difference| allowed at the chosen C (as benchmarks/probe.py's).
FOLD_TOLERANCE = 1e-3


def fold_scores(probe: TorchProbe, thetas: list, splits: list, codes: np.ndarray) -> np.ndarray:
    """[C][fold] one-vs-rest ROC-AUC on each fold's validation rows."""
    return np.array([[roc_auc_score(codes[val], probe.proba(theta[f], f, val),
                                    multi_class="ovr")
                      for f, (_, val) in enumerate(splits)] for theta in thetas])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dims", type=int, default=SCALES["paper"].dims)
    ap.add_argument("--samples", type=int, default=SCALES["paper"].samples)
    ap.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    args = ap.parse_args()
    if args.smoke:
        args.samples, args.dims = 1500, 64
    import torch

    torch.set_num_threads(1)
    base = SCALES["paper"]
    X, y = make_features(args.samples, Scale(args.samples, args.dims, base.counts,
                                             base.latent, base.sep))
    classes, codes = np.unique(y, return_inverse=True)
    splits = list(StratifiedKFold(5).split(X, y))
    probe = TorchProbe(X, codes, len(classes), [tr for tr, _ in splits], device="cpu")
    folds, n_c = np.arange(len(splits)), len(C_GRID)

    print(f"{args.samples} x {args.dims}, {len(classes)} classes, {len(folds)} folds x {n_c} C")
    t0 = time.process_time()
    batch = probe.solve(np.repeat(folds, n_c), np.tile(C_GRID, len(folds)), tol=TOL,
                        max_iter=MAX_ITER)
    t_batch = time.process_time() - t0
    # batch's problem p is fold p // n_c at C_GRID[p % n_c]: as (C, fold), the path's order
    by_c = batch.theta.view(len(folds), n_c, *batch.theta.shape[1:]).transpose(0, 1)
    reference = fold_scores(probe, list(by_c), splits, codes)
    best = int(np.argmax(reference.mean(axis=1)))
    unconverged = {"one batch": sum(s != "converged" for s in batch.status)}
    chosen, gaps = {}, {}
    print(f"one batch from zero      cpu {t_batch:6.1f}s  {sum(batch.n_iter)} problem-iterations")
    for name, carry in (("path, warm starts", False), ("path, warm starts + pairs", True)):
        t0, iters, last, thetas, bad = time.process_time(), 0, None, [], 0
        for C in C_GRID:
            last = probe.solve(folds, np.full(len(folds), C), tol=TOL, max_iter=MAX_ITER,
                               **({"start": last} if carry else
                                  {"init": None if last is None else last.theta}))
            iters += sum(last.n_iter)
            thetas.append(last.theta)
            bad += sum(s != "converged" for s in last.status)
        t = time.process_time() - t0
        scores = fold_scores(probe, thetas, splits, codes)
        unconverged[name] = bad
        chosen[name] = C_GRID[int(np.argmax(scores.mean(axis=1)))]
        gaps[name] = float(np.abs(scores - reference)[best].max())
        print(f"{name:<24} cpu {t:6.1f}s  {iters} problem-iterations  "
              f"(cpu time x{t_batch / t:.2f} faster than one batch)  chosen C "
              f"{chosen[name]:.3g}, |fold score diff| there {gaps[name]:.1e}", flush=True)
    ok = (not any(unconverged.values()) and set(chosen.values()) == {C_GRID[best]}
          and max(gaps.values()) <= FOLD_TOLERANCE)
    result(__file__, ok,
           f"{len(folds) * n_c} problems converged three ways; all choose C={C_GRID[best]:.3g}, "
           f"fold scores within {max(gaps.values()):.1e}" if ok else
           "; ".join(f"{name}: {unconverged[name]} not converged, chosen C {chosen[name]:.3g} "
                     f"(one batch: {C_GRID[best]:.3g}), |fold score diff| at one batch's C "
                     f"{gaps[name]:.1e} (allowed {FOLD_TOLERANCE:g})" for name in chosen)
           + f"; one batch: {unconverged['one batch']} not converged")


if __name__ == "__main__":
    main()

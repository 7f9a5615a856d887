"""The linear probe's full protocol against scikit-learn's GridSearchCV on the same features.

Features are a seeded Gaussian mixture shaped like projector features of a dermoscopy set:
7 classes with HAM10000's imbalance, class structure in a 48-dimensional subspace spread over
all dimensions, per-dimension scales and offsets (so standardisation matters), float32 as the
harness stores them. Both sides grid-search C over the same 10 values by 5-fold stratified
cross-validation with ROC-AUC, refit, and predict a held-out test split (a fifth of --samples).

Each line is timed in this process. "1 core" limits BLAS to one thread on both sides; "all
cores" lets the reference use every core through BLAS (its default) and runs fit_probe with
n_jobs=--jobs (folds in parallel). The machine may be shared: the ratio is what to read.

    .venv/bin/python benchmarks/probe.py [--samples 12000] [--dims 1024] [--cores 1|all|both]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from harness.tasks.probe_fit import C_GRID, evaluate_probe, fit_probe  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV, StratifiedKFold  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

# HAM10000's class shares (nv, mel, bkl, bcc, akiec, vasc, df).
HAM_SHARES = np.array([0.669, 0.111, 0.110, 0.051, 0.033, 0.014, 0.011])


def make_features(n: int, d: int, seed: int = 0, latent: int = 48, sep: float = 0.2):
    """(X, y): float32 features and string labels; ``sep`` sets accuracy near Table 4's ~75-80%."""
    rng = np.random.default_rng(seed)
    k = len(HAM_SHARES)
    y = rng.choice(k, size=n, p=HAM_SHARES / HAM_SHARES.sum())
    z = rng.normal(0, sep, size=(k, latent))[y] + rng.normal(size=(n, latent))
    mix = rng.normal(size=(latent, d)) / np.sqrt(latent)
    scale = np.exp(rng.normal(0, 0.7, size=d))
    X = (z @ mix + rng.normal(size=(n, d))) * scale + rng.normal(0, 3, size=d)
    return X.astype(np.float32), np.array([f"class{i}" for i in y])


def reference(X, y, Xt, yt) -> tuple[float, float, float, np.ndarray]:
    t0 = time.perf_counter()
    gs = GridSearchCV(
        Pipeline([("scaler", StandardScaler()), ("clf", LogisticRegression(max_iter=1000))]),
        {"clf__C": C_GRID}, cv=StratifiedKFold(5), scoring="roc_auc_ovr",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gs.fit(X, y)
    seconds = time.perf_counter() - t0
    folds = np.array([gs.cv_results_[f"split{i}_test_score"] for i in range(5)]).T
    acc = float((gs.predict(Xt) == yt).mean())
    return seconds, float(gs.best_params_["clf__C"]), acc, folds


def ours(X, y, Xt, yt, n_jobs: int) -> tuple[float, float, float, np.ndarray]:
    t0 = time.perf_counter()
    res = fit_probe(X, y, n_jobs=n_jobs)
    seconds = time.perf_counter() - t0
    ev = evaluate_probe(res, Xt, yt, sorted(set(y)))
    acc = float((np.asarray(ev["y_pred"]) == yt).mean())
    return seconds, res.best_C, acc, np.asarray(res.fold_scores)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=12000, help="training samples")
    ap.add_argument("--dims", type=int, default=1024)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cores", choices=("1", "all", "both"), default="both")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                    help="fit_probe's n_jobs on the all-cores line")
    args = ap.parse_args()
    n_test = args.samples // 5
    X, y = make_features(args.samples + n_test, args.dims, seed=args.seed)
    X, Xt, y, yt = X[:args.samples], X[args.samples:], y[:args.samples], y[args.samples:]
    print(f"{args.samples} train + {n_test} test samples x {args.dims} dims, "
          f"{len(set(y))} classes, {os.cpu_count()} cores")
    settings = {"1": [("1 core", 1, 1)], "all": [("all cores", None, args.jobs)]}
    settings["both"] = settings["1"] + settings["all"]
    for label, threads, jobs in settings[args.cores]:
        with threadpool_limits(threads):
            t_ref, c_ref, a_ref, f_ref = reference(X, y, Xt, yt)
            t_us, c_us, a_us, f_us = ours(X, y, Xt, yt, jobs)
        best = int(np.argmax(f_ref.mean(axis=1)))
        print(f"[{label}] GridSearchCV {t_ref:7.1f}s  C={c_ref:.3g}  test acc={a_ref:.4f}")
        print(f"[{label}] fit_probe    {t_us:7.1f}s  C={c_us:.3g}  test acc={a_us:.4f}"
              f"  (n_jobs={jobs})")
        print(f"[{label}] speed-up x{t_ref / t_us:.2f}  same C: {c_ref == c_us}  "
              f"|acc diff|={abs(a_ref - a_us):.4f}  max |fold score diff| at the chosen C "
              f"{np.abs(f_ref - f_us)[best].max():.1e}, over the grid "
              f"{np.abs(f_ref - f_us).max():.1e}")


if __name__ == "__main__":
    main()

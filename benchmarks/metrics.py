"""The five VQA metrics: harness vs the reference computations, timed in one process.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/metrics.py [--rows N] [--bootstrap B] [--smoke]

Predictions: for each of the 5,452 MM-Skin test rows, the answer of another row with
the same question (a shuffled answer where the question is unique); references: the
real answers. Both sides get one untimed warm-up pass (WordNet loaded, NLTK's synset
cache filled); BERTScore is timed cold on both sides (encoder load included). Ratio =
reference seconds / harness seconds (above 1: the harness is faster). Then the cost of
1000 stratified bootstrap resamples from the per-sample statistics. Each value must equal
the reference's within the tolerance docs/metrics.md states, or the result line says FAIL.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _result import SMOKE_HELP, result, skip  # noqa: E402

VQA_CSV = REPO.parent / "shared" / "data" / "mmskin-splits" / "vqa" / "MM-Skin_test.csv"
# |harness - reference| allowed per metric (docs/metrics.md's table; BERTScore: both sides
# are bert_score on the same encoder, so the same float32 computation).
TOLERANCE = {"bleu4": 1e-9, "meteor": 1e-6, "rougeL": 1e-6, "recall": 1e-9,
             "bertscore-minilm-l6": 1e-6}


def load(rows_limit: int | None) -> tuple[list[str], list[str], list[str]]:
    if not VQA_CSV.is_file():
        skip(__file__, f"reference data {VQA_CSV} is absent (expected ../shared/data beside "
             "the repository)")
    with VQA_CSV.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))[:rows_limit]
    refs = [r["answer"] for r in rows]
    perm = np.random.default_rng(0).permutation(len(refs))
    preds = [refs[i] for i in perm]
    by_question: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        by_question.setdefault(r["question"], []).append(i)
    for members in by_question.values():
        if len(members) > 1:
            for pos, i in enumerate(members):
                preds[i] = refs[members[(pos + 1) % len(members)]]
    book = [m.group(1) if (m := re.match(r"dataset/(bk\d+)", r["image"])) else "?"
            for r in rows]
    return preds, refs, book


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """Value, wall seconds, and CPU seconds of this process (robust to a busy machine)."""
    wall, cpu = time.perf_counter(), time.process_time()
    value = fn()
    return value, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=None)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    args = ap.parse_args()
    if args.smoke:
        args.rows, args.bootstrap = 60, 20

    import torch
    from bert_score import score as bert_score
    from nltk.translate.bleu_score import corpus_bleu
    from nltk.translate.meteor_score import meteor_score
    from rouge import Rouge

    from harness.metrics import bertscore as B
    from harness.metrics import bootstrap_weights
    from harness.metrics import text as T
    from harness.metrics.wordnet import ensure_wordnet

    torch.set_num_threads(1)
    preds, refs, book = load(args.rows)
    ensure_wordnet()
    minilm = str(B.minilm_path())

    references: dict[str, Callable[[], float]] = {
        "bleu4": lambda: corpus_bleu([[r.split()] for r in refs], [p.split() for p in preds],
                                     weights=(0.25,) * 4),
        "meteor": lambda: float(np.mean([meteor_score([r.split()], p.split())
                                         for p, r in zip(preds, refs, strict=True)])),
        "rougeL": lambda: Rouge().get_scores(preds, refs, avg=True)["rouge-l"]["f"],
        "recall": lambda: float(np.mean([len(set(p.split()) & set(r.split()))
                                         / len(set(r.split()))
                                         for p, r in zip(preds, refs, strict=True)])),
        "bertscore-minilm-l6": lambda: float(bert_score(
            preds, refs, model_type=minilm, num_layers=B.MINILM_LAYER, idf=False,
            device="cpu", batch_size=64)[2].mean()),
    }
    ours: dict[str, Callable[[], Any]] = {
        "bleu4": lambda: T.bleu4(preds, refs),
        "meteor": lambda: T.meteor(preds, refs),
        "rougeL": lambda: T.rouge_l(preds, refs),
        "recall": lambda: T.recall(preds, refs),
        "bertscore-minilm-l6": lambda: B.bertscore_minilm(preds, refs,
                                                          {"bertscore_device": "cpu"}),
    }
    for name in ("bleu4", "meteor", "rougeL", "recall"):  # warm-up, untimed
        references[name]()
        ours[name]()

    print(f"{len(refs)} pairs (same-question answers vs real answers); torch threads 1\n")
    print("seconds: wall (cpu of this process); ratio = reference / harness, on cpu seconds\n")
    print(f"{'metric':<21}{'harness':>10}{'reference':>10}{'|diff|':>9}"
          f"{'harness s':>16}{'reference s':>16}{'ratio':>7}")
    stats, off = {}, []
    for name in ours:
        B._scorers.clear()  # BERTScore: both sides load the encoder inside the timing
        ref_value, ref_wall, ref_cpu = timed(references[name])
        st, our_wall, our_cpu = timed(ours[name])
        stats[name] = st
        value = st.score()
        if not abs(value - ref_value) <= TOLERANCE[name]:
            off.append(f"{name} |diff| {abs(value - ref_value):.1e} > {TOLERANCE[name]:g}")
        print(f"{name:<21}{value:>10.6f}{ref_value:>10.6f}{abs(value - ref_value):>9.1e}"
              f"{f'{our_wall:.2f} ({our_cpu:.2f})':>16}{f'{ref_wall:.2f} ({ref_cpu:.2f})':>16}"
              f"{ref_cpu / max(our_cpu, 1e-9):>7.2f}", flush=True)

    n = len(refs)
    _, draw_wall, draw_cpu = timed(lambda: list(bootstrap_weights(n, args.bootstrap, 0, book)))
    weights = list(bootstrap_weights(n, args.bootstrap, 0, book))
    print(f"\n{args.bootstrap} resamples stratified by source book: drawing the counts "
          f"{draw_wall:.2f} s ({draw_cpu:.2f} cpu); scoring each metric from its statistics:")
    for name, st in stats.items():
        scores, wall, cpu = timed(
            lambda st=st: np.concatenate([st.resampled(w) for w in weights]))
        lo, hi = np.percentile(scores, [2.5, 97.5])
        print(f"  {name:<21} {wall:6.3f} s ({cpu:.3f} cpu)   95% CI [{lo:.4f}, {hi:.4f}]")
    result(__file__, not off,
           f"{len(ours)} metrics on {n} pairs equal the reference libraries within "
           "docs/metrics.md's tolerances" if not off else "; ".join(off))


if __name__ == "__main__":
    main()

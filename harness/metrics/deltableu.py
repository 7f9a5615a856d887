"""deltaBLEU as the MEDIQA-M3G 2024 organisers score it (wyim/MEDIQA-M3G-2024 @ 0a0aba8).

Their scorer (``evaluation/nlg/scoring_multilingresp.py`` with its modified sacreBLEU 1.4.1,
``sacrebleu_deltableu.py``) calls ``corpus_bleu_t(hyps, refs, ref_weights=..., lowercase=True,
use_effective_order=True)`` with exp smoothing and the ``13a`` tokenizer (``zh`` for Chinese).
What this module reproduces from reading it (the tests hold it to fixtures made by running it):

- each reference's weight from its author's profile (``get_weight_schemes``): 1.0 .. 0.6 by
  how many of (MD-validated, rank level >= 4, most frequent answer) hold, one step lower when
  the answer is not complete. Reddit's references all weigh 1 (the scorer gives weights only
  when a Chinese prediction is submitted, i.e. for iiyi);
- an n-gram of the hypothesis matched (clipped by the max count over references) adds
  ``match * w``, ``w`` the largest weight of a reference holding that n-gram; every
  hypothesis n-gram adds ``count * max weight of the encounter`` to the denominator;
- only the hypothesis is lower-cased: the scorer lower-cases the references into an unused
  variable, so references keep their case;
- the reference length is the one closest to the hypothesis (ties: the shorter).

The tokenizers are sacrebleu's own (a chosen dependency), not a copy of the 1.4.1 file.
Per-encounter sufficient statistics, so a group's or a bootstrap resample's score is the
corpus deltaBLEU of exactly those encounters. Scores are on the organisers' 0-100 scale.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import numpy as np

from harness.metrics.stats import SampleStats

ORDER = 4
MD_PREFIX = "md"  # validation levels md_validated, md1_validated, ...: a doctor's credentials
SENIOR_RANK = 4  # rank_level level_4 and above
LOG_ZERO = -9999999999.0  # the scorer's my_log(0)


def reference_weight(response: Mapping[str, Any]) -> float:
    """The organisers' weight of one reference (get_weight_schemes)."""
    rank = str(response.get("rank_level") or "unk")
    rank = "level_0" if rank == "unk" else rank
    profile = (str(response.get("validation_level"))[:2] == MD_PREFIX,
               int(rank.replace("level_", "")) >= SENIOR_RANK,
               response.get("contains_freq_ans") == 1.0)
    complete = response.get("completeness") == 1.0
    return round((0.7 if complete else 0.6) + 0.1 * sum(profile), 1)


@cache
def _tokenizer(lang: str) -> Any:
    from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a
    from sacrebleu.tokenizers.tokenizer_zh import TokenizerZh

    return TokenizerZh() if lang == "zh" else Tokenizer13a()


def tokenize(text: str, lang: str) -> list[str]:
    return _tokenizer(lang)(text.rstrip()).split()


def _ngrams(tokens: list[str]) -> Counter[tuple[str, ...]]:
    out: Counter[tuple[str, ...]] = Counter()
    for n in range(1, ORDER + 1):
        for i in range(len(tokens) - n + 1):
            out[tuple(tokens[i:i + n])] += 1
    return out


def encounter_stats(hypothesis: str, references: Sequence[str], weights: Sequence[float],
                    lang: str) -> list[float]:
    """[weighted matches x4, weighted totals x4, hypothesis length, reference length]."""
    if len(references) != len(weights) or not references:
        raise ValueError("one weight per reference, and at least one reference")
    if max(weights) <= 0:
        raise ValueError("no reference has a positive weight")
    hyp = tokenize(hypothesis.lower(), lang)
    ref_max: Counter[tuple[str, ...]] = Counter()
    ref_w: dict[tuple[str, ...], float] = {}
    closest: tuple[int, int] | None = None  # (|diff|, length)
    for ref, w in zip(references, weights, strict=True):
        tokens = tokenize(ref, lang)
        key = (abs(len(hyp) - len(tokens)), len(tokens))
        closest = key if closest is None or key < closest else closest
        for gram, count in _ngrams(tokens).items():
            ref_max[gram] = max(ref_max[gram], count)
            ref_w[gram] = max(ref_w.get(gram, w), w)
    top = max(weights)
    correct, total = [0.0] * ORDER, [0.0] * ORDER
    for gram, count in _ngrams(hyp).items():
        match = min(count, ref_max.get(gram, 0))
        if match > 0:
            correct[len(gram) - 1] += ref_w[gram] * match
        total[len(gram) - 1] += top * count
    assert closest is not None
    return [*correct, *total, float(len(hyp)), float(closest[1])]


def _aggregate(sums: np.ndarray) -> np.ndarray:
    """The scorer's compute_bleu (exp smoothing, effective order) over [..., 10] sums."""
    correct, total = sums[..., :ORDER], sums[..., ORDER:2 * ORDER]
    sys_len, ref_len = sums[..., 2 * ORDER], sums[..., 2 * ORDER + 1]
    flat_c = correct.reshape(-1, ORDER)
    flat_t = total.reshape(-1, ORDER)
    out = np.empty(len(flat_c))
    for i, (c, t) in enumerate(zip(flat_c, flat_t, strict=True)):
        out[i] = _bleu_one(c, t)
    bleu = out.reshape(sys_len.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        bp = np.where(sys_len < ref_len,
                      np.where(sys_len > 0, np.exp(1 - ref_len / np.where(sys_len > 0, sys_len, 1)),
                               0.0), 1.0)
    return bp * bleu


def _bleu_one(correct: np.ndarray, total: np.ndarray) -> float:
    precisions = [0.0] * ORDER
    smooth, effective = 1.0, ORDER
    for n in range(ORDER):
        if total[n] == 0:
            break
        effective = n + 1
        if correct[n] == 0:
            smooth *= 2
            precisions[n] = 100.0 / (smooth * total[n])
        else:
            precisions[n] = 100.0 * correct[n] / total[n]
    logs = [math.log(p) if p != 0.0 else LOG_ZERO for p in precisions[:effective]]
    return math.exp(sum(logs) / effective)


def deltableu(hypotheses: Sequence[str], references: Sequence[Sequence[str]],
              weights: Sequence[Sequence[float]], lang: str) -> SampleStats:
    """Per-encounter statistics of the organisers' corpus deltaBLEU (0-100)."""
    rows = [encounter_stats(h, r, w, lang)
            for h, r, w in zip(hypotheses, references, weights, strict=True)]
    values = np.asarray(rows, dtype=float).reshape(len(rows), 2 * ORDER + 2)
    stats = SampleStats(values, _aggregate)
    import sacrebleu

    stats.params = {"sacrebleu": sacrebleu.__version__,
                    "tokenize": "zh" if lang == "zh" else "13a"}
    return stats

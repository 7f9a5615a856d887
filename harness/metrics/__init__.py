"""Metrics: the MM-Skin VQA metrics reproduced exactly, classification metrics, bootstrap CIs.

Importing this package imports neither torch, transformers nor nltk: each metric
imports what it needs when it runs. See docs/metrics.md.
"""

from harness.metrics.bootstrap import bootstrap_weights
from harness.metrics.scoring import (
    default_vqa_metrics,
    paired_bootstrap,
    paired_bootstrap_classification,
    score_classification,
    score_text,
)
from harness.metrics.stats import SampleStats, mean_of

__all__ = [
    "SampleStats",
    "bootstrap_weights",
    "default_vqa_metrics",
    "mean_of",
    "paired_bootstrap",
    "paired_bootstrap_classification",
    "score_classification",
    "score_text",
]

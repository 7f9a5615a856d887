"""Contract checks for model plugins, for plugin authors' own test suites.

    from harness.testing import check_model, make_images

    def test_my_model_keeps_the_contract(tmp_path):
        model = my_plugin.make_model(...)
        check_model(model, make_images(tmp_path))

Each check runs the model for real and raises ``AssertionError`` with a sentence saying
which part of the contract (``harness/model.py``) was broken. They need no test framework;
pytest shows the sentence.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harness.specs import CAPABILITIES, ModelSpec
from harness.types import Decoding, Request

PROMPTS = (
    "What is the diagnosis?",
    "Describe the image.",
    "This is a skin lesion image. From the following categories: melanoma, nevus, "
    "which one is the diagnosis?",
    "What colour is the lesion on the arm?",
)
CHOICES = ("melanoma", "nevus", "basal cell carcinoma", "psoriasis")


def make_images(folder: Path, sizes: Sequence[tuple[int, int]] = ((64, 48), (48, 64), (56, 56)),
                seed: int = 0) -> list[Path]:
    """A few small RGB images of different shapes (wide, tall, square), written as PNG."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i, (w, h) in enumerate(sizes):
        pixels = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
        path = folder / f"contract-{i}.png"
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


def requests(images: Sequence[Path], max_new_tokens: int = 8) -> list[Request]:
    """Greedy requests with prompts of different lengths (batching must not change answers)."""
    return [Request(sample_id=str(i), prompt=PROMPTS[i % len(PROMPTS)],
                    images=(images[i % len(images)],),
                    decoding=Decoding(max_new_tokens=max_new_tokens))
            for i in range(len(PROMPTS))]


def check_spec(spec: ModelSpec) -> None:
    """A registration record the harness can use."""
    assert spec.name and spec.name == spec.name.strip(), "a model needs a non-blank name"
    assert callable(spec.factory), f"model '{spec.name}': factory is not callable"
    unknown = set(spec.capabilities) - set(CAPABILITIES)
    assert not unknown, f"model '{spec.name}': unknown capabilities {sorted(unknown)}"


def check_generate(model: Any, images: Sequence[Path]) -> list[str | Exception]:
    """One output per request, text or an Exception, and the same alone as in a batch."""
    reqs = requests(images)
    batched = list(model.generate(reqs))
    assert len(batched) == len(reqs), (
        f"generate returned {len(batched)} outputs for {len(reqs)} requests")
    for out in batched:
        assert isinstance(out, str | Exception), (
            f"generate returned a {type(out).__name__}; each output must be a str (or an "
            "Exception for a request that failed)")
    alone = [model.generate([r])[0] for r in reqs]
    assert [str(x) for x in batched] == [str(x) for x in alone], (
        "greedy answers differ between a batch and one request at a time "
        f"(batched {batched!r}, alone {alone!r}): check padding side and attention masks")
    return batched


def check_encode_images(model: Any, images: Sequence[Path]) -> np.ndarray:
    """A float32 [n, d] array of finite numbers, the same alone as in a batch."""
    feats = np.asarray(model.encode_images(list(images)))
    assert feats.ndim == 2 and feats.shape[0] == len(images), (
        f"encode_images returned shape {feats.shape} for {len(images)} images; expected [n, d]")
    assert np.isfinite(feats).all(), "encode_images returned NaN or infinite values"
    one = np.concatenate([np.asarray(model.encode_images([p])) for p in images])
    np.testing.assert_allclose(feats, one, rtol=1e-4, atol=1e-5,
                               err_msg="features differ between a batch and one image at a time")
    return feats


def check_score_choices(model: Any, images: Sequence[Path]) -> list[float]:
    """One finite log-likelihood (<= 0) per candidate."""
    request = requests(images)[2]
    scores = [float(s) for s in model.score_choices(request, list(CHOICES))]
    assert len(scores) == len(CHOICES), (
        f"score_choices returned {len(scores)} scores for {len(CHOICES)} choices")
    assert all(np.isfinite(s) and s <= 0 for s in scores), (
        f"score_choices must return log-likelihoods (finite, <= 0), got {scores}")
    return scores


def check_identity(model: Any) -> dict[str, Any]:
    """A JSON-serialisable, stable description of what makes the outputs what they are."""
    ident = model.identity()
    assert isinstance(ident, dict), "identity() must return a dict"
    json.dumps(ident)
    assert ident == model.identity(), "identity() must return the same thing twice"
    return ident


def check_model(model: Any, images: Sequence[Path]) -> dict[str, Any]:
    """Every check that the model's declared capabilities call for; returns what it saw."""
    caps = set(getattr(model, "capabilities", ()))
    assert caps, "the model declares no capabilities"
    assert caps <= set(CAPABILITIES), f"unknown capabilities {sorted(caps - set(CAPABILITIES))}"
    seen: dict[str, Any] = {"identity": check_identity(model)}
    if "generate" in caps:
        seen["generate"] = check_generate(model, images)
    if "encode_images" in caps:
        seen["encode_images"] = check_encode_images(model, images)
    if "score_choices" in caps:
        seen["score_choices"] = check_score_choices(model, images)
    return seen

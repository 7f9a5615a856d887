"""Checks of the model contract shared by the per-family tests (real tiny models, no mocks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from harness.types import Decoding, Request

CHOICES = ["melanoma", "nevus", "basal cell carcinoma", "psoriasis"]
QUESTIONS = [
    "What is the diagnosis?",
    "Describe the image.",
    "This is a skin lesion image. From the following categories, which one is the diagnosis?",
    "What colour is the lesion on the arm?",
]


def requests(images: list[Path], max_new_tokens: int = 6) -> list[Request]:
    """Four requests with prompts of different lengths (left padding matters)."""
    return [
        Request(sample_id=str(i), prompt=QUESTIONS[i % 4], images=(images[i % len(images)],),
                decoding=Decoding(max_new_tokens=max_new_tokens))
        for i in range(4)
    ]


def check_generate_batches(model: Any, images: list[Path]) -> list[str]:
    reqs = requests(images)
    batched = model.generate(reqs)
    alone = [model.generate([r])[0] for r in reqs]
    assert all(isinstance(a, str) for a in batched)
    assert batched == alone, (batched, alone)
    assert any(batched), "every answer is empty"
    return batched


def check_encode_images(model: Any, images: list[Path], width: int) -> np.ndarray:
    feats = model.encode_images(images)
    assert feats.shape == (len(images), width) and feats.dtype == np.float32
    assert np.isfinite(feats).all()
    one = np.concatenate([model.encode_images([p]) for p in images])
    np.testing.assert_allclose(feats, one, rtol=1e-4, atol=1e-5)
    assert not np.allclose(feats[0], feats[1]), "different images gave the same features"
    return feats


def one_choice_at_a_time(model: Any, request: Request, choice: str) -> float:
    """log p(choice | image, prompt) from one full forward pass of prompt + answer."""
    import torch

    text = model.prompt_text(request.prompt, len(request.images), request.system)
    images = model._images(request.images)
    prompt = model._encode([text], images)
    full = model._encode([text + model.family.answer_prefix + choice], images)
    start = prompt["input_ids"].shape[1]
    answer = full["input_ids"][0, start:]
    expected = model.answer_ids(text, choice)
    if full["input_ids"][0, :start].tolist() != prompt["input_ids"][0].tolist():
        # the answer merged with the prompt's last token: score the separately tokenized answer
        ids = torch.cat([prompt["input_ids"][0], torch.tensor(expected)])[None]
        full = dict(prompt)
        full["input_ids"] = ids
        full["attention_mask"] = torch.ones_like(ids)
        answer = ids[0, start:]
    assert answer.tolist() == expected
    with torch.inference_mode():
        logits = model.model(**full).logits[0, start - 1:-1].float()
        if model.blocked:
            logits[:, model.blocked] = float("-inf")
        logp = torch.log_softmax(logits, dim=-1).gather(-1, answer[:, None])
    total = float(logp.sum())
    return total / len(answer) if model.opts.score == "mean" else total


def check_score_choices(model: Any, images: list[Path]) -> list[float]:
    request = requests(images)[2]
    scores = model.score_choices(request, CHOICES)
    assert len(scores) == len(CHOICES) and all(s < 0 for s in scores)
    for choice, score in zip(CHOICES, scores, strict=True):
        assert abs(score - one_choice_at_a_time(model, request, choice)) < 1e-3, choice
    assert len(set(scores)) > 1
    return scores


def check_identity(model: Any, family: str) -> dict[str, Any]:
    import json

    ident = model.identity()
    json.dumps(ident)  # JSON-serialisable
    assert ident["family"] == family
    assert len(ident["chat_template_sha256"]) == 64 and len(ident["weights_sha256"]) == 64
    assert ident == model.identity(), "identity must be stable"
    return ident

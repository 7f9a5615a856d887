"""harness.testing, the contract checks plugin authors run: they pass a good model and catch
broken ones with a sentence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.model import Model
from harness.testing import check_model, make_images


class Echo(Model):
    """A correct model of every capability, small enough to read."""

    name = "echo"
    capabilities = frozenset({"generate", "encode_images", "score_choices"})

    def generate(self, requests):  # noqa: ANN001, ANN201
        return [f"{len(r.prompt)} characters about {Path(r.images[0]).name}" for r in requests]

    def encode_images(self, images):  # noqa: ANN001, ANN201
        from PIL import Image

        return np.stack([np.asarray(Image.open(p).convert("RGB"), dtype=np.float32)
                         .mean(axis=(0, 1)) for p in images])

    def score_choices(self, request, choices):  # noqa: ANN001, ANN201
        return [-float(len(c)) for c in choices]


class BatchSensitive(Echo):
    def generate(self, requests):  # noqa: ANN001, ANN201
        return [f"batch of {len(requests)}" for _ in requests]


class ShortBatch(Echo):
    def generate(self, requests):  # noqa: ANN001, ANN201
        return super().generate(requests)[:-1] if len(requests) > 1 else super().generate(requests)


class NotText(Echo):
    def generate(self, requests):  # noqa: ANN001, ANN201
        return [{"answer": "melanoma"} for _ in requests]


class Probabilities(Echo):
    def score_choices(self, request, choices):  # noqa: ANN001, ANN201
        return [1 / len(choices)] * len(choices)


def test_a_correct_model_passes(tmp_path: Path) -> None:
    seen = check_model(Echo(), make_images(tmp_path))
    assert seen["encode_images"].shape == (3, 3) and len(seen["generate"]) == 4


@pytest.mark.parametrize(("model", "needle"), [
    (BatchSensitive(), "differ between a batch and one request"),
    (ShortBatch(), "returned 3 outputs for 4 requests"),
    (NotText(), "returned a dict"),
    (Probabilities(), "log-likelihoods"),
])
def test_broken_models_fail_with_a_sentence(tmp_path: Path, model: Model, needle: str) -> None:
    with pytest.raises(AssertionError, match=needle):
        check_model(model, make_images(tmp_path))

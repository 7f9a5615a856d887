"""The model contract. A model plugin's factory returns an object shaped like ``Model``.

Every method takes a batch. A model declares what it can do in ``capabilities``;
a task asked of a model without the capability it needs fails before any work.

| capability     | method                                          | used by            |
|----------------|-------------------------------------------------|--------------------|
| generate       | generate(requests) -> list[str | Exception]     | vqa, caption, zeroshot |
| encode_images  | encode_images(images) -> np.ndarray [n, d]       | probe              |
| score_choices  | score_choices(request, choices) -> list[float]  | zeroshot (likelihood) |

``generate`` may return an Exception in place of one item's answer (an API call
that failed after its retries); the runner records it as that sample's failure.
Raising from ``generate`` fails the whole batch; the runner then retries the
batch's samples one at a time so one bad sample cannot sink the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.types import Request


class Model:
    """Base class for model plugins (subclassing is optional; the duck type is the contract)."""

    name: str = "model"
    capabilities: frozenset[str] = frozenset()
    # Samples per call when the user gives no --batch-size (None: one at a time). API models
    # set it above their concurrency so that requests overlap.
    batch_size_hint: int | None = None

    def identity(self) -> dict[str, Any]:
        """What makes this model's outputs what they are: checkpoint, revision, weight hashes.

        Recorded in run.json (a resumed run whose identity changed says so). The request
        fingerprint does not include it (the model is built only when something is
        still to ask); it includes ``ModelSpec.weights_key``, the weights' content key,
        so a different checkpoint never reuses another checkpoint's stored answers.
        """
        return {"name": self.name}

    def generate(self, requests: Sequence[Request]) -> list[str | Exception]:
        raise NotImplementedError

    def encode_images(self, images: Sequence[Path]) -> Any:
        raise NotImplementedError

    def score_choices(self, request: Request, choices: Sequence[str]) -> list[float]:
        raise NotImplementedError

    def close(self) -> None:
        """Release devices, sessions and worker threads."""

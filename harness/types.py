"""The records that flow through a run: Sample -> Request -> model -> Prediction."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.protocol.settings import PAPER_DECODING


@dataclass(frozen=True)
class Decoding:
    """Generation settings a task asks of a model. ``preset`` names where they came from."""

    max_new_tokens: int = 256
    min_new_tokens: int = 0
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    num_beams: int = 1
    seed: int | None = None
    preset: str = "greedy"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def generate_kwargs(self) -> dict[str, Any]:
        """What transformers' ``generate`` is passed for these settings, under its own names.

        Greedy decoding passes ``temperature``/``top_p``/``top_k`` as None, so that sampling
        defaults in a checkpoint's generation_config cannot turn it into sampling.
        """
        out: dict[str, Any] = {"do_sample": self.do_sample, "num_beams": self.num_beams,
                               "min_new_tokens": self.min_new_tokens,
                               "max_new_tokens": self.max_new_tokens}
        if self.do_sample:
            out.update(temperature=self.temperature, top_p=self.top_p)
        else:
            out.update(temperature=None, top_p=None, top_k=None)
        return out

    def with_seed(self, seed: int | None) -> Decoding:
        return replace(self, seed=seed)


# Named decoding presets. ``paper-vqa`` and ``paper-zeroshot`` are the authors' scripts'
# settings (VQA_test.py and ZS_classification.py, both sampling with 5 beams; values and
# sources in harness/protocol/settings.py); ``greedy`` is deterministic, so reruns agree.
DECODING_PRESETS: dict[str, Decoding] = {
    "greedy": Decoding(),
    **{f"paper-{kind}": Decoding(**kwargs, preset=f"paper-{kind}")
       for kind, kwargs in PAPER_DECODING.items()},
}


@dataclass
class Sample:
    """One item of a dataset. Fields a dataset lacks stay None/empty.

    ``meta`` holds what a dataset records beyond the label: age, sex,
    fitzpatrick, lesion_id, patient_id, source file and row, captions.
    """

    id: str
    image: Path | None
    dataset: str = ""
    split: str | None = None
    modality: str | None = None
    label: str | None = None
    question: str | None = None
    answer: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Request:
    """What a task sends to a model for one sample (batched by the runner)."""

    sample_id: str
    prompt: str
    images: tuple[Path, ...] = ()
    decoding: Decoding = Decoding()
    system: str | None = None
    choices: tuple[str, ...] = ()
    # A bring-your-own-data task's file, for models that answer from its training rows (the
    # CPU baselines). Not part of the request's identity: the task's fingerprint already
    # holds the file's content.
    train_data: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "sample_id": self.sample_id,
            "prompt": self.prompt,
            "images": [str(p) for p in self.images],
            "decoding": self.decoding.to_dict(),
            "system": self.system,
            "choices": list(self.choices),
        }


@dataclass
class Prediction:
    """One line of predictions.jsonl. ``error`` set means the sample failed: it is never scored."""

    id: str
    fingerprint: str
    output: Any = None
    error: str | None = None
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    # Why it failed, classified once when the failure was captured (harness/failures.py).
    reason: str | None = None

    def fail(self, error: str, reason: str) -> None:
        self.error, self.reason = error, reason

    @property
    def ok(self) -> bool:
        return self.error is None

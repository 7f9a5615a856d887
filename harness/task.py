"""The task contract. A task plugin's factory returns an object shaped like ``Task``.

A task turns a dataset's Samples into Requests, says which model method answers
them, and scores the stored Predictions. It knows nothing about model families.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.types import Prediction, Request, Sample


class Task:
    """Behaviour shared by the tasks of one kind, over a task's declaration (``spec``), the
    harness's ``context`` (registries, protocol, seed) and its parsed ``-T`` options.

    A kind's class resolves its settings once, in ``__init__``, from those three; the
    harness then records them in the run's plan (``harness.plan``) through ``config``,
    ``scoring_config``, ``variant`` and ``decoding_settings``.
    """

    name: str = "task"
    kind: str = ""
    dataset: str = ""
    capability: str = "generate"  # the model capability this task needs
    data_report: Any = None  # set by load_samples: rows skipped, notes, split manifest

    def __init__(self, spec: Any, context: Any, options: Any) -> None:
        self.task_spec, self.context, self.options = spec, context, options
        self.name, self.kind, self.dataset = spec.name, spec.kind, spec.dataset
        self.capability = spec.capability or type(self).capability

    @property
    def protocol(self) -> str:
        return str(getattr(self.context, "protocol", "paper"))

    @property
    def seed(self) -> int:
        """The run's ``--seed``: every seeded step of a task draws from it unless the task's
        own ``-T seed=`` says otherwise."""
        own = getattr(self.options, "seed", None)
        return int(own) if own is not None else int(getattr(self.context, "seed", 0))

    @property
    def data_file(self) -> Path | None:
        """``-T data=FILE`` of a bring-your-own-data task (``*/custom``), else None."""
        value = getattr(self.options, "data", None)
        return None if value is None else Path(value)

    def dataset_spec(self) -> Any:
        """The task's dataset adapter: from the registry the harness handed it, or the file
        a ``*/custom`` task was given."""
        if self.data_file is not None:
            cached = self.__dict__.get("_custom_dataset")
            if cached is None:
                from harness.datasets import custom

                cached = self.__dict__["_custom_dataset"] = custom.dataset(self.data_file,
                                                                           self.kind)
            return cached
        if self.context is None:
            raise HarnessError(f"task '{self.name}' was built without a TaskContext: build it "
                               "through its TaskSpec's factory (harness.runner.build_task)")
        return self.context.datasets.get(self.dataset)

    def metric_registry(self) -> Any:
        """The metrics registry handed to the task (None: the harness's own metrics)."""
        return self.context.metrics if self.context is not None else None

    def data_variant(self) -> str:
        """The results-folder part that tells bring-your-own data files apart."""
        if self.data_file is None:
            return ""
        from harness.datasets import custom

        return f"data={custom.content_key(self.data_file)}"

    def decoding_settings(self) -> dict[str, Any] | None:
        """The decoding the task's requests carry (None: the task does not generate)."""
        decoding = self.config().get("decoding")
        return dict(decoding) if isinstance(decoding, dict) else None

    def config(self) -> dict[str, Any]:
        """Everything that shapes requests and scores. Its hash is the task fingerprint."""
        return {"name": self.name}

    def variant(self) -> str:
        """Request-shaping options that differ from the defaults, e.g. ``decoding=paper``.

        Non-empty, it names the results folder (``results/<task>+<variant>/<model>``), so
        runs under different settings never share stored answers or metrics.
        """
        return ""

    def load_samples(self, data_root: Path | None) -> list[Sample]:
        raise NotImplementedError

    def select(self, samples: list[Sample], limit: int) -> list[Sample]:
        """The samples kept by ``--limit N`` (default: the first N)."""
        return samples[:limit]

    def build_request(self, sample: Sample) -> Request:
        raise NotImplementedError

    def call(self, model: Any, requests: Sequence[Request]) -> list[Any]:
        """Run one batch through the model; one output (or Exception) per request."""
        return list(model.generate(list(requests)))

    def scoring_config(self) -> dict[str, Any]:
        """Settings that change only the scores, never the requests (metrics, matcher, ...):
        recorded in run.json, left out of the fingerprint so re-scoring never re-asks."""
        return {}

    def metric_subset(self) -> list[str] | None:
        """The metrics scored, when the user asked for fewer than the task's default set.

        A result scored on a subset is partial: it never replaces a complete metrics.json.
        """
        return None

    def postprocess(self, sample: Sample, output: Any) -> dict[str, Any]:
        """Per-sample fields stored beside the raw output (e.g. the matched class)."""
        return {}

    def score(
        self, samples: Sequence[Sample], predictions: dict[str, Prediction]
    ) -> dict[str, Any]:
        """Scores from stored predictions; failed samples are excluded and counted."""
        raise NotImplementedError

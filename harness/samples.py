"""``samples.jsonl``: what a reader needs to look at each scored sample, written when scoring.

predictions.jsonl holds what the model said (the resume cache); metrics.json the aggregate
scores. Neither holds the question, the reference, the image's path or a sample's own
scores, which a person reading samples (``harness report``) needs. This sidecar does: one
line per sample of the task, written atomically beside metrics.json each time the scores
are computed (``samples.partial.jsonl`` beside ``metrics.partial.json``).

A task's ``score`` may return ``per_sample``: ``{"ids": [...], "scores": {metric: [...]},
"fields": {name: [...]}}`` (aligned with ``ids``); ``scores`` are numbers (a text metric's
value on that one pair, 1/0 for a correct class), ``fields`` strings such as the matched
class, the match type, a judge's verdict and reason.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from harness.errors import HarnessError

SAMPLES = "samples.jsonl"
GROUP_META = ("sex", "age", "fitzpatrick")  # meta fields a reader filters by


class SamplesError(HarnessError):
    """A samples.jsonl this harness cannot read."""


class SampleRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    fingerprint: str  # of the request: selects the stored prediction it was scored from
    image: str | None = None  # absolute path of the image the model was shown
    prompt: str = ""
    question: str | None = None
    references: list[str] = Field(default_factory=list)
    split: str | None = None
    label: str | None = None
    modality: str | None = None
    meta: dict[str, str] = Field(default_factory=dict)  # sex, age, fitzpatrick where recorded
    scores: dict[str, float | None] = Field(default_factory=dict)
    fields: dict[str, str | None] = Field(default_factory=dict)


def path_for(metrics_path: Path) -> Path:
    """The sidecar of a metrics file (``metrics.partial.json`` -> ``samples.partial.jsonl``)."""
    return metrics_path.with_name(metrics_path.name.replace("metrics", "samples", 1)
                                  .replace(".json", ".jsonl"))


def records(samples: Sequence[Any], requests: Sequence[Any], fingerprints: Sequence[str],
            per_sample: dict[str, Any] | None) -> list[SampleRecord]:
    """One record per sample; scores and fields where the task returned them."""
    per_sample = per_sample or {}
    index = {sid: i for i, sid in enumerate(per_sample.get("ids") or [])}
    scores = per_sample.get("scores") or {}
    fields = per_sample.get("fields") or {}
    out = []
    for sample, request, fp in zip(samples, requests, fingerprints, strict=True):
        i = index.get(sample.id)
        refs = sample.meta.get("references")
        out.append(SampleRecord(
            id=sample.id, fingerprint=fp,
            # absolute, not resolved: a dangling or looping link must still be recorded, not raise
            image=os.path.abspath(sample.image) if sample.image is not None else None,
            prompt=str(getattr(request, "prompt", "") or ""), question=sample.question,
            references=[str(r) for r in refs] if isinstance(refs, list) else
            ([sample.answer] if sample.answer is not None else []),
            split=sample.split, label=sample.label, modality=sample.modality,
            meta={k: str(sample.meta[k]) for k in GROUP_META if sample.meta.get(k) is not None},
            scores={} if i is None else {k: _number(v[i]) for k, v in scores.items()},
            fields={} if i is None else {k: None if v[i] is None else str(v[i])
                                         for k, v in fields.items()},
        ))
    return out


def merge(per_sample: dict[str, Any] | None,
          extra: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any] | None:
    """``per_sample`` with more values per sample (``{id: {"scores": {...}, "fields":
    {...}}}``, e.g. a judge's verdicts) laid out as ``per_sample`` is: aligned with ``ids``."""
    if not extra:
        return per_sample
    base = per_sample or {}
    ids = list(base.get("ids") or [])
    known = set(ids)
    ids += [i for i in extra if i not in known]
    index = {sid: n for n, sid in enumerate(ids)}
    out: dict[str, Any] = {"ids": ids}
    for part in ("scores", "fields"):
        columns = {k: list(v) + [None] * (len(ids) - len(v))
                   for k, v in (base.get(part) or {}).items()}
        for sid, values in extra.items():
            for name, value in (values.get(part) or {}).items():
                columns.setdefault(name, [None] * len(ids))[index[sid]] = value
        out[part] = columns
    return out


def _number(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if f == f and abs(f) != float("inf") else None


def write(path: Path, recs: Iterable[SampleRecord]) -> None:
    from harness.store import atomic_write_text

    atomic_write_text(path, "".join(json.dumps(r.model_dump(mode="json"), ensure_ascii=False)
                                    + "\n" for r in recs))


def read(path: Path) -> list[SampleRecord]:
    """Every record; a line that is not one names the file and line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise SamplesError(f"{path} could not be read ({exc.strerror or exc})") from None
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            out.append(SampleRecord.model_validate_json(line))
        except ValueError:
            raise SamplesError(f"{path} line {n} is not a sample record") from None
    return out

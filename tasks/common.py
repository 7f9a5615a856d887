"""Helpers shared by the task plugins: dataset loading, option parsing, protocol defaults."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from harness.errors import UsageError
from harness.options import Options
from harness.protocol import default_decoding
from harness.protocol.settings import SOUND_DECODING
from harness.specs import DatasetSpec
from harness.types import DECODING_PRESETS, Decoding, Sample


class DataReport:
    """What loading a task's data left out or remarked on; recorded in run.json and metrics.json.

    Nothing is dropped silently: every skipped row is one sentence naming file and row.
    """

    def __init__(self) -> None:
        self.skipped: list[str] = []
        self.notes: list[str] = []
        self.manifest: dict[str, Any] = {}

    def to_dict(self) -> dict[str, Any]:
        return {"skipped": len(self.skipped), "skipped_rows": self.skipped[:200],
                "notes": self.notes, "manifest": self.manifest}


def load_split(
    spec: DatasetSpec, data_root: Path | None, split: str, report: DataReport | None = None
) -> list[Sample]:
    if spec.needs_data_root:
        if data_root is None:
            raise UsageError(
                f"dataset '{spec.name}' is read from disk: pass --data-root DIR "
                f"(see `harness data check --data-root DIR {spec.name}`)"
            )
        if not data_root.is_dir():
            raise UsageError(f"--data-root {data_root} is not a folder")
    if split not in spec.splits:
        raise UsageError(
            f"dataset '{spec.name}' has no '{split}' split (it has {', '.join(spec.splits)})"
        )
    loaded = spec.load(data_root, split)
    samples = list(loaded)
    if report is not None:
        report.skipped += [f"{split}: {m}" for m in getattr(loaded, "skipped", [])]
        report.notes += [f"{split}: {m}" for m in getattr(loaded, "notes", [])]
        manifest = spec.extra.get("manifest")
        if callable(manifest) and not report.manifest:
            try:
                report.manifest = manifest(data_root)
            except Exception as exc:  # provenance only: never lose a run over it
                report.notes.append(f"split manifest unavailable: {exc}")
    return samples


def with_data(options: type[Options]) -> type[Options]:
    """A kind's options plus the required ``-T data=FILE`` of its ``*/custom`` task."""
    from pydantic import Field, create_model

    return create_model(  # type: ignore[call-overload, no-any-return]
        f"Custom{options.__name__}", __base__=options,
        data=(Path, Field(description="a CSV or JSONL file of samples, image paths relative "
                          "to it (columns: docs/tasks.md)")))


# -T decoding=: the protocol's own preset for the task kind (``paper``) or any preset by name.
DecodingName = Literal["paper", *DECODING_PRESETS]  # type: ignore[valid-type]


def decoding_for(kind: str, protocol: str, name: str | None = None,
                 max_new_tokens: int | None = None) -> Decoding:
    """The decoding a generation task sends under ``protocol``, or the preset ``-T decoding=``
    names: ``paper`` (the authors' script for this task kind), ``greedy`` or a full preset
    name. Greedy answers are as long as the sound protocol allows, unless
    ``-T max_new_tokens=`` says otherwise. The options were checked when parsed."""
    if name is None:
        name = default_decoding(kind, protocol)
    preset = DECODING_PRESETS[f"paper-{kind}" if name == "paper" else name]
    if max_new_tokens is None and not preset.do_sample:
        max_new_tokens = SOUND_DECODING[kind]["max_new_tokens"]
    if max_new_tokens is not None:
        preset = replace(preset, max_new_tokens=int(max_new_tokens))
    return preset


def decoding_variant(kind: str, protocol: str, decoding: Decoding) -> list[str]:
    """Folder-name parts for a decoding that differs from the protocol's own."""
    default = decoding_for(kind, protocol)
    if decoding == default:
        return []
    parts = [] if decoding.preset == default.preset else [f"decoding={decoding.preset}"]
    natural = decoding_for(kind, protocol, decoding.preset)
    if decoding.max_new_tokens != natural.max_new_tokens:
        parts.append(f"max_new_tokens={decoding.max_new_tokens}")
    return parts


def group_values(samples: list[Sample], field: str) -> list[str | None]:
    out: list[str | None] = []
    for s in samples:
        value = getattr(s, field, None) if field in ("modality", "split", "dataset") else None
        if value is None:
            value = s.meta.get(field)
        out.append(None if value is None else str(value))
    return out


def group_fields(samples: list[Sample], candidates: tuple[str, ...],
                 always: tuple[str, ...] = ()) -> dict[str, list[str | None]]:
    """Grouping fields (modality, sex, age band, Fitzpatrick type...) that the samples record.

    A field in ``always`` is kept even when no sample records it: every sample is then in
    its ``unknown`` group, as the paper's per-modality tables need a row to say so.
    """
    groups = {}
    for name in candidates:
        values = group_values(samples, name) if name != "age_band" else age_bands(samples)
        if name in always or any(v is not None for v in values):
            groups[name] = values
    return groups


def age_bands(samples: list[Sample]) -> list[str | None]:
    out: list[str | None] = []
    for s in samples:
        age = s.meta.get("age")
        try:
            a = float(age)
        except (TypeError, ValueError):
            out.append(None)
            continue
        lo = int(a // 20 * 20)
        out.append(f"{lo}-{lo + 19}")
    return out


GROUP_FIELDS = ("modality", "sex", "age_band", "fitzpatrick")

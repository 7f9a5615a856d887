"""The sample browser's data: one script per task (what the samples are) and one per
(task, model) (what the model answered and how it scored), loaded only when a page asks.

Scripts rather than JSON: a page opened from disk (file://) may not fetch files, but it may
load scripts. Each assigns into ``window.REPORT``; rows are arrays under named columns so
5,452 samples x 9 models stay small.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import samples as sample_records
from harness.leaderboards.collect import Run
from harness.report import paired, thumbs
from harness.store import ResultStore, atomic_write_text

SAMPLE_COLUMNS = ("id", "thumb", "question", "references", "label", "modality", "meta", "split")
ANSWER_COLUMNS = ("output", "error", "scores", "fields")


@dataclass
class ModelData:
    name: str
    slug: str
    rel: str  # results folder, relative to the results root
    metrics: list[str]  # per-sample score names
    fields: list[str]  # per-sample field names (matched class, match type, verdict...)
    answered: int = 0
    failed: int = 0
    complete: bool = True
    coverage: float | None = None


@dataclass
class TaskData:
    task: str  # task folder, e.g. vqa/mm-skin+decoding=paper
    slug: str
    kind: str
    n: int = 0
    models: list[ModelData] = field(default_factory=list)
    modalities: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    splits: list[str] = field(default_factory=list)
    missing_images: int = 0
    notes: list[str] = field(default_factory=list)
    paired: dict[str, Any] = field(default_factory=dict)  # report/paired.py


def script(name: str, key: str, payload: Any) -> str:
    """A script that files ``payload`` under ``window.REPORT[name][key]``."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    # "</" would end the script element were it inlined; escaped it is the same JSON.
    body = body.replace("</", "<\\/")
    return (f"(window.REPORT=window.REPORT||{{}}).{name}=window.REPORT.{name}||{{}};"
            f"window.REPORT.{name}[{json.dumps(key)}]={body};\n")


def write_task(task: str, slug: str, runs: Sequence[Run], out: Path,
               model_slug: Any) -> TaskData:
    """Write data/<slug>/samples.js and data/<slug>/<model>.js for every run of one task."""
    data = TaskData(task=task, slug=slug, kind=runs[0].kind)
    shared: dict[str, list[Any]] = {}
    folder = out / "data" / slug
    folder.mkdir(parents=True, exist_ok=True)
    thumb_of: dict[str, str | None] = {}
    records: dict[str, list[Any]] = {}
    for run in runs:
        path = sample_records.path_for(run.folder / "metrics.json")
        mslug = model_slug(run.model)
        model = ModelData(name=run.model, slug=mslug, rel=run.rel, metrics=[], fields=[],
                          answered=run.metrics.answered, failed=run.metrics.failed,
                          complete=run.metrics.complete, coverage=run.coverage)
        data.models.append(model)
        if not path.exists():
            data.notes.append(f"{run.rel}: no {path.name} (scored before the harness wrote "
                              "one): run `harness score` on it to browse its samples")
            atomic_write_text(folder / f"{mslug}.js", script("answers", f"{slug}/{mslug}",
                                                             {"rows": []}), fsync=False)
            continue
        recs = sample_records.read(path)
        records[run.model] = recs
        store = ResultStore(run.folder)
        stored = store.load()
        model.metrics = list(dict.fromkeys(k for r in recs for k in r.scores))
        model.fields = list(dict.fromkeys(k for r in recs for k in r.fields))
        rows = []
        for r in recs:
            if r.id not in shared:
                if r.image is not None and r.image not in thumb_of:
                    thumb_of[r.image] = thumbs.make(Path(r.image), out)
                thumb = thumb_of.get(r.image) if r.image is not None else None
                if r.image is not None and thumb is None:
                    data.missing_images += 1
                shared[r.id] = [r.id, thumb, r.question if r.question is not None else r.prompt,
                                r.references, r.label, r.modality, r.meta, r.split]
            pred = stored.get(r.fingerprint)
            output = None if pred is None else pred.output
            error = "not asked (the run stopped before this sample)" if pred is None else \
                pred.error
            if isinstance(output, dict) and "array_file" in output:
                output = "(image features)"  # a probe's answer is a feature vector on disk
            rows.append([r.id, output if isinstance(output, str | None) else
                         json.dumps(output)[:500], error,
                         [r.scores.get(m) for m in model.metrics],
                         [r.fields.get(f) for f in model.fields]])
        atomic_write_text(folder / f"{mslug}.js", script("answers", f"{slug}/{mslug}", {
            "columns": list(ANSWER_COLUMNS), "metrics": model.metrics, "fields": model.fields,
            "rows": rows}), fsync=False)
    data.n = len(shared)
    data.paired = paired.compare([r for r in runs if r.model in records], records)
    data.modalities = sorted({row[5] or "unknown" for row in shared.values()})
    data.labels = sorted({row[4] for row in shared.values() if row[4]})
    data.splits = sorted({row[7] for row in shared.values() if row[7]})
    atomic_write_text(folder / "samples.js", script("samples", slug, {
        "columns": list(SAMPLE_COLUMNS), "rows": list(shared.values())}), fsync=False)
    if data.missing_images:
        data.notes.append(f"{data.missing_images} image(s) could not be read when the report "
                          "was written: their samples show no thumbnail")
    return data

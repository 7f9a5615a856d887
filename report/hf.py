"""The Hugging Face Hub's decentralised evaluation results: ``.eval_results/*.yaml`` per model
and a model-card snippet. Nothing is uploaded; the user pushes (or opens a PR on the Hub).

Format: huggingface/hub-docs, docs/hub/eval-results.md ("Model Evaluation Results", at commit
064c754): each file is a YAML list of entries ``{dataset: {id, task_id[, revision]}, value[,
date][, source: {url, name, user}][, notes]}``, one value per entry; ``dataset.id`` must be a
Hub dataset registered as a Benchmark, ``task_id`` a task of that benchmark's ``eval.yaml``.
The harness's tasks have no Hub benchmark of their own, so the ids come from ``--hf-dataset
TASK=OWNER/NAME[:TASK_ID]``; a task without one is written under its own name and named in
the command's output as needing an id before it is pushed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from harness.leaderboards.collect import Run
from harness.store import atomic_write_text


@dataclass
class HubOutcome:
    written: list[Path] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)  # tasks written without a Hub dataset id


def headline(run: Run) -> str | None:
    """The metric a task's leaderboard leads with: the headline its stored plan declares."""
    metric = run.headline
    if metric is not None and run.overall.get(metric) is not None:
        return metric
    return next((k for k, v in run.overall.items() if isinstance(v, int | float)), None)


def parse_datasets(pairs: Sequence[str]) -> dict[str, tuple[str, str]]:
    """``TASK=OWNER/NAME[:TASK_ID]`` -> {task: (dataset id, task id)}; a ValueError names a
    malformed one."""
    out = {}
    for pair in pairs:
        task, sep, target = pair.rpartition("=")  # a task folder may hold "=" itself
        if not sep or not task or "/" not in target:
            raise ValueError(f"--hf-dataset {pair!r} is not TASK=OWNER/NAME[:TASK_ID]")
        dataset, _, task_id = target.partition(":")
        out[task] = (dataset, task_id or "default")
    return out


def entry(run: Run, metric: str, datasets: Mapping[str, tuple[str, str]]) -> dict[str, object]:
    dataset, task_id = datasets.get(run.task_folder) or datasets.get(run.task) or (
        run.task_folder, "default")
    value = run.overall[metric]
    ci = run.scores.ci.get(metric)
    notes = [f"{metric} x100", f"protocol {run.protocol or 'unrecorded'}",
             f"n={run.n}", f"coverage {100 * (run.coverage or 0):.1f}%"]
    if ci and ci[0] is not None and ci[1] is not None:
        notes.append(f"95% bootstrap CI {100 * ci[0]:.2f}-{100 * ci[1]:.2f}")
    notes.append(f"derm-harness {run.harness_version}, commit {run.commit}")
    out: dict[str, object] = {"dataset": {"id": dataset, "task_id": task_id},
                              "value": round(100 * float(value), 2) if value is not None else None,
                              "notes": "; ".join(notes)}
    if run.run is not None and run.run.ended:
        out["date"] = run.run.ended[:10]
    return out


def card_snippet(model: str, runs: Sequence[Run]) -> str:
    lines = [f"## Evaluation results ({model})", "",
             "Scored with derm-harness (MM-Skin protocols); values x100, 95% paired bootstrap "
             "intervals in parentheses.", "",
             "| task | metric | value | n | coverage | protocol |", "|---|---|---:|---:|---:|---|"]
    for run in runs:
        for metric, value in run.overall.items():
            if not isinstance(value, int | float) or isinstance(value, bool):
                continue
            ci = run.scores.ci.get(metric)
            interval = (f" ({100 * ci[0]:.2f}–{100 * ci[1]:.2f})"
                        if ci and ci[0] is not None and ci[1] is not None else "")
            lines.append(f"| `{run.task_folder}` | {metric} | {100 * value:.2f}{interval} | "
                         f"{run.n} | {100 * (run.coverage or 0):.1f}% | {run.protocol or '-'} |")
    return "\n".join(lines) + "\n"


def write(runs: Sequence[Run], out: Path, datasets: Mapping[str, tuple[str, str]]) -> HubOutcome:
    """``out/<model>/.eval_results/<task>.yaml`` (the headline metric) and
    ``out/<model>/model-card.md`` (every metric) for each model."""
    from harness.report.site import slugify

    outcome = HubOutcome()
    for model in sorted({r.model for r in runs}):
        mine = [r for r in runs if r.model == model and r.metrics.complete]
        folder = out / slugify(model)
        for run in mine:
            metric = headline(run)
            if metric is None:
                continue
            if run.task_folder not in datasets and run.task not in datasets:
                if run.task_folder not in outcome.unmapped:
                    outcome.unmapped.append(run.task_folder)
            path = folder / ".eval_results" / f"{slugify(run.task_folder)}.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, yaml.safe_dump([entry(run, metric, datasets)],
                                                   sort_keys=False, allow_unicode=True))
            outcome.written.append(path)
        card = folder / "model-card.md"
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(card, card_snippet(model, mine))
        outcome.written.append(card)
    return outcome

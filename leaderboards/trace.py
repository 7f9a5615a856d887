"""Tracing numbers to runs: links to results folders, the runs index, mixed-provenance warnings,
and footnotes for non-default settings."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from harness.leaderboards.collect import Run
from harness.leaderboards.markdown import Footnotes


def link(run: Run, out: Path, name: str = "metrics.json") -> str:
    """The path from the Markdown file's folder to a file of the run (POSIX separators)."""
    return Path(os.path.relpath(run.folder.resolve() / name, out.resolve())).as_posix()


def run_notes(run: Run, notes: Footnotes, skip_decoding: bool = False) -> str:
    """Footnote references for what is not default about a run (decoding, limit, warnings)."""
    refs = []
    preset = run.decoding_preset
    if preset is not None and preset != run.default_preset and not skip_decoding:
        refs.append(notes.ref(
            f"decoding preset `{preset}` (the {run.protocol or 'pre-protocol'} default is "
            f"`{run.default_preset}`); the settings are in the run's run.json"))
    limit = run.limit
    if limit:
        refs.append(notes.ref(f"`--limit {limit}`: only the first {limit} samples were evaluated"))
    for warning in run.warnings:
        refs.append(notes.ref(f"`{run.rel}`: {warning}"))
    return "".join(refs)


def coverage_suffix(run: Run) -> str:
    cov = run.coverage
    if cov is None or cov >= 1.0:
        return ""
    return f" (coverage {100 * cov:.1f}%)"


def provenance_warnings(runs: Sequence[Run]) -> list[str]:
    """Say so when a table mixes harness versions or task configurations."""
    out = []
    versions = sorted({r.harness_version for r in runs})
    if len(versions) > 1:
        out.append("results from different harness versions: " + ", ".join(
            f"{v} ({', '.join(sorted(r.rel for r in runs if r.harness_version == v))})"
            for v in versions))
    by_task: dict[str, set[str]] = {}
    for r in runs:
        by_task.setdefault(r.task_folder, set()).add(r.fingerprint)
    for task, fps in sorted(by_task.items()):
        if len(fps) > 1:
            out.append(f"`{task}` was run with different task configurations (fingerprints "
                       + ", ".join(
                           f"{fp[:12]}: {', '.join(sorted(r.model for r in runs if r.task_folder == task and r.fingerprint == fp))}"  # noqa: E501
                           for fp in sorted(fps)) + ")")
    dirty = sorted(r.rel for r in runs if r.commit.endswith("+dirty"))
    if dirty:
        out.append("made from a working tree with uncommitted changes: " + ", ".join(dirty))
    return [f"> **Note:** {w}." for w in out]


def runs_index(runs: Sequence[Run], out: Path) -> str:
    """A table of every run a document uses: folder, commit, task fingerprint, version."""
    lines = [
        "| task | model | results | commit | task fingerprint | harness | protocol | decoding | "
        "n | coverage |",
        "|---|---|---|---|---|---|---|---|---:|---:|",
    ]
    for r in sorted(runs, key=lambda r: (r.task_folder, r.model)):
        cov = "-" if r.coverage is None else f"{100 * r.coverage:.1f}%"
        lines.append(
            f"| `{r.task_folder}` | {r.model} | [{r.rel}]({link(r, out, '')}) | {r.commit} | "
            f"{r.fingerprint[:12]} | {r.harness_version} | {r.protocol or '-'} | "
            f"{r.decoding_preset or '-'} | {r.n} | {cov} |")
    return "\n".join(lines)

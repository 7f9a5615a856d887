"""Reading results: every ``metrics.json`` (and its ``run.json``) under a results folder."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_DECODING = "greedy"  # of results written before protocols existed
DEFAULT_MATCHER = "sound"  # likewise


@dataclass
class Run:
    """One model on one task, as the runner left it on disk."""

    folder: Path  # results/<task-folder>/<model>
    rel: str  # the folder relative to the results root, with "/" separators
    metrics: dict[str, Any]
    run: dict[str, Any] = field(default_factory=dict)

    @property
    def task(self) -> str:
        return str(self.metrics.get("task", ""))

    @property
    def kind(self) -> str:
        return str(self.metrics.get("kind", ""))

    @property
    def dataset(self) -> str:
        return str(self.metrics.get("dataset", ""))

    @property
    def model(self) -> str:
        return str(self.metrics.get("model", ""))

    @property
    def task_folder(self) -> str:
        """The task plus its request-shaping variant, e.g. ``vqa/mm-skin+decoding=paper``."""
        folder = (self.run.get("task") or {}).get("folder")
        if folder:
            return str(folder)
        parts = self.rel.split("/")
        return "/".join(parts[:-1]) if len(parts) > 1 else self.task

    @property
    def variant(self) -> str:
        head, sep, tail = self.task_folder.partition("+")
        return tail if sep else ""

    @property
    def scores(self) -> dict[str, Any]:
        return self.metrics.get("scores") or {}

    @property
    def overall(self) -> dict[str, Any]:
        return self.scores.get("overall") or {}

    @property
    def coverage(self) -> float | None:
        value = self.metrics.get("coverage")
        return float(value) if isinstance(value, int | float) else None

    @property
    def harness_version(self) -> str:
        return str(self.metrics.get("harness_version") or self.run.get("harness_version") or "?")

    @property
    def fingerprint(self) -> str:
        fp = self.metrics.get("task_fingerprint") or (self.run.get("task") or {}).get("fingerprint")
        return str(fp or "?")

    @property
    def commit(self) -> str:
        git = self.run.get("git") or {}
        commit = str(git.get("commit") or "?")[:10]
        return commit + ("+dirty" if git.get("dirty") else "")

    @property
    def protocol(self) -> str | None:
        """paper | sound; None for results written before the harness had protocols."""
        value = self.metrics.get("protocol") or self.run.get("protocol")
        return str(value) if value else None

    @property
    def default_preset(self) -> str:
        """The decoding preset this run's protocol uses for its task kind."""
        if self.protocol is None:
            return DEFAULT_DECODING
        from harness.protocol import value

        kind = "zeroshot" if self.kind == "zeroshot" else "vqa"
        return f"paper-{kind}" if value(f"{kind}.decoding.do_sample", self.protocol) \
            else "greedy"

    @property
    def decoding_preset(self) -> str | None:
        decoding = self.run.get("decoding")
        if decoding is None:
            decoding = (self.run.get("task") or {}).get("config", {}).get("decoding")
        return str(decoding.get("preset", DEFAULT_DECODING)) if decoding else None

    @property
    def matcher(self) -> str | None:
        return (self.scores.get("scoring") or {}).get("matcher")

    @property
    def other_matcher(self) -> tuple[str, dict[str, Any]] | None:
        """The zero-shot matcher scored beside the headline one, and its overall scores."""
        for name in ("paper", "sound"):
            other = self.scores.get(f"{name}_matcher")
            if name != (self.matcher or DEFAULT_MATCHER) and isinstance(other, dict):
                return name, other.get("overall") or {}
        return None

    @property
    def label_counts(self) -> dict[str, int]:
        counts = self.scores.get("label_counts") or {}
        return {str(k): int(v) for k, v in counts.items()}


def collect(results: Path) -> tuple[list[Run], list[str]]:
    """All runs under ``results`` sorted by task folder and model, and what could not be read."""
    runs: list[Run] = []
    problems: list[str] = []
    root = results.resolve()
    for path in sorted(root.glob("**/metrics.json")):
        rel = path.parent.relative_to(root).as_posix()
        try:
            metrics = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            problems.append(f"{rel}/metrics.json could not be read ({type(exc).__name__})")
            continue
        if not isinstance(metrics, dict) or not metrics.get("kind") or "scores" not in metrics:
            problems.append(f"{rel}/metrics.json is not a harness metrics file")
            continue
        run: dict[str, Any] = {}
        run_path = path.parent / "run.json"
        if run_path.exists():
            try:
                run = json.loads(run_path.read_text())
            except (OSError, ValueError):
                problems.append(f"{rel}/run.json could not be read")
        runs.append(Run(folder=path.parent, rel=rel, metrics=metrics, run=run))
    runs.sort(key=lambda r: (r.kind, r.task_folder, r.model, r.rel))
    return runs, problems

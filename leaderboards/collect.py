"""Reading results: every ``metrics.json`` (and its ``run.json``) under a results folder."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from harness.plan import TableLayout, TaskPlan
from harness.results import RUN, MetricsFile, RunFile, SchemaError, Scores, read_metrics, read_run

DEFAULT_DECODING = "greedy"  # of results written before protocols existed
DEFAULT_MATCHER = "sound"  # likewise


@dataclass
class Run:
    """One model on one task, as the runner left it on disk (read through ``harness.results``)."""

    folder: Path  # results/<task-folder>/<model>
    rel: str  # the folder relative to the results root, with "/" separators
    metrics: MetricsFile
    run: RunFile | None = None

    @property
    def task(self) -> str:
        return self.metrics.task

    @property
    def kind(self) -> str:
        return self.metrics.kind

    @property
    def dataset(self) -> str:
        return self.metrics.dataset

    @property
    def model(self) -> str:
        return self.metrics.model

    @property
    def n(self) -> int:
        return self.metrics.n

    @property
    def limit(self) -> int | None:
        return self.metrics.partial.limit if self.metrics.partial else None

    @property
    def warnings(self) -> list[str]:
        return self.metrics.warnings

    @cached_property
    def plan(self) -> TaskPlan:
        """The run's plan as stored; for files written before plans, one made from the
        fields they hold (the folder read back from its path, as the harness wrote it)."""
        if self.metrics.plan is not None:
            return self.metrics.plan
        if self.run is not None and self.run.task.folder:
            folder = self.run.task.folder
        else:
            parts = self.rel.split("/")
            folder = "/".join(parts[:-1]) if len(parts) > 1 else self.metrics.task
        head, sep, tail = folder.partition("+")
        variant = ",".join(p for p in tail.split(",") if sep and not p.startswith("protocol="))
        decoding = None
        if self.run is not None:
            decoding = self.run.decoding or self.run.task.config.get("decoding")
        protocol = self.metrics.protocol or (self.run.protocol if self.run else None)
        headline, table = builtin_layout(self.metrics.kind)
        return TaskPlan(task=self.metrics.task, kind=self.metrics.kind,
                        dataset=self.metrics.dataset, headline=headline, table=table,
                        protocol=protocol or "", decoding=decoding, variant=variant,
                        folder=folder, fingerprint=self.metrics.task_fingerprint,
                        model_key=self.metrics.model_key or {"name": self.metrics.model})

    @property
    def task_folder(self) -> str:
        """The task plus its request-shaping variant, e.g. ``vqa/mm-skin+decoding=paper``."""
        return self.plan.folder

    @property
    def variant(self) -> str:
        head, sep, tail = self.task_folder.partition("+")
        return tail if sep else ""

    @property
    def headline(self) -> str:
        return self.plan.headline

    @property
    def layout(self) -> TableLayout:
        return self.plan.table

    @property
    def scores(self) -> Scores:
        return self.metrics.scores

    @property
    def overall(self) -> dict[str, float | None]:
        return self.scores.overall

    @property
    def coverage(self) -> float | None:
        return self.metrics.coverage

    @property
    def harness_version(self) -> str:
        if self.metrics.harness_version != "?" or self.run is None:
            return self.metrics.harness_version
        return self.run.harness_version

    @property
    def fingerprint(self) -> str:
        fp = self.metrics.task_fingerprint or (self.run.task.fingerprint if self.run else "")
        return fp or "?"

    @property
    def commit(self) -> str:
        git = self.run.git if self.run is not None else {}
        commit = str(git.get("commit") or "?")[:10]
        return commit + ("+dirty" if git.get("dirty") else "")

    @property
    def protocol(self) -> str | None:
        """paper | sound; None for results written before the harness had protocols."""
        return self.plan.protocol or None

    @property
    def default_preset(self) -> str:
        """The decoding preset this run's protocol uses for its task kind."""
        if self.protocol is None:
            return DEFAULT_DECODING
        from harness.protocol import default_decoding

        return default_decoding("zeroshot" if self.kind == "zeroshot" else "vqa", self.protocol)

    @property
    def decoding_preset(self) -> str | None:
        decoding = self.plan.decoding
        return str(decoding.get("preset", DEFAULT_DECODING)) if decoding else None

    @property
    def matcher(self) -> str | None:
        return self.scores.scoring.get("matcher")

    @property
    def other_matcher(self) -> tuple[str, dict[str, float | None]] | None:
        """The zero-shot matcher scored beside the headline one, and its overall scores."""
        for name in ("paper", "sound"):
            other = self.scores.alternatives.get(f"{name}-matcher")
            if name != (self.matcher or DEFAULT_MATCHER) and other is not None:
                return name, other.overall
        return None

    @property
    def label_counts(self) -> dict[str, int]:
        return dict(self.scores.label_counts)


def builtin_layout(kind: str) -> tuple[str, TableLayout]:
    """The headline metric and table of a built-in kind, as its TaskKind declares them: for
    results written before plans were stored (any other kind gets the plain table)."""
    from harness.tasks import probe, vqa, zeroshot

    for declared in (*vqa.KINDS, zeroshot.KIND, probe.KIND):
        if declared.name == kind:
            return declared.headline, TableLayout(layout=declared.layout, title=declared.title,
                                                  columns=list(declared.columns))
    return "accuracy", TableLayout(title=kind)


def collect(results: Path) -> tuple[list[Run], list[str]]:
    """All runs under ``results`` sorted by task folder and model, and what could not be read.

    Only ``metrics.json`` files are read: a partial result written beside a complete one
    (``metrics.partial.json``) never reaches a table.
    """
    runs: list[Run] = []
    problems: list[str] = []
    root = results.resolve()
    for path in sorted(root.glob("**/metrics.json")):
        rel = path.parent.relative_to(root).as_posix()
        try:
            metrics = read_metrics(path)
        except SchemaError as exc:
            problems.append(str(exc).replace(str(path), f"{rel}/metrics.json"))
            continue
        run = None
        run_path = path.parent / RUN
        if run_path.exists():
            try:
                run = read_run(run_path)
            except SchemaError as exc:
                problems.append(str(exc).replace(str(run_path), f"{rel}/run.json"))
        runs.append(Run(folder=path.parent, rel=rel, metrics=metrics, run=run))
    runs.sort(key=lambda r: (r.kind, r.task_folder, r.model, r.rel))
    return runs, problems


def higher_is_better(runs: Sequence[Run], metric: str) -> bool:
    """A metric's direction as its runs recorded it (the metric's own ``MetricSpec``)."""
    for run in runs:
        info = run.scores.metrics.get(metric)
        if info is not None:
            return info.higher_is_better
    return True

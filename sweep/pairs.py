"""The (model, task) pairs of a plan, where each one's results live, and whether it is done."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness import results
from harness.plan import folder_of, model_folder
from harness.plugin_manager import Registries
from harness.runner import build_task
from harness.runstate import RunOptions
from harness.sweep.plan import SweepPlan


@dataclass(frozen=True)
class Pair:
    model: str  # the plan's model name (the name results are filed under)
    task: str
    folder: Path  # results/<task folder>/<model>/


@dataclass
class Expansion:
    pairs: list[Pair]
    skipped: list[tuple[str, str, str]]  # (model, task, why): a capability the model lacks


def is_complete(pair: Pair) -> bool:
    """Whether the store holds a complete result for ``pair``: THE one place this is decided
    (plan, submit and status all ask it), so a stored run plan can replace it in one edit.

    Today: metrics.json exists, is readable, is not partial, and every sample is answered
    (a failed sample is retried by a rerun, which asks only the failed ones). An unreadable
    metrics.json counts as not complete: a rerun rewrites it from the stored predictions
    without asking them again.
    """
    try:
        m = results.read_metrics(pair.folder / results.METRICS)
    except (OSError, results.SchemaError):
        return False
    return m.complete and m.answered == m.n


def expand(plan: SweepPlan, registries: Registries) -> Expansion:
    """Every model of the plan on every task its patterns match that the model can do."""
    names: list[str] = []
    for pattern in plan.tasks:
        names += [t.name for t in registries.tasks.match(pattern)]
    opts = RunOptions(model="", tasks=[], protocol=plan.protocol, seed=plan.seed)
    options = {k: str(v) for k, v in plan.task_options.items()}
    tasks = [build_task(registries, n, options, opts) for n in dict.fromkeys(names)]
    pairs: list[Pair] = []
    skipped: list[tuple[str, str, str]] = []
    for entry in plan.models:
        spec = registries.models.get(entry.plugin)
        for task in tasks:
            if task.capability not in spec.capabilities:
                skipped.append((entry.name, task.name, f"cannot {task.capability}"))
                continue
            folder = plan.output / folder_of(task, plan.protocol) / model_folder(entry.name)
            pairs.append(Pair(entry.name, task.name, folder))
    return Expansion(pairs, skipped)


def incomplete(pairs: list[Pair]) -> list[Pair]:
    return [p for p in pairs if not is_complete(p)]

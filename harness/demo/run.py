"""`harness demo`: every built-in baseline on the three demo tasks, then a leaderboard."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.plugins import Registries
from harness.runner import RunOptions, run

DEMO_TASKS = ("vqa/demo", "probe/demo", "zeroshot/demo")
DEMO_MODELS = ("knn-retrieval", "majority", "chance", "colour-lbp")


def run_demo(registries: Registries, output: Path, console: Any) -> None:
    for name in DEMO_MODELS:
        spec = registries.models.get(name)
        tasks = [
            t for t in DEMO_TASKS if registries.tasks.get(t).capability in spec.capabilities
        ]
        console.rule(f"{name}: {', '.join(tasks)}")
        run(registries, RunOptions(model=name, tasks=tasks, output=output, batch_size=16),
            console=console)
    from leaderboards.cli import print_leaderboard

    # The demo's Markdown goes beside its results, never into the committed leaderboards/.
    print_leaderboard(output, output / "leaderboards", console)

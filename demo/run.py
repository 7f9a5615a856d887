"""`harness demo`: every built-in baseline on the three demo tasks, then a leaderboard.

With ``--train`` it also trains a tiny SkinVL on the demo's training split (CPU,
a few minutes) and evaluates it beside its untrained base, as the paper's
SkinVL-MM is set beside LLaVA-Med.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from harness.plugin_manager import Registries
from harness.runner import RunOptions, run

DEMO_TASKS = ("vqa/demo", "probe/demo", "zeroshot/demo")
# The demo's models are not the paper's: it runs the sound protocol, whose greedy decoding
# keeps its numbers deterministic (the paper's asks for 20+ sampled tokens per answer).
DEMO_PROTOCOL = "sound"
DEMO_MODELS = ("knn-retrieval", "majority", "chance", "colour-lbp")
# Open-ended answers are also judged, by the offline rule judge (docs/judges.md): the
# leaderboard's llava-med@rule-judge column.
JUDGED = ("vqa/demo",)
DEMO_JUDGE = {"judge": "rule-judge"}


def run_demo(registries: Registries, output: Path, console: Any, train: bool = False) -> None:
    for name in DEMO_MODELS:
        spec = registries.models.get(name)
        tasks = [
            t for t in DEMO_TASKS if registries.tasks.get(t).capability in spec.capabilities
        ]
        console.rule(f"{name}: {', '.join(tasks)}")
        for group in ([t for t in tasks if t in JUDGED], [t for t in tasks if t not in JUDGED]):
            if group:
                run(registries, RunOptions(
                    model=name, tasks=group, output=output, batch_size=16,
                    protocol=DEMO_PROTOCOL,
                    task_options=DEMO_JUDGE if group[0] in JUDGED else {}), console=console)
    if train:
        _train_and_evaluate(registries, output, console)
    from harness.leaderboards.cli import print_leaderboard

    # The demo's Markdown goes beside its results, never into the committed leaderboards/.
    print_leaderboard(output, output / "leaderboards", console, caption=caption())
    from harness.report.site import write as write_report

    index = write_report(output, output / "report").index
    click.echo(f"report (opens offline): {index}")


def caption() -> str:
    """What each baseline is and why its numbers are what they are, printed under the table."""
    from harness.demo import data

    k, m = len(data.CLASSES), len(data.MODALITIES)
    return "\n".join([
        "How to read these numbers (x100; no baseline sees a test answer):",
        f"- chance: a uniform draw: one of the {k} offered diagnoses (the {k} classes are "
        f"balanced, so about {100 / k:.0f}% correct), or a training answer to the same "
        f"question; answers are worded per modality, so about 1 draw in {m} has the "
        "reference's wording, which is why its BLEU-4 is well above 0.",
        f"- majority: always the most frequent training label or answer; with balanced "
        f"classes that is exactly {100 / k:.0f}% correct, and one answer per question is "
        f"worded for one of the {m} modalities.",
        "- knn-retrieval: the answer or label of the most similar training image by colour "
        "and texture; it looks at the image, so its answers are worded for the right "
        "modality and name the colour more often than not, while diagnoses overlap in "
        "colour and border, so it stays far from 100%.",
        "- colour-lbp: the same colour and texture features as a frozen encoder, with a "
        "linear probe; the only probe row (knn-retrieval's features would repeat it).",
        "- llava-med@rule-judge (results/leaderboards/vqa.md): LLaVA-Med's relative score "
        "(answer / reference x 100) given by rule-judge, an offline stand-in that rates by "
        "shared words and length, not by medical sense; a longer answer holding the "
        "reference's words can pass 100. It shows the judging path, not a judge's opinion "
        "(docs/judges.md).",
    ])


def _train_and_evaluate(registries: Registries, output: Path, console: Any) -> None:
    from harness.training.demo import train_demo_model

    console.rule("training a tiny SkinVL on the demo's training split")
    folder = output / "skinvl-demo"
    model_dir = train_demo_model(registries, folder, console)
    for name, path in (("skinvl-demo-base", folder / "base"), ("skinvl-demo", model_dir)):
        console.rule(f"{name}: {', '.join(DEMO_TASKS)}")
        run(registries, RunOptions(model="skinvl", name=name, model_path=str(path),
                                   tasks=DEMO_TASKS, output=output, batch_size=8, device="cpu",
                                   protocol=DEMO_PROTOCOL),
            console=console)

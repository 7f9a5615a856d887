"""``harness demo --train``: a tiny SkinVL trained on the demo set's training split, on CPU.

The base is built from scratch (random weights, a tokenizer trained on the demo's
training text), so the demo needs no download; it is seeded and deterministic.
Training follows the paper's structure (LoRA on the language model, projector
trained, vision tower frozen) with the ``skinvl-demo`` recipe; because a random
base has no language to adapt, that recipe also trains the output head.

    OUTPUT/base     the untrained base (evaluate it to compare)
    OUTPUT/adapter  the training run (adapter, log, data manifest, checkpoints)
    OUTPUT/model    the merged model: harness run --model skinvl --model-path OUTPUT/model
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

DEMO_VERSION = 2  # 2: the demo data's answers are worded per modality (demo/data.py)
SEED = 0
RECIPE = "skinvl-demo"


def demo_text() -> list[str]:
    """The demo's training text: every question and answer of its training split."""
    from harness.demo import data

    lines: list[str] = []
    for s in data.vqa_samples("train"):
        lines += [s.question or "", s.answer or ""]
    for r in data.ensure()[1]:
        if r.split == "train":
            lines.append(r.caption())
    return lines


def build_demo_base(folder: Path) -> Path:
    """The untrained tiny LLaVA of the demo, built offline and seeded."""
    from harness.training.tiny_base import build_tiny_llava

    return build_tiny_llava(folder, demo_text(), seed=SEED)


def train_demo_model(registries: Any, output_dir: Path, console: Any = None,
                     max_steps: int | None = None) -> Path:
    """Train (or reuse) the demo's tiny SkinVL; returns the merged model's folder.

    The untrained base is left in ``output_dir/base`` for comparison. A finished
    model of the same demo version is reused rather than trained again.
    """
    import torch

    from harness.training.loop import TrainOptions, train
    from harness.training.merge import merge_adapter
    from harness.training.recipes import get_recipe

    def say(line: str) -> None:
        if console is None:
            print(line)
        else:
            console.print(line, markup=False, highlight=False)

    output_dir = Path(output_dir)
    model_dir = output_dir / "model"
    stamp = {"demo_version": DEMO_VERSION, "recipe": RECIPE, "seed": SEED, "max_steps": max_steps}
    stamp_file = output_dir / "demo_model.json"
    if (model_dir / "config.json").is_file() and _read(stamp_file) == stamp:
        say(f"using the trained demo model in {model_dir}")
        return model_dir
    for sub in ("base", "adapter", "model"):
        shutil.rmtree(output_dir / sub, ignore_errors=True)
    stamp_file.unlink(missing_ok=True)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: one thread is fastest and spares the neighbours
    try:
        base = build_demo_base(output_dir / "base")
        say(f"built the untrained tiny base in {base}")
        train(registries, TrainOptions(recipe=get_recipe(RECIPE), base=base,
                                       output=output_dir / "adapter", max_steps=max_steps,
                                       use_deepspeed=False),
              say=say)
        merge_adapter(output_dir / "adapter", model_dir)
    finally:
        torch.set_num_threads(threads)
    shutil.rmtree(output_dir / "adapter" / "checkpoints", ignore_errors=True)
    stamp_file.write_text(json.dumps(stamp))
    say(f"trained demo model: {model_dir}")
    return model_dir


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None

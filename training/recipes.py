"""The paper's three SkinVL variants as named recipes, and a tiny one for the demo.

Hyperparameters from the paper (section 4.1, "Training Details"): LoRA rank 128,
alpha 64, learning rate 5e-5 with cosine decay, bf16, gradient checkpointing,
batch 16 per device (on 8 GPUs), DeepSpeed with periodic checkpoints. What the
paper does not state is marked ``# not in the paper`` with the value taken
from LLaVA's LoRA fine-tuning script, on which LLaVA-Med's training is based.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from harness.training.data import PAPER_LABEL_TEMPLATES, Source
from harness.training.lora import LoraSettings

from harness.errors import UsageError

MM_SKIN = "mm-skin"
# The nine public classification datasets of SkinVL-Pub (paper, section 3.3 and Table 6).
PUBLIC_DATASETS: tuple[str, ...] = (
    "ddi", "hiba", "bcn20000", "fitzpatrick17k", "isic2019", "scin", "pad-ufes-20", "patch16",
    "mskcc",
)


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    sources: tuple[Source, ...]
    lora: LoraSettings = LoraSettings()
    learning_rate: float = 5e-5
    lr_scheduler: str = "cosine"
    warmup_ratio: float = 0.03  # not in the paper (LLaVA's script)
    weight_decay: float = 0.0  # not in the paper (LLaVA's script)
    epochs: float = 3.0  # not in the paper
    per_device_batch: int = 16
    grad_accum: int = 1
    max_length: int = 2048  # not in the paper (LLaVA's script)
    gradient_checkpointing: bool = True
    bf16_on_gpu: bool = True
    save_steps: int = 500  # "periodic checkpoints"; the period is not in the paper
    save_total_limit: int = 3
    logging_steps: int = 10
    seed: int = 42
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_sources(self, sources: tuple[Source, ...]) -> Recipe:
        return replace(self, sources=sources)


def _public(templates: tuple[str, ...] = PAPER_LABEL_TEMPLATES) -> tuple[Source, ...]:
    return tuple(Source(d, kind="label", templates=templates) for d in PUBLIC_DATASETS)


RECIPES: dict[str, Recipe] = {
    "skinvl-mm": Recipe(
        name="skinvl-mm",
        description="SkinVL-MM: MM-Skin question/answer pairs only",
        sources=(Source(MM_SKIN, kind="qa"),),
    ),
    "skinvl-pub": Recipe(
        name="skinvl-pub",
        description="SkinVL-Pub: nine public datasets' labels as 'What is the diagnosis?' pairs",
        sources=_public(),
    ),
    "skinvl-pubmm": Recipe(
        name="skinvl-pubmm",
        description="SkinVL-PubMM: MM-Skin plus the nine public datasets",
        sources=(Source(MM_SKIN, kind="qa"), *_public()),
    ),
    # The demo's tiny model: a random-init base learns from 320 pairs in a couple of minutes on
    # CPU, which needs a far larger learning rate and a small rank; the structure is the paper's.
    "skinvl-demo": Recipe(
        name="skinvl-demo",
        description="tiny demo model: the synthetic demo set's question/answer pairs",
        sources=(Source("demo-vqa", kind="qa"),),
        lora=LoraSettings(rank=16, alpha=32, dropout=0.0,
                          fully_trained=("multi_modal_projector", "lm_head")),
        learning_rate=3e-3,
        warmup_ratio=0.05,
        epochs=15.0,
        max_length=256,
        gradient_checkpointing=False,
        save_steps=200,
        save_total_limit=1,
        logging_steps=10,
        seed=0,
    ),
}


def get_recipe(name: str) -> Recipe:
    try:
        return RECIPES[name]
    except KeyError:
        raise UsageError(f"unknown recipe '{name}' (known: {', '.join(RECIPES)})") from None

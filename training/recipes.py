"""The paper's three SkinVL variants as named recipes, and a tiny one for the demo.

The paper's recipes are the authors' ``finetune_lora.sh`` (ZwQ803/MM-Skin@31d105c):
every value is read from ``harness/protocol/settings.py`` (keys ``train.*``), which
names the script line it comes from and what section 4.1 says: LoRA rank 128, alpha
64, dropout 0.05; the projector trained in full at its own learning rate 2e-5; 5e-5
cosine with 2% warmup and weight decay 0.01; 1 epoch of batch 16 per device; bf16,
tf32, gradient checkpointing; DeepSpeed ZeRO-3; the ``v1`` conversation; batches
grouped by length (``group_by_modality_length``); a checkpoint every 100 steps.

Data (section 3.3, Table 6): every image the authors trained on is a non-test image,
so each public dataset contributes its train and val splits (all but the paper's
test split); Patch16 its train split (the authors' validation file is separate) and
SCIN and MM-Skin their train split. ``harness train mixture`` compares the counts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from harness.errors import UsageError
from harness.protocol import value
from harness.training.data import PAPER_LABEL_TEMPLATES, Source
from harness.training.lora import LoraSettings


def _paper(key: str) -> Any:
    return value(f"train.{key}", "paper")


MM_SKIN = "mm-skin"
# The nine public classification datasets of SkinVL-Pub (paper, section 3.3 and Table 6).
PUBLIC_DATASETS: tuple[str, ...] = (
    "ddi", "hiba", "bcn20000", "fitzpatrick17k", "isic2019", "scin", "pad-ufes-20", "patch16",
    "mskcc",
)
# The splits that hold the images the authors trained on (all but their test split).
TRAIN_SPLITS: dict[str, str] = {"patch16": "train", "scin": "train", MM_SKIN: "train"}
DEFAULT_TRAIN_SPLITS = "train+val"


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    sources: tuple[Source, ...]
    lora: LoraSettings = LoraSettings(rank=_paper("lora_rank"), alpha=_paper("lora_alpha"),
                                      dropout=_paper("lora_dropout"))
    learning_rate: float = _paper("learning_rate")
    mm_projector_lr: float | None = _paper("mm_projector_lr")  # None: the learning rate
    lr_scheduler: str = _paper("lr_scheduler")
    warmup_ratio: float = _paper("warmup_ratio")
    weight_decay: float = _paper("weight_decay")
    epochs: float = _paper("epochs")
    per_device_batch: int = _paper("per_device_batch")
    grad_accum: int = _paper("grad_accum")
    max_length: int = _paper("max_length")
    gradient_checkpointing: bool = _paper("gradient_checkpointing")
    bf16_on_gpu: bool = _paper("bf16")
    tf32_on_gpu: bool = _paper("tf32")
    deepspeed: str = _paper("deepspeed")  # zero2 | zero3: training/ds_<it>.json on CUDA
    conversation: str = _paper("conversation")  # v1 | mistral_instruct (training/base.py)
    group_by_length: bool = _paper("group_by_modality_length")
    save_steps: int = _paper("save_steps")
    save_total_limit: int = _paper("save_total_limit")
    logging_steps: int = _paper("logging_steps")
    dataloader_workers: int = _paper("dataloader_workers")  # on CUDA machines
    seed: int = 42  # not in the script: the Trainer's default seed
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_sources(self, sources: tuple[Source, ...]) -> Recipe:
        return replace(self, sources=sources)


def _public(templates: tuple[str, ...] = PAPER_LABEL_TEMPLATES) -> tuple[Source, ...]:
    return tuple(Source(d, kind="label", templates=templates,
                        split=TRAIN_SPLITS.get(d, DEFAULT_TRAIN_SPLITS)) for d in PUBLIC_DATASETS)


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
    # CPU, which needs a far larger learning rate, a small rank and more epochs; it keeps the
    # evaluation prompt (mistral_instruct), since a random base has learned no conversation.
    "skinvl-demo": Recipe(
        name="skinvl-demo",
        description="tiny demo model: the synthetic demo set's question/answer pairs",
        sources=(Source("demo-vqa", kind="qa"),),
        lora=LoraSettings(rank=16, alpha=32, dropout=0.0,
                          fully_trained=("multi_modal_projector", "lm_head")),
        learning_rate=3e-3,
        mm_projector_lr=None,
        warmup_ratio=0.05,
        weight_decay=0.0,
        epochs=15.0,
        conversation="mistral_instruct",
        deepspeed="zero2",
        group_by_length=False,
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

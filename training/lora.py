"""LoRA on the language model only; the projector trained in full; the vision tower frozen.

The CLIP vision tower has ``q_proj``/``k_proj``/``v_proj`` too, so the targets are a
regular expression anchored on ``language_model``: a bare list of names would
put adapters inside the vision encoder.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

LANGUAGE_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
PROJECTOR = "multi_modal_projector"


def language_target_regex(projections: tuple[str, ...] = LANGUAGE_PROJECTIONS) -> str:
    """peft matches a string target with ``re.fullmatch`` against each module's full name."""
    return rf".*language_model\..*\.({'|'.join(projections)})"


@dataclass(frozen=True)
class LoraSettings:
    rank: int = 128
    alpha: int = 64
    dropout: float = 0.05
    projections: tuple[str, ...] = LANGUAGE_PROJECTIONS
    # Modules trained in full and saved with the adapter: the projector (the paper), plus any
    # extra a recipe names (the demo's random-init base also trains its output head).
    fully_trained: tuple[str, ...] = (PROJECTOR,)


def attach_lora(model: Any, settings: LoraSettings) -> Any:
    """A peft model: LoRA on the language model's attention and MLP projections, projector saved."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=settings.rank,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=language_target_regex(settings.projections),
        modules_to_save=list(settings.fully_trained),
        task_type="CAUSAL_LM",
    )
    freeze_vision_tower(model)
    peft_model = get_peft_model(model, config)
    freeze_vision_tower(peft_model)
    return peft_model


def vision_tower(model: Any) -> Any:
    """The vision encoder of a LLaVA model, bare or wrapped by peft."""
    for name, module in model.named_modules():
        if name.endswith("vision_tower") and not name.endswith(".modules_to_save.vision_tower"):
            return module
    raise ValueError("the model has no vision_tower module: it is not a LLaVA-architecture model")


def freeze_vision_tower(model: Any) -> None:
    for p in vision_tower(model).parameters():
        p.requires_grad_(False)


def trainable_summary(model: Any) -> dict[str, int]:
    """Trainable parameter counts: lora, projector, other fully trained modules, anything else."""
    out = {"lora": 0, "projector": 0, "saved_modules": 0, "other": 0, "total": 0}
    for name, p in model.named_parameters():
        out["total"] += p.numel()
        if not p.requires_grad:
            continue
        if "lora_" in name:
            out["lora"] += p.numel()
        elif PROJECTOR in name:
            out["projector"] += p.numel()
        elif "modules_to_save" in name:
            out["saved_modules"] += p.numel()
        else:
            out["other"] += p.numel()
    return out

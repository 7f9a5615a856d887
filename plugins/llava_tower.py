"""Where a converted LLaVA checkpoint's CLIP tower comes from, as each family's own code does.

The original-format checkpoints may hold tower weights
(``model.vision_tower.vision_tower.*``), but whether the original code uses them
differs by family:

- ``llava-med`` (microsoft/LLaVA-Med@d406e3f): the tower is built with
  ``delay_load=True`` (``llava/model/llava_arch.py:35``), so ``from_pretrained``
  ignores the checkpoint's tower weights, and ``load_pretrained_model`` then loads
  the tower from ``mm_vision_tower`` (``llava/model/builder.py:71-72``,
  ``llava/model/multimodal_encoder/clip_encoder.py:22-24``).
- ``llava`` (haotian-liu/LLaVA, and its fork ZwQ803/MM-Skin@31d105c that SkinVL is
  evaluated with): the same, unless the config sets ``unfreeze_mm_vision_tower``, in
  which case the tower is built at once and the checkpoint's weights load into it
  (``llava/model/multimodal_encoder/clip_encoder.py:17-20`` in MM-Skin).
- ``huatuo`` (FreedomIntelligence/HuatuoGPT-Vision@a6476ac): ``cli.py:42`` builds the
  model with ``init_vision_encoder_from_ckpt=True``, so the checkpoint's tower weights
  are used; a relative ``mm_vision_tower`` (the published 7B names
  ``./vit/clip_vit_large_patch14_336``) is resolved against the checkpoint folder when
  it does not exist from the working directory, and anything else unresolvable falls
  back to ``openai/clip-vit-large-patch14-336``
  (``llava/model/multimodal_encoder/builder.py:6-13``).

``-M vision_tower=DIR|ID`` overrides all of this: that tower's config and weights.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import UsageError

TOWER_RULES = ("llava-med", "llava", "huatuo")
HUATUO_FALLBACK = "openai/clip-vit-large-patch14-336"
TOWER_PREFIX = "model.vision_tower.vision_tower."

# The towers the published checkpoints name, so that conversion needs only their weights.
KNOWN_TOWERS = {
    "clip-vit-large-patch14-336": dict(
        hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
        image_size=336, patch_size=14, projection_dim=768, hidden_act="quick_gelu"),
    "clip-vit-large-patch14": dict(
        hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
        image_size=224, patch_size=14, projection_dim=768, hidden_act="quick_gelu"),
}


@dataclass(frozen=True)
class TowerPlan:
    """The tower a family's code would run: its name, local folder, and whose weights."""

    ref: str  # as named (or as resolved, for a relative path)
    folder: Path | None  # a local folder holding the tower, when one can be found
    from_checkpoint: bool  # weights from the checkpoint (else from the tower itself)


def checkpoint_tensor_names(folder: Path) -> set[str]:
    """The tensor names of a checkpoint, from its index or safetensors headers (no data read)."""
    import struct

    from harness.plugins.hf_loading import weight_files

    for index in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        if (folder / index).is_file():
            return set(json.loads((folder / index).read_text())["weight_map"])
    names: set[str] = set()
    safe, _ = weight_files(folder)
    for path in safe:
        with path.open("rb") as fh:
            (length,) = struct.unpack("<Q", fh.read(8))
            names.update(k for k in json.loads(fh.read(length)) if k != "__metadata__")
    return names


def plan_tower(rule: str, config: dict[str, Any], source: Path,
               override: str | None) -> TowerPlan:
    """Which tower, and whose weights, the family's original code would use."""
    if rule not in TOWER_RULES:
        raise ValueError(f"unknown tower rule {rule!r}")
    if override:
        return TowerPlan(override, _local(override), from_checkpoint=False)
    named = config.get("mm_vision_tower") or config.get("vision_tower")
    if not named:
        raise UsageError(f"{source}: the checkpoint names no vision tower (mm_vision_tower); "
                         "give one with -M vision_tower=DIR")
    named = str(named)
    in_checkpoint = any(k.startswith(TOWER_PREFIX) for k in checkpoint_tensor_names(source))
    if rule == "huatuo":
        ref = named
        if not os.path.exists(ref):
            joined = os.path.join(str(source), ref)
            ref = joined if os.path.exists(joined) else (
                ref if ref.startswith("openai") else HUATUO_FALLBACK)
        return TowerPlan(ref, _local(ref), from_checkpoint=in_checkpoint)
    use_checkpoint = rule == "llava" and bool(config.get("unfreeze_mm_vision_tower"))
    if use_checkpoint and not in_checkpoint:
        raise UsageError(f"{source}: unfreeze_mm_vision_tower is set but the checkpoint holds "
                         "no tower weights")
    if not (os.path.exists(named) or named.startswith(("openai", "laion"))):
        # LLaVA's builder accepts only an existing path or an openai/laion Hub id.
        raise UsageError(
            f"{source}: the vision tower {named!r} is neither an existing folder nor an "
            "openai/laion Hub id; give the tower folder with -M vision_tower=DIR")
    return TowerPlan(named, _local(named), from_checkpoint=use_checkpoint)


def _local(ref: str) -> Path | None:
    """A tower's local folder: a folder, or a Hub id already in the Hugging Face cache."""
    path = Path(ref).expanduser()
    if path.is_dir():
        return path.resolve()
    if ref.count("/") != 1 or ref.startswith((".", "/", "~")):
        return None
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(ref, local_files_only=True))
    except Exception:  # not cached (or not a valid id): the conversion says so if it needs it
        return None


def tower_folder_for_weights(plan: TowerPlan) -> Path:
    """The tower's folder when its own weights are needed (downloaded if online)."""
    if plan.folder is not None:
        return plan.folder
    from harness.plugins.hf_loading import resolve_checkpoint

    return resolve_checkpoint("convert", plan.ref, None)


def tower_config(plan: TowerPlan) -> Any:
    from transformers import CLIPVisionConfig

    if plan.folder is not None:
        return CLIPVisionConfig.from_pretrained(plan.folder)
    known = KNOWN_TOWERS.get(plan.ref.rstrip("/").rsplit("/", 1)[-1])
    if known is not None:
        return CLIPVisionConfig(**known)
    raise UsageError(
        f"cannot read the vision tower config of {plan.ref!r} (not a folder, not a known "
        "CLIP tower, not in the local Hugging Face cache); give the tower folder with "
        "-M vision_tower=DIR (or --vision-tower)"
    )


def image_processor_settings(plan: TowerPlan, image_size: int) -> dict[str, Any]:
    """The CLIP image processor settings the original code reads from the tower folder.

    ``CLIPImageProcessor.from_pretrained(tower)`` in every family's ``load_model``;
    without a ``preprocessor_config.json``, CLIP's defaults at the tower's size.
    """
    settings: dict[str, Any] = {
        "size": {"shortest_edge": image_size},
        "crop_size": {"height": image_size, "width": image_size},
    }
    path = plan.folder / "preprocessor_config.json" if plan.folder else None
    if path is not None and path.is_file():
        saved = json.loads(path.read_text())
        for key in ("image_mean", "image_std", "resample", "do_resize", "do_center_crop",
                    "do_rescale", "rescale_factor", "do_normalize", "do_convert_rgb"):
            if key in saved:
                settings[key] = saved[key]
        size, crop = saved.get("size"), saved.get("crop_size")
        if isinstance(size, int):
            size = {"shortest_edge": size}
        if isinstance(crop, int):
            crop = {"height": crop, "width": crop}
        settings["size"] = size or settings["size"]
        settings["crop_size"] = crop or settings["crop_size"]
    return settings


def tower_key(plan: TowerPlan) -> str:
    """What the plan's tower contributes to the conversion's content key."""
    from harness.plugins.hf_loading import checkpoint_key

    folder = plan.folder
    if folder is None and not plan.from_checkpoint:
        folder = tower_folder_for_weights(plan)  # its weights are needed: fetch them now
    # A local tower by its content (wherever it lies); a Hub id not downloaded by its name.
    named = checkpoint_key(folder) if folder is not None else plan.ref
    return f"{named}\0{plan.from_checkpoint}"

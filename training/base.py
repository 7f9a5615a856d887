"""Loading the base checkpoint to fine-tune: any Hugging Face LLaVA-architecture folder.

LLaVA-Med v1.5 as published (``llava_mistral``) is not a transformers-native
checkpoint; convert it first with ``harness convert`` (plugins/llava_convert.py),
which writes a ``LlavaForConditionalGeneration`` folder this module loads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.errors import UsageError

NATIVE_TYPES = ("llava",)


def check_base(path: Path) -> dict[str, Any]:
    """The base's config.json, or a one-sentence UsageError saying what is wrong with ``path``."""
    if not path.is_dir():
        raise UsageError(f"--base {path} is not a folder (a LLaVA-architecture checkpoint)")
    if (path / "adapter_config.json").exists() and not (path / "config.json").exists():
        raise UsageError(f"--base {path} is a LoRA adapter, not a base model: give the folder "
                         "of the model it was trained from, or merge it first")
    config_file = path / "config.json"
    if not config_file.is_file():
        raise UsageError(f"--base {path} holds no config.json: it is not a model checkpoint")
    try:
        config = json.loads(config_file.read_text())
    except json.JSONDecodeError as exc:
        raise UsageError(f"{config_file} is not valid JSON ({exc})") from None
    model_type = config.get("model_type")
    if model_type not in NATIVE_TYPES:
        hint = (" (the original LLaVA-Med release: convert it with `harness convert` first)"
                if model_type and model_type.startswith("llava") else "")
        raise UsageError(f"--base {path} is a '{model_type}' checkpoint; training needs a "
                         f"transformers LLaVA checkpoint (model_type 'llava'){hint}")
    return config


def load_base(path: Path, dtype: Any = None) -> tuple[Any, Any]:
    """(model, processor) of a LLaVA-architecture checkpoint, on the CPU, in ``dtype``."""
    from transformers import AutoProcessor, LlavaForConditionalGeneration

    check_base(path)
    processor = AutoProcessor.from_pretrained(path)
    kwargs = {"dtype": dtype} if dtype is not None else {}
    model = LlavaForConditionalGeneration.from_pretrained(path, **kwargs)
    return model, processor


def conversation_format(name: str) -> tuple[str | None, str | None, bool]:
    """(chat template, system message, pad to square) a recipe trains with.

    ``v1``: LLaVA's vicuna_v1, which ``finetune_lora.sh --version v1`` trains SkinVL with
    (the template of ``plugins/llava.py``); ``mistral_instruct``: the prompt ``harness run
    --model skinvl`` evaluates with (``plugins/skinvl.py``). Images are padded to a square
    as the authors' training does (``train.image_aspect_ratio``). Without the plugins:
    the checkpoint's own template and the processor's image handling."""
    from harness.protocol import value

    pad = value("train.image_aspect_ratio", "paper") == "pad"
    try:
        from harness.plugins.chat_templates import (
            LLAVA_MED_TEMPLATE,
            VICUNA_SYSTEM,
            VICUNA_TEMPLATE,
        )
    except ImportError:
        return None, None, False
    if name == "v1":
        return VICUNA_TEMPLATE, VICUNA_SYSTEM, pad
    if name == "mistral_instruct":  # SkinVL's evaluation template, LLaVA-Med's
        return LLAVA_MED_TEMPLATE, None, pad
    raise UsageError(f"unknown conversation '{name}' (v1 or mistral_instruct)")

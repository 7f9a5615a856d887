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


def inference_format() -> tuple[str | None, bool]:
    """(chat template, pad to square) of ``harness run --model skinvl``, so that training sees
    the prompts and images evaluation will; (None, False) when that plugin is not installed
    (the checkpoint's own template, images as the processor takes them)."""
    try:
        from harness.plugins.skinvl import FAMILY
    except ImportError:
        return None, False
    return FAMILY.chat_template, bool(FAMILY.pad_to_square)

"""Merge a trained adapter into its base: a plain ``LlavaForConditionalGeneration`` checkpoint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.errors import UsageError


def adapter_base(adapter: Path) -> Path:
    """The base folder an adapter names in adapter_config.json."""
    config = adapter / "adapter_config.json"
    if not config.is_file():
        raise UsageError(f"{adapter} holds no adapter_config.json: it is not a LoRA adapter")
    try:
        base = json.loads(config.read_text()).get("base_model_name_or_path")
    except json.JSONDecodeError as exc:
        raise UsageError(f"{config} is not valid JSON ({exc})") from None
    if not base:
        raise UsageError(f"{config} names no base model: pass --base")
    return Path(base)


def load_adapter(adapter: Path, base: Path | None = None, dtype: Any = None) -> tuple[Any, Any]:
    """(PeftModel on a fresh base, processor); the processor saved with the adapter wins."""
    from peft import PeftModel
    from transformers import AutoProcessor

    from harness.training.base import load_base

    base = base or adapter_base(adapter)
    model, processor = load_base(base, dtype=dtype)
    if (adapter / "processor_config.json").is_file() or (adapter / "tokenizer.json").is_file():
        processor = AutoProcessor.from_pretrained(adapter)
    return PeftModel.from_pretrained(model, adapter), processor


def merge_adapter(adapter: Path, output: Path, base: Path | None = None,
                  dtype: str = "auto") -> Path:
    """Fold LoRA and the trained projector into the base's weights; save model and processor."""
    import torch

    dtypes = {"auto": None, "float32": torch.float32, "bfloat16": torch.bfloat16,
              "float16": torch.float16}
    if dtype not in dtypes:
        raise UsageError(f"--dtype must be one of {', '.join(dtypes)}, got {dtype!r}")
    if output.exists() and any(output.iterdir()):
        raise UsageError(f"--output {output} is not empty: choose a new folder")
    model, processor = load_adapter(adapter, base, dtypes[dtype])
    merged = model.merge_and_unload()
    output.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(output)
    processor.save_pretrained(output)
    summary = adapter / "skinvl_training.json"
    info = {"merged_from": str(adapter.resolve()), "base": str(base or adapter_base(adapter))}
    if summary.is_file():
        info["training"] = json.loads(summary.read_text())
    (output / "skinvl_training.json").write_text(json.dumps(info, indent=1))
    return output

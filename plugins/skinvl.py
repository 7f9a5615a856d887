"""SkinVL, the MM-Skin paper's model: published weights and locally trained ones.

- ``skinvl-mm``, ``skinvl-pub``, ``skinvl-pubmm``: ``zwq803/SkinVL-MM``, ``-Pub``,
  ``-PubMM``, merged LLaVA-Med fine-tunes in the original LLaVA format, converted
  once into ``LlavaForConditionalGeneration`` (see ``plugins.llava_convert``).
- ``skinvl``: ``--model-path`` points at what ``training`` produced: a peft LoRA
  adapter folder (``adapter_config.json`` naming its LLaVA-architecture base; the
  adapter is merged into the base at load time, every adapter weight must land) or
  a merged ``LlavaForConditionalGeneration`` checkpoint.

Prompt and images as LLaVA-Med, the model SkinVL is fine-tuned from.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import Field

from harness import hookimpl
from harness.errors import HarnessError, UsageError
from harness.plugins.chat_templates import LLAVA_MED_TEMPLATE
from harness.plugins.hf_common import (
    CAPABILITIES,
    Family,
    build,
    converted_key,
    converted_llava,
    family_factory,
    spec_weights_key,
)
from harness.plugins.hf_loading import (
    ConvertedOptions,
    checkpoint_key,
    read_json,
    resolve_checkpoint,
)
from harness.specs import LoadContext, ModelSpec

FAMILY = Family(
    name="skinvl", architectures=("LlavaForConditionalGeneration",),
    chat_template=LLAVA_MED_TEMPLATE, answer_prefix=" ", pad_to_square=True,
)
PUBLISHED = {
    "skinvl-mm": ("zwq803/SkinVL-MM", "trained on MM-Skin"),
    "skinvl-pub": ("zwq803/SkinVL-Pub", "trained on public dermatology data"),
    "skinvl-pubmm": ("zwq803/SkinVL-PubMM", "trained on public data and MM-Skin"),
}
# SkinVL is run with the MM-Skin code (a fork of haotian-liu/LLaVA): its tower rule.
PREPARE, KEY = converted_llava("skinvl"), converted_key("skinvl")
make_published = family_factory(FAMILY, prepare=PREPARE, key=KEY)


class LocalOptions(ConvertedOptions):
    """The options of ``skinvl`` (a checkpoint you trained)."""

    base: str | None = Field(
        None, description="the base checkpoint of a LoRA adapter folder (default: the one "
        "its adapter_config.json names)")


def make_local(spec: ModelSpec, context: LoadContext, opts: LocalOptions) -> Any:
    folder = _local_folder(context)
    if not (folder / "adapter_config.json").is_file():
        if opts.base is not None:
            raise UsageError("model 'skinvl': -M base=... applies only to an adapter folder")
        return build(spec, context, opts, FAMILY, prepare=PREPARE, key=KEY, source=str(folder))
    base = _adapter_base(folder, opts)
    model = build(spec, context, opts, FAMILY, prepare=PREPARE, key=KEY, source=base)
    merge_adapter(model, folder, opts.allow_pickle)
    model.checkpoint = str(folder)
    adapter_key = checkpoint_key(folder)
    model.provenance["adapter"] = {"path": str(folder.resolve()), "base": str(base),
                                   "sha256": adapter_key}
    model._weights_hash = adapter_weights_key(adapter_key, model._weights_hash)
    return model


def _local_folder(context: LoadContext) -> Path:
    if not context.model_path:
        raise UsageError(
            "model 'skinvl' needs --model-path DIR: a trained LoRA adapter folder or a merged "
            "checkpoint (or use skinvl-mm, skinvl-pub, skinvl-pubmm for the published weights)"
        )
    return Path(context.model_path).expanduser()


def _adapter_base(folder: Path, opts: LocalOptions) -> str:
    base = opts.base or read_json(folder / "adapter_config.json").get("base_model_name_or_path")
    if not base:
        raise UsageError(
            f"model 'skinvl': {folder}/adapter_config.json names no base model; give -M base=DIR"
        )
    return str(base)


def adapter_weights_key(adapter_key: str, base_key: str) -> str:
    import hashlib

    return hashlib.sha256(f"adapter\0{adapter_key}\0{base_key}".encode()).hexdigest()


def local_weights_key(spec: ModelSpec, context: LoadContext, opts: LocalOptions) -> str | None:
    """``weights_key`` of ``skinvl``: the merged checkpoint's, or the adapter's and its base's."""
    if not context.model_path:
        return None  # the factory says what is missing
    folder = _local_folder(context)
    if not (folder / "adapter_config.json").is_file():
        return spec_weights_key(KEY)(spec, context, opts)
    base = resolve_checkpoint("skinvl", _adapter_base(folder, opts), opts.revision,
                              context.allow_download)
    return adapter_weights_key(checkpoint_key(folder), KEY(base, opts))


def merge_adapter(model: Any, folder: Path, allow_pickle: bool) -> None:
    """Merge a peft LoRA adapter into the base; an adapter weight with no place is an error."""
    from peft import PeftConfig, PeftModel
    from peft.utils import load_peft_weights, set_peft_model_state_dict

    has_safe = (folder / "adapter_model.safetensors").is_file()
    if not has_safe and not allow_pickle:
        raise UsageError(
            f"model 'skinvl': {folder} holds no adapter_model.safetensors; a pickled adapter "
            "needs -M allow_pickle=true"
        )
    config = PeftConfig.from_pretrained(folder)
    config.inference_mode = True
    peft_model = PeftModel(model.model, config)
    weights = load_peft_weights(str(folder), device="cpu")
    result = set_peft_model_state_dict(peft_model, weights)
    unexpected = list(getattr(result, "unexpected_keys", []) or [])
    missing = [k for k in (getattr(result, "missing_keys", []) or [])
               if "lora_" in k or "modules_to_save" in k]
    if unexpected or missing:
        shown = ", ".join((unexpected or missing)[:3])
        raise HarnessError(
            f"model 'skinvl': the adapter in {folder} does not fit its base "
            f"({len(unexpected)} unexpected, {len(missing)} missing weights, e.g. {shown})"
        )
    model.model = peft_model.merge_and_unload().eval()


@hookimpl
def register_models(register: Callable[[ModelSpec], None]) -> None:
    for name, (repo, what) in PUBLISHED.items():
        register(ModelSpec(
            name=name, factory=make_published, family="skinvl", checkpoint=repo,
            capabilities=CAPABILITIES, description=f"SkinVL {what} (original LLaVA format)",
            options=ConvertedOptions, weights_key=spec_weights_key(KEY),
        ))
    register(ModelSpec(
        name="skinvl", factory=make_local, family="skinvl", checkpoint=None,
        capabilities=CAPABILITIES,
        description="a locally trained SkinVL: --model-path ADAPTER_DIR or merged checkpoint",
        options=LocalOptions, weights_key=local_weights_key,
    ))

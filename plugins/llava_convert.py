"""Convert original LLaVA checkpoints into transformers' ``LlavaForConditionalGeneration``.

LLaVA-Med v1.5 (``LlavaMistralForCausalLM``), the published SkinVL weights (merged
LLaVA-Med fine-tunes) and HuatuoGPT-Vision (``LlavaQwen2ForCausalLM``) are saved by
the original LLaVA code base, which transformers cannot load. The conversion:

- renames the weights: ``model.layers.*``/``model.embed_tokens``/``model.norm`` ->
  ``model.language_model.*``; ``model.mm_projector.{0,2}`` ->
  ``model.multi_modal_projector.linear_{1,2}``;
  ``model.vision_tower.vision_tower.vision_model.*`` -> ``model.vision_tower.vision_model.*``
  (taken from ``mm_vision_tower`` when the checkpoint does not hold the tower);
  any other key is an error;
- adds an ``<image>`` token (the original code splices the image at a placeholder id
  instead); its new output row is blocked in generation and scoring, so the
  converted model ranks the original vocabulary exactly as the source does;
- writes the config (``mm_vision_select_layer`` -> ``vision_feature_layer``,
  ``mm_vision_select_feature`` patch -> strategy ``default``), the tokenizer, a
  ``LlavaProcessor`` with the family's chat template, a pad-to-square image
  processor when ``image_aspect_ratio`` is ``pad``, and ``harness_conversion.json``.

It runs automatically (cached under ``$XDG_CACHE_HOME/derm-harness/converted/<hash>``,
keyed by the source's fingerprint and this converter's version) or explicitly with
``harness convert SOURCE --output DIR``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import click

from harness import hookimpl
from harness.errors import HarnessError, UsageError

CONVERTER_VERSION = "1"
RECORD = "harness_conversion.json"
SHARD_BYTES = 4 * 1024**3

ORIGINAL_ARCHITECTURES = {
    "LlavaLlamaForCausalLM": "llama",
    "LlavaMistralForCausalLM": "mistral",
    "LlavaQwen2ForCausalLM": "qwen2",
    "LlavaQwenForCausalLM": "qwen2",
}
TEXT_TYPES = {"llava": "llama", "llava_llama": "llama", "llava_mistral": "mistral",
              "llava_qwen2": "qwen2", "llava_qwen": "qwen2"}

# The towers the published checkpoints name, so that conversion needs only their weights.
KNOWN_TOWERS = {
    "clip-vit-large-patch14-336": dict(
        hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
        image_size=336, patch_size=14, projection_dim=768, hidden_act="quick_gelu"),
    "clip-vit-large-patch14": dict(
        hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
        image_size=224, patch_size=14, projection_dim=768, hidden_act="quick_gelu"),
}

# Which of the authors' prompt formats a converted checkpoint carries, by text model.
FAMILY_BY_TEXT = {"mistral": "llava-med", "llama": "llava-v1.5", "qwen2": "huatuogpt-vision"}


def is_original_llava(config: dict[str, Any]) -> bool:
    arch = (config.get("architectures") or [""])[0]
    return arch in ORIGINAL_ARCHITECTURES or "mm_vision_tower" in config


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "derm-harness" / "converted"


def cache_key(source: Path, vision_tower: str | None) -> str:
    import hashlib

    from harness.plugins.hf_loading import folder_fingerprint

    h = hashlib.sha256(f"{CONVERTER_VERSION}\0{vision_tower or ''}\0".encode())
    h.update(folder_fingerprint(source).encode())
    return h.hexdigest()[:24]


# -- the weights -----------------------------------------------------------------------------


def rename_key(key: str) -> str | None:
    """The name of an original LLaVA weight in the llava-hf layout; None if it has none.

    The target is the on-disk layout of the llava-hf checkpoints on the Hub
    (``language_model.model.*``, ``vision_tower.vision_model.*``), which every
    transformers version since LLaVA's integration reads.
    """
    if key.startswith("model.vision_tower.vision_tower."):
        return "vision_tower." + key.removeprefix("model.vision_tower.vision_tower.")
    if key.startswith("model.mm_projector."):
        layer, rest = key.removeprefix("model.mm_projector.").split(".", 1)
        linear = {"0": "linear_1", "2": "linear_2"}.get(layer)
        return None if linear is None else f"multi_modal_projector.{linear}.{rest}"
    if key.startswith(("model.layers.", "model.embed_tokens.", "model.norm.")):
        return "language_model." + key
    if key == "lm_head.weight":
        return "language_model.lm_head.weight"
    return None


EMBEDDINGS = ("language_model.model.embed_tokens.weight", "language_model.lm_head.weight")
TOWER_PARTS = ("embeddings.", "pre_layrnorm.", "encoder.", "post_layernorm.")


def iter_source_tensors(folder: Path, allow_pickle: bool) -> Any:
    """(name, tensor) pairs from a checkpoint's safetensors (or, if allowed, pickle) files."""
    from harness.plugins.hf_loading import weight_files
    from safetensors import safe_open

    safe, pickled = weight_files(folder)
    if safe:
        for path in safe:
            with safe_open(str(path), framework="pt") as fh:
                for key in fh.keys():
                    yield key, fh.get_tensor(key)
        return
    if not pickled:
        raise UsageError(f"{folder} holds no weight files")
    if not allow_pickle:
        raise UsageError(
            f"{folder} holds only pickle weights ({pickled[0].name}); loading a pickle can run "
            "code, so converting it needs --allow-pickle (-M allow_pickle=true)"
        )
    import torch

    for path in pickled:
        state = torch.load(path, map_location="cpu", weights_only=True)
        yield from state.items()


class ShardWriter:
    """Writes tensors into ~4 GB safetensors shards with an index, as save_pretrained does."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.shards, self.current, self.size = folder, [], {}, 0
        self.total = 0

    def add(self, name: str, tensor: Any) -> None:
        nbytes = tensor.numel() * tensor.element_size()
        if self.current and self.size + nbytes > SHARD_BYTES:
            self._flush()
        self.current[name] = tensor.contiguous()
        self.size += nbytes
        self.total += nbytes

    def _flush(self) -> None:
        from safetensors.torch import save_file

        path = self.folder / f"shard-{len(self.shards):05d}.safetensors"
        save_file(self.current, str(path), metadata={"format": "pt"})
        self.shards.append((path, list(self.current)))
        self.current, self.size = {}, 0

    def close(self) -> None:
        if self.current:
            self._flush()
        if len(self.shards) == 1:
            self.shards[0][0].rename(self.folder / "model.safetensors")
            return
        weight_map = {}
        n = len(self.shards)
        for i, (path, names) in enumerate(self.shards):
            final = self.folder / f"model-{i + 1:05d}-of-{n:05d}.safetensors"
            path.rename(final)
            weight_map.update({name: final.name for name in names})
        index = {"metadata": {"total_size": self.total}, "weight_map": weight_map}
        (self.folder / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))


# -- the conversion ------------------------------------------------------------------------


def tower_source(config: dict[str, Any], vision_tower: str | None) -> str:
    tower = vision_tower or config.get("mm_vision_tower") or config.get("vision_tower")
    if not tower:
        raise UsageError("the checkpoint names no vision tower (mm_vision_tower); give one")
    return str(tower)


def tower_config(tower: str) -> Any:
    from transformers import CLIPVisionConfig

    local = Path(tower).expanduser()
    if local.is_dir():
        return CLIPVisionConfig.from_pretrained(local)
    known = KNOWN_TOWERS.get(tower.rstrip("/").rsplit("/", 1)[-1])
    if known is not None:
        return CLIPVisionConfig(**known)
    try:
        return CLIPVisionConfig.from_pretrained(tower)
    except Exception:
        raise UsageError(
            f"cannot read the vision tower config of {tower!r} (not a folder, not a known "
            "CLIP tower, not in the local Hugging Face cache); give the tower folder with "
            "-M vision_tower=DIR (or --vision-tower)"
        ) from None


def tower_weights(tower: str, allow_pickle: bool) -> Any:
    """``vision_model.*`` tensors of a separately published CLIP tower (local or cached)."""
    from harness.plugins.hf_loading import resolve_checkpoint

    folder = Path(tower).expanduser()
    if not folder.is_dir():
        folder = resolve_checkpoint("convert", tower, None)
    for key, value in iter_source_tensors(folder, allow_pickle):
        if key.endswith(".position_ids"):
            continue
        key = key.removeprefix("vision_model.") if key.startswith("vision_model.") else key
        if key.startswith(TOWER_PARTS):  # a CLIPModel's text half and projections stay out
            yield "vision_tower.vision_model." + key, value


def chat_template_for(family: str) -> str:
    from harness.plugins.huatuo import HUATUO_TEMPLATE
    from harness.plugins.llava import VICUNA_TEMPLATE
    from harness.plugins.llava_med import LLAVA_MED_TEMPLATE

    return {"llava-med": LLAVA_MED_TEMPLATE, "huatuogpt-vision": HUATUO_TEMPLATE,
            "llava-v1.5": VICUNA_TEMPLATE}[family]


def convert(source: Path, dest: Path, vision_tower: str | None = None,
            allow_pickle: bool = False) -> Path:
    """Convert an original-format LLaVA checkpoint folder into ``dest``; returns ``dest``."""
    import torch
    from harness.plugins.hf_loading import folder_fingerprint, read_json
    from transformers import (
        CONFIG_MAPPING,
        AutoTokenizer,
        GenerationConfig,
        LlavaConfig,
        LlavaImageProcessor,
        LlavaProcessor,
    )

    src = read_json(source / "config.json")
    if not is_original_llava(src):
        raise UsageError(f"{source} is not an original-format LLaVA checkpoint")
    arch = (src.get("architectures") or [""])[0]
    text_type = ORIGINAL_ARCHITECTURES.get(arch) or TEXT_TYPES.get(src.get("model_type", ""))
    if text_type is None:
        raise UsageError(f"{source}: unsupported LLaVA variant {arch or src.get('model_type')}")
    _check_supported(source, src)
    tower = tower_source(src, vision_tower)
    vision = tower_config(tower)
    if vision.hidden_size != src.get("mm_hidden_size", vision.hidden_size):
        raise UsageError(
            f"{source}: the vision tower {tower} has width {vision.hidden_size} but the "
            f"projector expects mm_hidden_size={src['mm_hidden_size']}"
        )

    tok = AutoTokenizer.from_pretrained(source)
    vocab = int(src["vocab_size"])
    if "<image>" not in tok.get_vocab():
        tok.add_tokens(["<image>"], special_tokens=True)
    image_id = tok.convert_tokens_to_ids("<image>")
    if tok.pad_token is None:  # the original code pads with unk (Llama/Mistral)
        tok.pad_token = tok.unk_token or tok.eos_token
    tok.padding_side = "left"
    new_vocab = max(vocab, image_id + 1)
    added = list(range(vocab, new_vocab))

    skip = {"architectures", "model_type", "auto_map", "transformers_version", "torch_dtype",
            "_name_or_path", "use_cache", "vocab_size", "pad_token_id"}
    text_fields = {k: v for k, v in src.items()
                   if k not in skip and not k.startswith(("mm_", "tokenizer_", "tune_", "freeze_"))
                   and k not in ("image_aspect_ratio", "use_mm_proj", "image_grid_pinpoints",
                                 "unfreeze_mm_vision_tower", "vision_tower")}
    text = CONFIG_MAPPING[text_type](**text_fields, vocab_size=new_vocab,
                                     pad_token_id=tok.pad_token_id)
    strategy = {"patch": "default", "cls_patch": "full"}[src.get("mm_vision_select_feature",
                                                                  "patch")]
    n_tokens = (vision.image_size // vision.patch_size) ** 2 + (strategy == "full")
    config = LlavaConfig(
        vision_config=vision.to_dict(), text_config=text.to_dict(), image_token_index=image_id,
        image_seq_length=n_tokens, vision_feature_layer=int(src.get("mm_vision_select_layer", -2)),
        vision_feature_select_strategy=strategy, projector_hidden_act="gelu",
        multimodal_projector_bias=True, pad_token_id=tok.pad_token_id,
        tie_word_embeddings=bool(src.get("tie_word_embeddings", False)),
    )
    config.architectures = ["LlavaForConditionalGeneration"]

    dest.mkdir(parents=True, exist_ok=True)
    writer = ShardWriter(dest)
    seen_tower = False
    unknown: list[str] = []
    for key, value in iter_source_tensors(source, allow_pickle):
        if key.endswith((".position_ids", ".rotary_emb.inv_freq")):
            continue  # buffers older checkpoints saved; the model rebuilds them
        new = rename_key(key)
        if new is None:
            unknown.append(key)
            continue
        seen_tower |= new.startswith("vision_tower.")
        if new in EMBEDDINGS and added:
            value = torch.cat([value, value.new_zeros(len(added), value.shape[1])])
        writer.add(new, value)
    if unknown:
        raise HarnessError(
            f"{source}: {len(unknown)} weights have no place in LlavaForConditionalGeneration "
            f"(e.g. {', '.join(unknown[:3])})"
        )
    if not seen_tower:
        for key, value in tower_weights(tower, allow_pickle):
            writer.add(key, value)
    writer.close()
    config.save_pretrained(dest)

    pad = src.get("image_aspect_ratio", "square") == "pad"
    image_processor = LlavaImageProcessor(
        size={"shortest_edge": vision.image_size},
        crop_size={"height": vision.image_size, "width": vision.image_size}, do_pad=pad,
    )
    family = FAMILY_BY_TEXT[text_type]
    processor = LlavaProcessor(
        image_processor=image_processor, tokenizer=tok, patch_size=vision.patch_size,
        vision_feature_select_strategy=strategy, chat_template=chat_template_for(family),
        num_additional_image_tokens=1,
    )
    processor.save_pretrained(dest)
    GenerationConfig(
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id, suppress_tokens=added or None,
    ).save_pretrained(dest)
    record = {
        "converter_version": CONVERTER_VERSION, "source": str(source),
        "source_sha256": folder_fingerprint(source), "source_architecture": arch,
        "vision_tower": tower, "tower_in_checkpoint": seen_tower, "family": family,
        "pad_to_square": pad, "image_token_id": image_id, "added_token_ids": added,
    }
    (dest / RECORD).write_text(json.dumps(record, indent=2))
    return dest


def _check_supported(source: Path, src: dict[str, Any]) -> None:
    problems = []
    if src.get("mm_projector_type", "linear") != "mlp2x_gelu":
        problems.append(f"projector {src.get('mm_projector_type', 'linear')!r} (needs mlp2x_gelu)")
    if src.get("mm_use_im_start_end"):
        problems.append("image start/end tokens (mm_use_im_start_end)")
    if src.get("image_aspect_ratio", "square") not in ("pad", "square"):
        problems.append(f"image_aspect_ratio {src['image_aspect_ratio']!r}")
    if src.get("mm_vision_select_feature", "patch") not in ("patch", "cls_patch"):
        problems.append(f"mm_vision_select_feature {src['mm_vision_select_feature']!r}")
    if problems:
        raise UsageError(f"{source}: cannot convert: unsupported " + ", ".join(problems))


def ensure_converted(name: str, folder: Path, vision_tower: str | None,
                     allow_pickle: bool) -> tuple[Path, dict[str, Any]]:
    """The converted folder for an original-format checkpoint (built once, then reused).

    A folder that is already transformers-native passes through unchanged.
    """
    from harness.plugins.hf_loading import read_json

    config = read_json(folder / "config.json")
    if not is_original_llava(config):
        record = folder / RECORD
        return folder, (json.loads(record.read_text()) if record.is_file() else {})
    dest = cache_root() / cache_key(folder, vision_tower)
    if not (dest / RECORD).is_file():
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".converting-", dir=dest.parent))
        try:
            convert(folder, tmp, vision_tower=vision_tower, allow_pickle=allow_pickle)
            try:
                tmp.rename(dest)  # atomic: a killed conversion never leaves a half folder
            except OSError:
                if not (dest / RECORD).is_file():  # not a concurrent twin that finished first
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return dest, json.loads((dest / RECORD).read_text())


def provenance(record: dict[str, Any]) -> dict[str, Any]:
    if not record:
        return {}
    return {"converted_from": {k: record.get(k) for k in (
        "source", "source_sha256", "source_architecture", "converter_version", "vision_tower")},
        "pad_to_square": record.get("pad_to_square", False)}


@click.command("convert")
@click.argument("source")
@click.option("--output", type=click.Path(path_type=Path),
              help="Folder for the converted checkpoint (default: the harness's cache).")
@click.option("--vision-tower", help="CLIP tower folder or Hub id, if not the config's.")
@click.option("--revision", help="Hub revision of SOURCE.")
@click.option("--allow-pickle", is_flag=True, help="Allow .bin/.pt weights (pickles can run code).")
def convert_command(source: str, output: Path | None, vision_tower: str | None,
                    revision: str | None, allow_pickle: bool) -> None:
    """Convert an original-format LLaVA checkpoint (LLaVA-Med, SkinVL, HuatuoGPT-Vision)
    into transformers' LlavaForConditionalGeneration."""
    from harness.plugins.hf_loading import resolve_checkpoint

    folder = resolve_checkpoint("convert", source, revision)
    if output is None:
        dest, _ = ensure_converted("convert", folder, vision_tower, allow_pickle)
    else:
        if output.exists() and any(output.iterdir()):
            raise UsageError(f"--output {output} exists and is not empty")
        dest = convert(folder, output, vision_tower=vision_tower, allow_pickle=allow_pickle)
    click.echo(str(dest))


@hookimpl
def register_commands(cli: click.Group) -> None:
    cli.add_command(convert_command, name="convert")

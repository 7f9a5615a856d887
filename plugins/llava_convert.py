"""Convert original LLaVA checkpoints into transformers' ``LlavaForConditionalGeneration``.

LLaVA-Med v1.5 (``LlavaMistralForCausalLM``), the published SkinVL weights (merged
LLaVA-Med fine-tunes) and HuatuoGPT-Vision (``LlavaQwen2ForCausalLM``) are saved by
the original LLaVA code base, which transformers cannot load. The conversion:

- renames the weights: ``model.layers.*``/``model.embed_tokens``/``model.norm`` ->
  ``model.language_model.*``; ``model.mm_projector.{0,2}`` ->
  ``model.multi_modal_projector.linear_{1,2}``;
  ``model.vision_tower.vision_tower.vision_model.*`` -> ``model.vision_tower.vision_model.*``;
  any other key is an error;
- takes the CLIP tower where the family's own code takes it (``plugins/llava_tower.py``):
  LLaVA-Med and SkinVL from ``mm_vision_tower``, HuatuoGPT-Vision from the checkpoint;
- adds an ``<image>`` token (the original code splices the image at a placeholder id
  instead); its new output row is blocked in generation and scoring, so the
  converted model ranks the original vocabulary exactly as the source does;
- writes the config (``mm_vision_select_layer`` -> ``vision_feature_layer``,
  ``mm_vision_select_feature`` patch -> strategy ``default``), the tokenizer as the
  original code splits text (``plugins/llava_tokens.py``), a ``LlavaProcessor`` with the
  family's chat template and the tower's image processor settings, a pad-to-square image
  processor when ``image_aspect_ratio`` is ``pad``, and ``harness_conversion.json``.

It runs automatically (cached under ``$XDG_CACHE_HOME/derm-harness/converted/<key>``,
the key a hash of the source's bytes, the tower's, the family and this converter's
version) or explicitly with ``harness convert SOURCE --output DIR``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import click

from harness import hookimpl
from harness.errors import HarnessError, UsageError
from harness.fingerprint import cache_home

CONVERTER_VERSION = "2"
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

# family -> (its prompt format, whose code decides where the tower comes from)
FAMILIES = {
    "llava-med": ("llava-med", "llava-med"),
    "skinvl": ("llava-med", "llava"),
    "huatuogpt-vision": ("huatuogpt-vision", "huatuo"),
    "llava-v1.5": ("llava-v1.5", "llava"),
}
# The family a checkpoint converted without one is taken to be, by its text model.
FAMILY_BY_TEXT = {"mistral": "llava-med", "llama": "llava-v1.5", "qwen2": "huatuogpt-vision"}


def is_original_llava(config: dict[str, Any]) -> bool:
    arch = (config.get("architectures") or [""])[0]
    return arch in ORIGINAL_ARCHITECTURES or "mm_vision_tower" in config


def text_type_of(source: Path, config: dict[str, Any]) -> str:
    arch = (config.get("architectures") or [""])[0]
    text = ORIGINAL_ARCHITECTURES.get(arch) or TEXT_TYPES.get(config.get("model_type", ""))
    if text is None:
        raise UsageError(f"{source}: unsupported LLaVA variant {arch or config.get('model_type')}")
    return text


def family_of(source: Path, config: dict[str, Any], family: str | None) -> str:
    if family is None:
        return FAMILY_BY_TEXT[text_type_of(source, config)]
    if family not in FAMILIES:
        raise UsageError(f"unknown family {family!r} (one of {', '.join(FAMILIES)})")
    return family


def cache_root() -> Path:
    return cache_home() / "derm-harness" / "converted"


def conversion_key(source: Path, family: str | None, vision_tower: str | None) -> str:
    """A hash of everything the conversion reads: the source's bytes, the tower's, the
    family (prompt format, tower rule) and this converter's version."""
    import hashlib

    from harness.plugins.hf_loading import checkpoint_key, read_json
    from harness.plugins.llava_tower import plan_tower, tower_key

    config = read_json(source / "config.json")
    family = family_of(source, config, family)
    plan = plan_tower(FAMILIES[family][1], config, source, vision_tower)
    h = hashlib.sha256(f"{CONVERTER_VERSION}\0{family}\0".encode())
    h.update(checkpoint_key(source).encode() + b"\0" + tower_key(plan).encode())
    return h.hexdigest()


def weights_key(folder: Path, family: str, vision_tower: str | None) -> str:
    """The content key of what a converted family runs: the conversion's, or a native
    checkpoint's own."""
    from harness.plugins.hf_loading import checkpoint_key, read_json

    if is_original_llava(read_json(folder / "config.json")):
        return conversion_key(folder, family, vision_tower)
    return checkpoint_key(folder)


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
    from safetensors import safe_open

    from harness.plugins.hf_loading import weight_files

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


def tower_weights(folder: Path, allow_pickle: bool) -> Any:
    """``vision_model.*`` tensors of a separately published CLIP tower."""
    for key, value in iter_source_tensors(folder, allow_pickle):
        if key.endswith(".position_ids"):
            continue
        key = key.removeprefix("vision_model.") if key.startswith("vision_model.") else key
        if key.startswith(TOWER_PARTS):  # a CLIPModel's text half and projections stay out
            yield "vision_tower.vision_model." + key, value


def chat_template_for(family: str) -> str:
    from harness.plugins.chat_templates import (
        HUATUO_TEMPLATE,
        LLAVA_MED_TEMPLATE,
        VICUNA_TEMPLATE,
    )

    return {"llava-med": LLAVA_MED_TEMPLATE, "huatuogpt-vision": HUATUO_TEMPLATE,
            "llava-v1.5": VICUNA_TEMPLATE}[family]


def convert(source: Path, dest: Path, vision_tower: str | None = None,
            allow_pickle: bool = False, family: str | None = None) -> Path:
    """Convert an original-format LLaVA checkpoint folder into ``dest``; returns ``dest``."""
    import torch
    from transformers import CONFIG_MAPPING, GenerationConfig, LlavaConfig

    from harness.plugins.hf_loading import checkpoint_key, read_json
    from harness.plugins.llava_tokens import is_sentencepiece, load_original_tokenizer
    from harness.plugins.llava_tower import (
        image_processor_settings,
        plan_tower,
        tower_config,
        tower_folder_for_weights,
    )

    src = read_json(source / "config.json")
    if not is_original_llava(src):
        raise UsageError(f"{source} is not an original-format LLaVA checkpoint")
    text_type = text_type_of(source, src)
    family = family_of(source, src, family)
    _check_supported(source, src)
    plan = plan_tower(FAMILIES[family][1], src, source, vision_tower)
    vision = tower_config(plan)
    if vision.hidden_size != src.get("mm_hidden_size", vision.hidden_size):
        raise UsageError(
            f"{source}: the vision tower {plan.ref} has width {vision.hidden_size} but the "
            f"projector expects mm_hidden_size={src['mm_hidden_size']}"
        )

    tok = load_original_tokenizer(source)
    vocab = int(src["vocab_size"])
    if "<image>" not in tok.get_vocab():
        tok.add_tokens(["<image>"], special_tokens=True)
    image_id = tok.convert_tokens_to_ids("<image>")
    if tok.pad_token is None:  # the original code pads with unk (Llama/Mistral)
        tok.pad_token = tok.unk_token or tok.eos_token
    tok.padding_side = "left"
    new_vocab = max(vocab, image_id + 1)
    added = list(range(vocab, new_vocab))
    config = _llava_config(src, text_type, vision, tok, image_id, new_vocab, CONFIG_MAPPING,
                           LlavaConfig)

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
        if new.startswith("vision_tower."):
            seen_tower = True
            if not plan.from_checkpoint:
                continue  # the family's code reloads the tower from mm_vision_tower
        if new in EMBEDDINGS and added:
            value = torch.cat([value, value.new_zeros(len(added), value.shape[1])])
        writer.add(new, value)
    if unknown:
        raise HarnessError(
            f"{source}: {len(unknown)} weights have no place in LlavaForConditionalGeneration "
            f"(e.g. {', '.join(unknown[:3])})"
        )
    from_checkpoint = plan.from_checkpoint and seen_tower
    if not from_checkpoint:
        for key, value in tower_weights(tower_folder_for_weights(plan), allow_pickle):
            writer.add(key, value)
    writer.close()
    config.save_pretrained(dest)

    pad = src.get("image_aspect_ratio", "square") == "pad"
    _save_processor(dest, tok, vision, image_processor_settings(plan, vision.image_size), pad,
                    config.vision_feature_select_strategy, FAMILIES[family][0])
    if is_sentencepiece(source):
        _record_legacy_spacing(dest)
        shutil.copyfile(source / "tokenizer.model", dest / "tokenizer.model")
    GenerationConfig(
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id, suppress_tokens=added or None,
    ).save_pretrained(dest)
    record = {
        "converter_version": CONVERTER_VERSION, "source": str(source),
        "source_sha256": checkpoint_key(source),
        "source_architecture": (src.get("architectures") or [""])[0],
        "family": family, "tower_rule": FAMILIES[family][1], "vision_tower": plan.ref,
        "tower_in_checkpoint": seen_tower, "tower_from_checkpoint": from_checkpoint,
        "pad_to_square": pad, "image_token_id": image_id, "added_token_ids": added,
    }
    (dest / RECORD).write_text(json.dumps(record, indent=2))
    return dest


def _llava_config(src: dict[str, Any], text_type: str, vision: Any, tok: Any, image_id: int,
                  vocab: int, config_mapping: Any, llava_config: Any) -> Any:
    skip = {"architectures", "model_type", "auto_map", "transformers_version", "torch_dtype",
            "_name_or_path", "use_cache", "vocab_size", "pad_token_id"}
    text_fields = {k: v for k, v in src.items()
                   if k not in skip and not k.startswith(("mm_", "tokenizer_", "tune_", "freeze_"))
                   and k not in ("image_aspect_ratio", "use_mm_proj", "image_grid_pinpoints",
                                 "unfreeze_mm_vision_tower", "vision_tower")}
    text = config_mapping[text_type](**text_fields, vocab_size=vocab,
                                     pad_token_id=tok.pad_token_id)
    strategy = {"patch": "default", "cls_patch": "full"}[src.get("mm_vision_select_feature",
                                                                  "patch")]
    n_tokens = (vision.image_size // vision.patch_size) ** 2 + (strategy == "full")
    config = llava_config(
        vision_config=vision.to_dict(), text_config=text.to_dict(), image_token_index=image_id,
        image_seq_length=n_tokens, vision_feature_layer=int(src.get("mm_vision_select_layer", -2)),
        vision_feature_select_strategy=strategy, projector_hidden_act="gelu",
        multimodal_projector_bias=True, pad_token_id=tok.pad_token_id,
        tie_word_embeddings=bool(src.get("tie_word_embeddings", False)),
    )
    config.architectures = ["LlavaForConditionalGeneration"]
    return config


def _save_processor(dest: Path, tok: Any, vision: Any, image_settings: dict[str, Any],
                    pad: bool, strategy: str, template_family: str) -> None:
    from transformers import LlavaImageProcessor, LlavaProcessor

    processor = LlavaProcessor(
        image_processor=LlavaImageProcessor(**image_settings, do_pad=pad), tokenizer=tok,
        patch_size=vision.patch_size, vision_feature_select_strategy=strategy,
        chat_template=chat_template_for(template_family), num_additional_image_tokens=1,
    )
    processor.save_pretrained(dest)


def _record_legacy_spacing(dest: Path) -> None:
    """transformers 5 does not save ``legacy``, and reads its absence as false."""
    path = dest / "tokenizer_config.json"
    config = json.loads(path.read_text())
    config["legacy"] = True
    path.write_text(json.dumps(config, indent=2))


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


def ensure_converted(name: str, folder: Path, vision_tower: str | None, allow_pickle: bool,
                     family: str | None = None) -> tuple[Path, dict[str, Any]]:
    """The converted folder for an original-format checkpoint (built once, then reused).

    A folder that is already transformers-native passes through unchanged.
    """
    from harness.plugins.hf_loading import read_json

    config = read_json(folder / "config.json")
    if not is_original_llava(config):
        record = folder / RECORD
        return folder, (json.loads(record.read_text()) if record.is_file() else {})
    dest = cache_root() / conversion_key(folder, family, vision_tower)[:32]
    if not (dest / RECORD).is_file():
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".converting-", dir=dest.parent))
        try:
            convert(folder, tmp, vision_tower=vision_tower, allow_pickle=allow_pickle,
                    family=family)
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
        "source", "source_sha256", "source_architecture", "converter_version", "family",
        "vision_tower", "tower_from_checkpoint")},
        "pad_to_square": record.get("pad_to_square", False)}


@click.command("convert")
@click.argument("source")
@click.option("--output", type=click.Path(path_type=Path),
              help="Folder for the converted checkpoint (default: the harness's cache).")
@click.option("--vision-tower", help="CLIP tower folder or Hub id, if not the config's.")
@click.option("--revision", help="Hub revision of SOURCE.")
@click.option("--allow-pickle", is_flag=True, help="Allow .bin/.pt weights (pickles can run code).")
@click.option("--family", type=click.Choice(sorted(FAMILIES)),
              help="Whose code to follow for the tower and prompt (default: by text model: "
              "Mistral llava-med, Qwen2 huatuogpt-vision, Llama llava-v1.5).")
def convert_command(source: str, output: Path | None, vision_tower: str | None,
                    revision: str | None, allow_pickle: bool, family: str | None) -> None:
    """Convert an original-format LLaVA checkpoint (LLaVA-Med, SkinVL, HuatuoGPT-Vision)
    into transformers' LlavaForConditionalGeneration."""
    from harness.plugins.hf_loading import resolve_checkpoint

    folder = resolve_checkpoint("convert", source, revision)
    if output is None:
        dest, _ = ensure_converted("convert", folder, vision_tower, allow_pickle, family)
    else:
        if output.exists() and any(output.iterdir()):
            raise UsageError(f"--output {output} exists and is not empty")
        dest = convert(folder, output, vision_tower=vision_tower, allow_pickle=allow_pickle,
                       family=family)
    click.echo(str(dest))


@hookimpl
def register_commands(cli: click.Group) -> None:
    cli.add_command(convert_command, name="convert")

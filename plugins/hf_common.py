"""What every local Hugging Face vision-language family shares.

Options and their checks, checkpoint resolution (local folder, Hub cache,
offline mode), device and precision, checked loading (a missing or unexpected
weight is an error), the processor fallback for installs without torchvision,
and one model class that implements the harness's model contract on top of a
transformers ``*ForConditionalGeneration``: batched left-padded generation,
pooled image features after the projector, and candidate log-likelihoods.

Nothing here imports torch or transformers at module import time.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import HarnessError, UsageError
from harness.model import Model
from harness.options import parse_bool
from harness.types import Decoding, Request

CAPABILITIES = frozenset({"generate", "encode_images", "score_choices"})
DTYPES = ("auto", "fp32", "fp16", "bf16")

# -- options ------------------------------------------------------------------------------

as_bool = parse_bool


def as_int(value: Any) -> int:
    number = int(str(value))
    if number < 1:
        raise ValueError
    return number


@dataclass
class LoadOptions:
    """Model options a user may give with ``-M key=value`` (strings, converted and checked)."""

    dtype: str = "auto"
    device_map: str | None = None
    trust_remote_code: bool = False
    revision: str | None = None
    allow_pickle: bool = False
    adapter: str | None = None
    base: str | None = None
    chat_template: str = "family"
    score: str = "sum"
    batch_size: int = 4
    vision_tower: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


OPTION_PARSERS: dict[str, tuple[Callable[[Any], Any], str]] = {
    "dtype": (lambda v: _choice(v, DTYPES), "one of " + "|".join(DTYPES)),
    "device_map": (lambda v: _choice(v, ("auto", "none")), "auto or none"),
    "trust_remote_code": (as_bool, "true or false"),
    "revision": (str, "a branch, tag or commit"),
    "allow_pickle": (as_bool, "true or false"),
    "adapter": (str, "a peft adapter folder"),
    "base": (str, "a base checkpoint folder or Hub id"),
    "chat_template": (lambda v: _choice(v, ("family", "checkpoint")), "family or checkpoint"),
    "score": (lambda v: _choice(v, ("sum", "mean")), "sum or mean"),
    "batch_size": (as_int, "a positive integer"),
    "vision_tower": (str, "a CLIP vision tower folder or Hub id"),
}


def _choice(value: Any, allowed: Sequence[str]) -> str:
    text = str(value).strip().lower()
    if text not in allowed:
        raise ValueError
    return text


def parse_options(name: str, options: dict[str, Any], allowed: Sequence[str]) -> LoadOptions:
    """Check ``-M`` options against the ones this model takes; one sentence per mistake."""
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise UsageError(
            f"model '{name}' has no option {', '.join(unknown)} "
            f"(options: {', '.join(sorted(allowed))})"
        )
    parsed = LoadOptions()
    for key, raw in options.items():
        parse, expected = OPTION_PARSERS[key]
        try:
            value = parse(raw)
        except (TypeError, ValueError):
            raise UsageError(
                f"model '{name}' option {key}={raw!r} is not valid (expected {expected})"
            ) from None
        if key == "device_map" and value == "none":
            value = None
        setattr(parsed, key, value)
    return parsed


STANDARD_OPTIONS = (
    "dtype", "device_map", "trust_remote_code", "revision", "allow_pickle", "chat_template",
    "score", "batch_size",
)

# -- device and precision --------------------------------------------------------------------


def resolve_device(name: str, device: str) -> str:
    import torch

    if device not in ("auto", "cpu", "cuda"):
        raise UsageError(f"model '{name}': --device must be auto, cpu or cuda, not {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"model '{name}': --device cuda was asked but no CUDA GPU is visible")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def resolve_dtype(name: str, dtype: str, device: str) -> Any:
    """fp32 on the CPU; bf16 on GPUs that support it, else fp16. ``-M dtype`` overrides."""
    import torch

    if dtype == "auto":
        if device == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    if dtype == "fp16" and device == "cpu":
        raise UsageError(f"model '{name}': -M dtype=fp16 is not supported on the CPU; use bf16")
    return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[dtype]


# -- checkpoints ---------------------------------------------------------------------------


def resolve_checkpoint(name: str, path_or_id: str, revision: str | None) -> Path:
    """A local folder for a folder, a Hub id (from the cache when offline) or fail in one line."""
    local = Path(path_or_id).expanduser()
    if local.is_dir():
        return local.resolve()
    if local.exists() or path_or_id.startswith((".", "/", "~")) or path_or_id.count("/") != 1:
        raise UsageError(
            f"model '{name}': {path_or_id} is neither a checkpoint folder nor a Hub id (owner/name)"
        )
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    try:
        return Path(snapshot_download(path_or_id, revision=revision))
    except LocalEntryNotFoundError:
        raise UsageError(
            f"model '{name}': {path_or_id} is not in the local Hugging Face cache and the Hub "
            "cannot be reached (offline); download it first or give --model-path DIR"
        ) from None
    except HFValidationError as exc:
        raise UsageError(f"model '{name}': {path_or_id} is not a valid Hub id ({exc})") from None
    except Exception as exc:  # 401/404 from the Hub, a network failure
        raise UsageError(
            f"model '{name}': cannot fetch {path_or_id}: {type(exc).__name__}: {exc}"
        ) from None


def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path} is missing: the folder is not a complete checkpoint") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path} cannot be read as JSON ({exc})") from None


def weight_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """(safetensors files, pickle files) holding the weights of a checkpoint folder."""
    safe = sorted(folder.glob("*.safetensors"))
    pickled = sorted(p for p in folder.glob("*.bin") if "training_args" not in p.name)
    pickled += sorted(folder.glob("*.pt")) + sorted(folder.glob("*.pth"))
    return safe, pickled


def check_weight_format(name: str, folder: Path, allow_pickle: bool) -> None:
    safe, pickled = weight_files(folder)
    if not safe and pickled and not allow_pickle:
        raise UsageError(
            f"model '{name}': {folder} holds only pickle weights ({pickled[0].name}); loading a "
            "pickle can run code, so it needs -M allow_pickle=true"
        )
    if not safe and not pickled:
        raise UsageError(f"model '{name}': {folder} holds no weight files")


def safetensors_header(path: Path) -> bytes:
    """The JSON header of a safetensors file: every tensor's name, dtype, shape and offsets."""
    with path.open("rb") as fh:
        (length,) = struct.unpack("<Q", fh.read(8))
        return fh.read(length)


def folder_fingerprint(folder: Path) -> str:
    """sha256 over the config, tokenizer and weight index/headers (not the gigabytes of data)."""
    h = hashlib.sha256()
    names = (
        "config.json", "generation_config.json", "adapter_config.json",
        "model.safetensors.index.json", "pytorch_model.bin.index.json", "tokenizer.json",
        "tokenizer_config.json", "tokenizer.model", "processor_config.json",
        "preprocessor_config.json", "chat_template.jinja", "chat_template.json",
    )
    for fname in names:
        path = folder / fname
        if path.is_file():
            h.update(fname.encode() + b"\0" + path.read_bytes())
    safe, pickled = weight_files(folder)
    for path in safe:
        h.update(path.name.encode() + b"\0" + safetensors_header(path))
        h.update(str(path.stat().st_size).encode())
    for path in pickled:  # no cheap header: size plus the first and last megabyte
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(1 << 20)
            fh.seek(max(0, size - (1 << 20)))
            tail = fh.read()
        h.update(path.name.encode() + str(size).encode() + head + tail)
    return h.hexdigest()


def sha256_text(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()


# -- loading -------------------------------------------------------------------------------


def load_processor(folder: Path, trust_remote_code: bool = False) -> Any:
    """``AutoProcessor``, or an image-only subclass when the video processor needs torchvision.

    transformers 5.x builds a video processor for Qwen2.5-VL and InternVL, and that
    needs torchvision; evaluation uses images only, so without torchvision the same
    processor class is built without its video half.
    """
    from transformers import AutoProcessor

    try:
        return AutoProcessor.from_pretrained(folder, trust_remote_code=trust_remote_code)
    except (ImportError, AttributeError, OSError) as exc:
        config = read_json(folder / "processor_config.json") if (
            folder / "processor_config.json").is_file() else {}
        cls_name = config.get("processor_class", "")
        image_only = _image_only_processor(cls_name)
        if image_only is None:
            raise UsageError(
                f"cannot load the processor of {folder}: {type(exc).__name__}: {exc}"
            ) from None
        return image_only.from_pretrained(folder)


def _image_only_processor(cls_name: str) -> Any:
    import transformers

    base = getattr(transformers, cls_name, None)
    if base is None or cls_name not in ("Qwen2_5_VLProcessor", "Qwen2VLProcessor",
                                        "InternVLProcessor"):
        return None

    def __init__(self: Any, image_processor: Any = None, tokenizer: Any = None,
                 chat_template: Any = None, image_seq_length: int = 256, **kwargs: Any) -> None:
        # ProcessorMixin reads its sub-processors (and saved fields) from this signature:
        # no video processor here.
        transformers.ProcessorMixin.__init__(
            self, image_processor, tokenizer, chat_template=chat_template)
        _init_fields(self, cls_name, tokenizer, {**kwargs, "image_seq_length": image_seq_length})

    return type(f"ImageOnly{cls_name}", (base,), {"__init__": __init__})


def _init_fields(proc: Any, cls_name: str, tokenizer: Any, kwargs: dict[str, Any]) -> None:
    """The attributes the full processors set in their ``__init__`` (images only)."""
    if cls_name == "InternVLProcessor":
        proc.image_seq_length = kwargs.get("image_seq_length", 256)
        proc.start_image_token = tokenizer.start_image_token
        proc.end_image_token = tokenizer.end_image_token
        proc.start_image_token_id = tokenizer.start_image_token_id
        proc.end_image_token_id = tokenizer.end_image_token_id
        proc.image_token = tokenizer.context_image_token
        proc.video_token = tokenizer.video_token
        proc.image_token_id = tokenizer.context_image_token_id
        proc.multimodal_pattern = re.compile(
            f"(?P<image>{re.escape(proc.image_token)})|(?P<video>{re.escape(proc.video_token)})"
        )
    else:
        proc.image_token = getattr(tokenizer, "image_token", "<|image_pad|>")
        proc.video_token = getattr(tokenizer, "video_token", "<|video_pad|>")
        proc.image_token_id = tokenizer.convert_tokens_to_ids(proc.image_token)
        proc.video_token_id = tokenizer.convert_tokens_to_ids(proc.video_token)
        proc.vision_start_token = getattr(tokenizer, "vision_start_token", "<|vision_start|>")
        proc.vision_end_token = getattr(tokenizer, "vision_end_token", "<|vision_end|>")
        proc.vision_start_token_id = tokenizer.convert_tokens_to_ids(proc.vision_start_token)
        proc.vision_end_token_id = tokenizer.convert_tokens_to_ids(proc.vision_end_token)


VISION_PARTS = ("vision_tower", "visual", "multi_modal_projector", "mm_projector", "merger")


def load_model_checked(name: str, folder: Path | str, opts: LoadOptions, device: str,
                       dtype: Any, expected: Sequence[str]) -> Any:
    """``AutoModelForImageTextToText`` with every missing/unexpected/mismatched weight an error."""
    from transformers import AutoConfig, AutoModelForImageTextToText

    try:
        config = AutoConfig.from_pretrained(folder, trust_remote_code=opts.trust_remote_code)
    except ValueError as exc:
        raise UsageError(
            f"model '{name}': {folder} is not a transformers-native checkpoint this install can "
            f"read ({str(exc).splitlines()[0]}); remote code needs -M trust_remote_code=true"
        ) from None
    arch = (getattr(config, "architectures", None) or [type(config).__name__])[0]
    if expected and arch not in expected:
        raise UsageError(
            f"model '{name}': {folder} holds a {arch}, expected {' or '.join(expected)}"
        )
    kwargs: dict[str, Any] = {
        "dtype": dtype, "trust_remote_code": opts.trust_remote_code,
        "use_safetensors": None if opts.allow_pickle else True, "output_loading_info": True,
    }
    if opts.device_map:
        kwargs["device_map"] = opts.device_map
    try:
        model, info = AutoModelForImageTextToText.from_pretrained(folder, **kwargs)
    except (OSError, ValueError) as exc:
        raise UsageError(f"model '{name}': cannot load {folder}: {exc}") from None
    problems = []
    for kind in ("missing_keys", "unexpected_keys", "mismatched_keys"):
        keys = sorted(str(k) for k in (info.get(kind) or []))
        if keys:
            vision = [k for k in keys if any(p in k for p in VISION_PARTS)]
            shown = (vision or keys)[:3]
            problems.append(f"{len(keys)} {kind.replace('_', ' ')} (e.g. {', '.join(shown)})")
    if problems:
        raise HarnessError(
            f"model '{name}': the weights in {folder} do not match the architecture: "
            + "; ".join(problems)
        )
    if not opts.device_map:
        model = model.to(device)
    return model.eval()


# -- images --------------------------------------------------------------------------------


def expand_to_square(image: Any, background: tuple[int, int, int]) -> Any:
    """LLaVA's ``expand2square``: pad the short side equally with the processor's mean colour."""
    from PIL import Image

    width, height = image.size
    if width == height:
        return image
    side = max(width, height)
    canvas = Image.new(image.mode, (side, side), background)
    canvas.paste(image, ((side - width) // 2, (side - height) // 2))
    return canvas


def mean_colour(image_processor: Any) -> tuple[int, int, int]:
    mean = getattr(image_processor, "image_mean", None) or (0.48145466, 0.4578275, 0.40821073)
    return tuple(int(x * 255) for x in mean)  # type: ignore[return-value]


# -- the model -----------------------------------------------------------------------------


@dataclass
class Family:
    """How one family talks: chat template, image handling, how an answer follows the prompt."""

    name: str
    architectures: tuple[str, ...]
    chat_template: str | None = None  # the authors' template; None: the checkpoint's own
    system: str | None = None  # the authors' default system message, if any
    answer_prefix: str = ""  # text between the generation prompt and a scored answer
    pad_to_square: bool = False


class HFVisionLanguageModel(Model):
    """A transformers image-text-to-text model behind the harness's model contract."""

    capabilities = CAPABILITIES

    def __init__(self, name: str, family: Family, model: Any, processor: Any,
                 checkpoint: str, folder: Path, opts: LoadOptions, device: str,
                 provenance: dict[str, Any] | None = None,
                 blocked_token_ids: Sequence[int] = ()) -> None:
        self.name, self.family, self.model, self.processor = name, family, model, processor
        self.tokenizer = processor.tokenizer
        self.tokenizer.padding_side = "left"  # batched generation: prompts end together
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.checkpoint, self.folder, self.opts, self.device = checkpoint, folder, opts, device
        self.provenance = dict(provenance or {})
        self.blocked = sorted(set(blocked_token_ids))  # tokens the source model never had
        self.batch_size_hint = opts.batch_size
        self.template = self._template()
        self.pad_to_square = family.pad_to_square or bool(self.provenance.get("pad_to_square"))
        self._weights_hash = folder_fingerprint(folder)

    # provenance
    def _template(self) -> str:
        if self.opts.chat_template == "family" and self.family.chat_template:
            return self.family.chat_template
        template = getattr(self.processor, "chat_template", None) or getattr(
            self.tokenizer, "chat_template", None)
        if not template:
            raise UsageError(
                f"model '{self.name}': {self.folder} has no chat template; use -M "
                "chat_template=family"
            )
        return template

    def identity(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "family": self.family.name,
            "checkpoint": self.checkpoint,
            "revision": self.opts.revision,
            "architecture": type(self.model).__name__,
            "weights_sha256": self._weights_hash,
            "chat_template": self.opts.chat_template,
            "chat_template_sha256": sha256_text(self.template),
            "system": self.family.system,
            "dtype": str(self.model.dtype).removeprefix("torch."),
            "device": self.device,
            "device_map": self.opts.device_map,
            "image_preprocessing": "expand-to-square (mean colour), then the processor"
            if self.pad_to_square else "the processor",
            "generation": "the request's Decoding (greedy unless a preset says otherwise), "
            "left padding, new tokens only, special tokens skipped",
            "score": f"{self.opts.score} of answer-token log-probabilities",
            "blocked_token_ids": self.blocked,
            **self.provenance,
        }

    # inputs
    def _images(self, paths: Sequence[Path]) -> list[Any]:
        from harness.images import open_rgb

        images = [open_rgb(p) for p in paths]
        if self.pad_to_square:
            colour = mean_colour(self.processor.image_processor)
            images = [expand_to_square(im, colour) for im in images]
        return images

    def prompt_text(self, prompt: str, n_images: int, system: str | None = None) -> str:
        messages: list[dict[str, Any]] = []
        system = system if system is not None else self.family.system
        if system:
            messages.append({"role": "system", "content": [{"type": "text", "text": system}]})
        content = [{"type": "image"} for _ in range(n_images)]
        content.append({"type": "text", "text": prompt})
        messages.append({"role": "user", "content": content})
        return self.processor.apply_chat_template(
            messages, chat_template=self.template, add_generation_prompt=True, tokenize=False)

    def _encode(self, texts: list[str], images: list[Any]) -> Any:
        kwargs: dict[str, Any] = {"text": texts, "return_tensors": "pt", "padding": True}
        if images:
            kwargs["images"] = images
        # A template that writes BOS itself must not get a second one from the tokenizer.
        bos = self.tokenizer.bos_token
        enc = self.processor(add_special_tokens=not (bos and texts[0].startswith(bos)), **kwargs)
        return enc.to(self.model.device)

    # generate
    def generate(self, requests: Sequence[Request]) -> list[str | Exception]:
        import torch

        answers: list[str | Exception] = [""] * len(requests)
        groups: dict[Decoding, list[int]] = {}
        for i, r in enumerate(requests):
            groups.setdefault(r.decoding, []).append(i)
        for decoding, idx in groups.items():
            batch = [requests[i] for i in idx]
            images = self._images([p for r in batch for p in r.images])
            texts = [self.prompt_text(r.prompt, len(r.images), r.system) for r in batch]
            enc = self._encode(texts, images)
            if decoding.seed is not None:
                torch.manual_seed(decoding.seed)
            with torch.inference_mode():
                out = self.model.generate(**enc, **self._generation_kwargs(decoding))
            new = out[:, enc["input_ids"].shape[1]:]
            for i, row in zip(idx, new, strict=True):
                answers[i] = self.tokenizer.decode(row, skip_special_tokens=True).strip()
        return answers

    def _generation_kwargs(self, d: Decoding) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "max_new_tokens": d.max_new_tokens, "min_new_tokens": d.min_new_tokens,
            "do_sample": d.do_sample, "num_beams": d.num_beams,
            "pad_token_id": self.tokenizer.pad_token_id,
        }
        if d.do_sample:
            kwargs.update(temperature=d.temperature, top_p=d.top_p)
        else:  # checkpoints' generation_config may carry sampling defaults: greedy means greedy
            kwargs.update(temperature=None, top_p=None, top_k=None)
        if self.blocked:
            kwargs["suppress_tokens"] = self.blocked
        return kwargs

    # encode_images
    def encode_images(self, images: Sequence[Path]) -> Any:
        """Mean over each image's tokens after the multimodal projector: f(I) = P_mm(E(I))."""
        import numpy as np
        import torch

        pil = self._images(images)
        inputs = self.processor.image_processor(pil, return_tensors="pt")
        kwargs = {k: inputs[k].to(self.model.device) for k in
                  ("pixel_values", "image_sizes", "image_grid_thw") if k in inputs}
        if "pixel_values" in kwargs:
            kwargs["pixel_values"] = kwargs["pixel_values"].to(self.model.dtype)
        with torch.inference_mode():
            out = self.model.get_image_features(**kwargs)
        feats = getattr(out, "pooler_output", out)
        pooled = pool_per_image(feats, len(pil), inputs.get("num_patches"))
        return np.ascontiguousarray(pooled.float().cpu().numpy(), dtype=np.float32)

    # score_choices
    def score_choices(self, request: Request, choices: Sequence[str]) -> list[float]:
        """log p(choice | image, prompt): the prompt is run once, the choices as one batch."""
        import torch

        if not choices:
            return []
        text = self.prompt_text(request.prompt, len(request.images), request.system)
        enc = self._encode([text], self._images(request.images))
        ids = [self.answer_ids(text, c) for c in choices]
        with torch.inference_mode():
            prefix = self.model(**enc, use_cache=True)
            first = torch.log_softmax(self._masked(prefix.logits[:, -1].float()), dim=-1)[0]
            k, longest = len(ids), max(len(a) for a in ids)
            pad = self.tokenizer.pad_token_id
            cont = torch.full((k, longest), pad, dtype=torch.long)
            cmask = torch.zeros((k, longest), dtype=torch.long)
            for row, a in enumerate(ids):
                cont[row, :len(a)] = torch.tensor(a)
                cmask[row, :len(a)] = 1
            cont, cmask = cont.to(self.model.device), cmask.to(self.model.device)
            totals = first[cont[:, 0]]
            if longest > 1:
                cache = prefix.past_key_values
                cache.batch_repeat_interleave(k)
                mask = torch.cat([enc["attention_mask"].repeat(k, 1), cmask], dim=1)
                step = self.model(input_ids=cont[:, :-1], attention_mask=mask[:, :-1],
                                  cache=cache, use_cache=True,
                                  **self._continuation_kwargs(enc, k, longest - 1))
                logp = torch.log_softmax(self._masked(step.logits.float()), dim=-1)
                picked = logp.gather(-1, cont[:, 1:, None])[..., 0] * cmask[:, 1:]
                totals = totals + picked.sum(dim=1)
        lengths = torch.tensor([len(a) for a in ids], dtype=torch.float32)
        scores = totals.cpu()
        if self.opts.score == "mean":
            scores = scores / lengths
        return [float(s) for s in scores]

    def _continuation_kwargs(self, enc: Any, k: int, length: int) -> dict[str, Any]:
        """Position ids for models with multimodal rotary positions (Qwen2.5-VL's mrope).

        Their text positions after the image are shifted by ``rope_deltas`` from the
        prefill; the model cannot infer them from a mask longer than the new tokens.
        """
        import torch

        deltas = getattr(getattr(self.model, "model", None), "rope_deltas", None)
        if deltas is None:
            return {}
        start = enc["input_ids"].shape[1]
        pos = torch.arange(start, start + length, device=self.model.device)
        pos = pos.view(1, 1, -1).expand(3, k, -1) + deltas.reshape(-1)[0]
        return {"position_ids": pos}

    def _masked(self, logits: Any) -> Any:
        if self.blocked:
            logits[..., self.blocked] = float("-inf")
        return logits

    def answer_ids(self, prompt_text: str, answer: str) -> list[int]:
        """The answer's token ids as they follow the prompt in the full text."""
        tok = self.tokenizer
        full_text = prompt_text + self.family.answer_prefix + answer
        prompt_ids = tok(prompt_text, add_special_tokens=False).input_ids
        full = tok(full_text, add_special_tokens=False).input_ids
        if full[:len(prompt_ids)] == prompt_ids and len(full) > len(prompt_ids):
            return full[len(prompt_ids):]
        # A merge across the boundary: tokenize the answer on its own.
        ids = tok(self.family.answer_prefix + answer, add_special_tokens=False).input_ids
        if not ids:
            raise UsageError(f"model '{self.name}': the choice {answer!r} has no tokens")
        return ids

    def close(self) -> None:
        import gc

        import torch

        self.model = None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def pool_per_image(feats: Any, n_images: int, num_patches: Any = None) -> Any:
    """One mean vector per image from whatever ``get_image_features`` returned.

    LLaVA: a tensor [n, tokens, d]; LLaVA-NeXT and Qwen2.5-VL: one [tokens_i, d] per
    image; InternVL: [tiles, tokens, d] where image i owns ``num_patches[i]`` tiles.
    """
    import torch

    if isinstance(feats, list | tuple):
        if len(feats) != n_images:
            raise HarnessError(f"expected features for {n_images} images, got {len(feats)}")
        return torch.stack([f.reshape(-1, f.shape[-1]).mean(0) for f in feats])
    if num_patches is not None:
        counts = [int(c) for c in num_patches]
        parts = torch.split(feats, counts)
        return torch.stack([p.reshape(-1, p.shape[-1]).mean(0) for p in parts])
    if feats.dim() == 3 and feats.shape[0] == n_images:
        return feats.mean(1)
    if feats.dim() == 2 and n_images == 1:
        return feats.mean(0, keepdim=True)
    raise HarnessError(f"cannot pool image features of shape {tuple(feats.shape)}")


def set_threads_from_env() -> None:
    """Respect OMP_NUM_THREADS when set; torch otherwise takes every core."""
    import torch

    threads = os.environ.get("OMP_NUM_THREADS")
    if threads and threads.isdigit() and int(threads) > 0:
        torch.set_num_threads(int(threads))


# -- templates and factories -----------------------------------------------------------------


def content(image: str, text_filter: str = "") -> str:
    """Jinja that renders one message's content (a string, or a list of image/text parts)."""
    return (
        "{% if message['content'] is string %}{{ message['content']" + text_filter
        + " }}{% else %}{% for c in message['content'] %}{% if c['type'] == 'image' %}" + image
        + "{% elif c['type'] == 'text' %}{{ c['text']" + text_filter
        + " }}{% endif %}{% endfor %}{% endif %}"
    )


Prepare = Callable[[str, Path, LoadOptions], tuple[Path, dict[str, Any], Sequence[int]]]


def build(name: str, family: Family, default_checkpoint: str, kw: dict[str, Any],
          allowed: Sequence[str] = STANDARD_OPTIONS, prepare: Prepare | None = None,
          model_class: type[HFVisionLanguageModel] = HFVisionLanguageModel
          ) -> HFVisionLanguageModel:
    """The runner's ``factory(model_path=, device=, seed=, **options)`` for one family."""
    model_path = kw.pop("model_path", None)
    device = kw.pop("device", None) or "auto"
    kw.pop("seed", None)  # decoding carries the seed of each request
    opts = parse_options(name, kw, allowed)
    set_threads_from_env()
    dev = resolve_device(name, device)
    dtype = resolve_dtype(name, opts.dtype, dev)
    source = str(model_path or default_checkpoint)
    folder = resolve_checkpoint(name, source, opts.revision)
    provenance: dict[str, Any] = {}
    blocked: Sequence[int] = ()
    if prepare is not None:
        folder, provenance, blocked = prepare(name, folder, opts)
    check_weight_format(name, folder, opts.allow_pickle)
    model = load_model_checked(name, folder, opts, dev, dtype, family.architectures)
    processor = load_processor(folder, opts.trust_remote_code)
    return model_class(name, family, model, processor, source, folder, opts, dev,
                       provenance, blocked)


def converted_llava(name: str, folder: Path, opts: LoadOptions
                    ) -> tuple[Path, dict[str, Any], Sequence[int]]:
    """``prepare`` for families published in the original LLaVA format: convert once, cached."""
    from plugins.llava_convert import ensure_converted, provenance

    folder, record = ensure_converted(name, folder, opts.vision_tower, opts.allow_pickle)
    return folder, provenance(record), record.get("added_token_ids", [])

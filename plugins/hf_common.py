"""The model class every local Hugging Face vision-language family shares.

One class implements the harness's model contract on top of a transformers
``*ForConditionalGeneration``: batched left-padded generation, pooled image
features after the projector, and candidate log-likelihoods; plus the family
description and the factory helpers. Loading lives in ``plugins/hf_loading.py``.

Nothing here imports torch or transformers at module import time.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import HarnessError, UsageError
from harness.model import Model
from harness.plugins.hf_loading import (
    ConvertedOptions,
    LoadOptions,
    check_weight_format,
    checkpoint_key,
    expand_to_square,
    load_model_checked,
    load_processor,
    mean_colour,
    resolve_checkpoint,
    resolve_device,
    resolve_dtype,
    sha256_text,
)
from harness.specs import LoadContext, ModelSpec
from harness.types import Decoding, Request

CAPABILITIES = frozenset({"generate", "encode_images", "score_choices"})

# -- the model -----------------------------------------------------------------------------


@dataclass
class Family:
    """How one family talks: chat template, image handling, how an answer follows the prompt."""

    name: str
    architectures: tuple[str, ...]
    chat_template: str | None = None  # the authors' template; None: the checkpoint's own
    system: str | None = None  # the authors' default system message, if any
    answer_prefix: str = ""  # text between the generation prompt and a scored answer
    pad_to_square: bool = False  # the family's own image handling; a protocol may override it


class HFVisionLanguageModel(Model):
    """A transformers image-text-to-text model behind the harness's model contract."""

    capabilities = CAPABILITIES

    def __init__(self, name: str, family: Family, model: Any, processor: Any,
                 checkpoint: str, folder: Path, opts: LoadOptions, device: str,
                 provenance: dict[str, Any] | None = None,
                 blocked_token_ids: Sequence[int] = (), weights_key: str | None = None,
                 square: str | None = None) -> None:
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
        if square is not None:  # the protocol's setting image.<family>, or -M square=
            self.pad_to_square = square == "pad"
        # transformers' LlavaImageProcessor pads to a square itself (``do_pad``, on by default
        # since transformers 5). Padding is the harness's decision (``pad_to_square``, done in
        # ``_images``), so the processor's own is turned off: "crop" then means resize and
        # centre crop, as MM-Skin's process_images does (mm_utils.py:177).
        image_processor = getattr(processor, "image_processor", None)
        if type(image_processor).__name__ in ("LlavaImageProcessor", "LlavaImageProcessorPil"):
            image_processor.do_pad = False
        # The content key of what runs (for a converted checkpoint: the conversion's key),
        # the same key the runner folds into every request fingerprint.
        self._weights_hash = weights_key or checkpoint_key(folder)

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
            if self.pad_to_square else "the processor (resize, centre crop where it crops)",
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
        # The same arguments run.json records (Decoding.generate_kwargs), plus padding.
        kwargs: dict[str, Any] = {**d.generate_kwargs(),
                                  "pad_token_id": self.tokenizer.pad_token_id}
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


Prepare = Callable[[str, Path, Any], tuple[Path, dict[str, Any], Sequence[int]]]
KeyFn = Callable[[Path, Any], str]


def native_key(folder: Path, opts: LoadOptions) -> str:
    return checkpoint_key(folder)


def build(spec: ModelSpec, context: LoadContext, opts: LoadOptions, family: Family,
          prepare: Prepare | None = None, key: KeyFn = native_key, source: str | None = None,
          model_class: type[HFVisionLanguageModel] = HFVisionLanguageModel
          ) -> HFVisionLanguageModel:
    """A family's model, as its factory ``(spec, context, options)`` builds it.

    ``source`` is the checkpoint to load (default: ``--model-path``, else the spec's).
    """
    name = spec.name
    square = image_square(name, family, context.protocol, opts.square)
    set_threads_from_env()
    dev = resolve_device(name, context.device or "auto")
    dtype = resolve_dtype(name, opts.dtype, dev)
    source = str(source or context.model_path or spec.checkpoint or "")
    if not source:
        raise UsageError(f"model '{name}' needs --model-path DIR")
    folder = resolve_checkpoint(name, source, opts.revision, context.allow_download)
    weights_key = key(folder, opts)
    provenance: dict[str, Any] = {}
    blocked: Sequence[int] = ()
    if prepare is not None:
        folder, provenance, blocked = prepare(name, folder, opts)
    check_weight_format(name, folder, opts.allow_pickle)
    model = load_model_checked(name, folder, opts, dev, dtype, family.architectures)
    processor = load_processor(folder, opts.trust_remote_code)
    built = model_class(name, family, model, processor, source, folder, opts, dev,
                        provenance, blocked, weights_key, square)
    if provenance.get("converted_from"):
        from harness.plugins.llava_tokens import check_prompt_ids

        check_prompt_ids(built, folder)
    return built


def family_factory(family: Family, prepare: Prepare | None = None, key: KeyFn = native_key
                   ) -> Callable[[ModelSpec, LoadContext, LoadOptions], HFVisionLanguageModel]:
    """The ``ModelSpec.factory`` of a family: its spec names the checkpoint."""

    def factory(spec: ModelSpec, context: LoadContext, opts: LoadOptions
                ) -> HFVisionLanguageModel:
        return build(spec, context, opts, family, prepare=prepare, key=key)

    return factory


def spec_weights_key(key: KeyFn = native_key
                     ) -> Callable[[ModelSpec, LoadContext, LoadOptions], str | None]:
    """``ModelSpec.weights_key``: the content key of the weights a run would load, without
    loading them (weight files hashed once, then remembered by path, size and times)."""

    def weights_key(spec: ModelSpec, context: LoadContext, opts: LoadOptions) -> str | None:
        source = context.model_path or spec.checkpoint
        if not source:
            return None  # the factory says what is missing
        folder = resolve_checkpoint(spec.name, str(source), opts.revision,
                                    context.allow_download)
        return key(folder, opts)

    return weights_key


def converted_llava(family: str) -> Prepare:
    """``prepare`` for families published in the original LLaVA format: convert once, cached."""

    def prepare(name: str, folder: Path, opts: ConvertedOptions
                ) -> tuple[Path, dict[str, Any], Sequence[int]]:
        from harness.plugins.llava_convert import ensure_converted, provenance

        folder, record = ensure_converted(name, folder, opts.vision_tower, opts.allow_pickle,
                                          family)
        return folder, provenance(record), record.get("added_token_ids", [])

    return prepare


def converted_key(family: str) -> KeyFn:
    """The content key for a converted family: the conversion's own key."""

    def key(folder: Path, opts: ConvertedOptions) -> str:
        from harness.plugins.llava_convert import weights_key

        return weights_key(folder, family, opts.vision_tower)

    return key


def image_square(name: str, family: Family, protocol: str, option: Any = None) -> str | None:
    """``pad`` or ``crop`` for images that are not square: ``-M square=``, else the protocol's
    setting ``image.<family>``; None where neither says (the family's own handling)."""
    if option is not None:  # validated by LoadOptions
        return str(option)
    from harness.protocol import BY_KEY, check

    setting = BY_KEY.get(f"image.{family.name}")
    return None if setting is None else setting.value(check(protocol, f"model '{name}'"))

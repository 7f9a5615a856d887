"""Build one oracle fixture with a family's ORIGINAL code (run inside its pinned venv).

Run by ``tests/oracle/make_fixtures.py``, never by the harness or its tests: it imports
the upstream ``llava`` package from ``--src`` (a checkout of microsoft/LLaVA-Med,
ZwQ803/MM-Skin or FreedomIntelligence/HuatuoGPT-Vision) and that code's pinned
transformers. It

1. builds a tiny random model with the upstream class (``LlavaMistralForCausalLM`` or
   ``LlavaQwen2ForCausalLM``) and a tiny CLIP tower, and saves them as the upstream
   code saves checkpoints (``save_pretrained`` of the model with its tower loaded, the
   tokenizer's ``save_pretrained``; the Mistral families with a slow SentencePiece
   tokenizer, the real Mistral ``tokenizer.model``);
2. loads the checkpoint back through the family's own loading code
   (``load_pretrained_model`` of LLaVA-Med / MM-Skin, ``HuatuoChatbot`` of HuatuoGPT-Vision);
3. for every prompt and image: builds the prompt with the family's conversation code,
   tokenizes it with ``tokenizer_image_token``, preprocesses the image with the family's
   code, runs the forward pass and a 10-token greedy generation;
4. writes ``expected.json`` (ids, tokens, provenance) and ``expected.npz`` (logit slices).

The models are loaded in the family's dtype (fp16/bf16, as its loader does) and then
cast to fp32, so the reference is exact on the CPU; the weights are stored in that
dtype, so the cast loses nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
from pathlib import Path

import numpy as np
import torch

PROMPTS = [
    "What is the diagnosis?",
    "Describe the lesion's colour [red/brown], size (3 mm) and border.",
]
IMAGES = ("wide.png", "tall.png", "square.png")
NEW_TOKENS = 10
LOGIT_POSITIONS = 4  # the last positions of the prompt
LOGIT_VOCAB = 512  # a fixed random subset of the vocabulary (plus every greedy token)
TOWER = dict(hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
             image_size=32, patch_size=8, projection_dim=16)


def save_tower(folder: Path, seed: int, safetensors: bool = True) -> None:
    """A tiny CLIP tower as the Hub publishes towers: config, preprocessor and weights."""
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

    torch.manual_seed(seed)
    model = CLIPVisionModel(CLIPVisionConfig(**TOWER)).eval()
    # fp16 values: LLaVA-Med's builder runs the tower in fp16 (builder.py:73), so only
    # weights that fp16 holds exactly make its fp32 reference the same model.
    model.half().save_pretrained(folder, safe_serialization=safetensors)
    size = TOWER["image_size"]
    CLIPImageProcessor(size={"shortest_edge": size},
                       crop_size={"height": size, "width": size}).save_pretrained(folder)


def to_fp32(model: torch.nn.Module) -> torch.nn.Module:
    """The loaded upstream model computed in fp32: weights cast back (they are stored in the
    family's dtype, so nothing is lost) and the rotary tables rebuilt in fp32.

    The loaders cast the whole model to fp16/bf16, the rotary ``inv_freq`` and cos/sin
    caches included (LLaVA-Med ``builder.py:75``, HuatuoGPT-Vision ``cli.py:42``); casting
    back would keep their rounding, which is a property of running in half precision, not
    of the model.
    """
    model = model.float().eval()
    for module in model.modules():
        if hasattr(module, "inv_freq") and hasattr(module, "_set_cos_sin_cache"):
            module.inv_freq = 1.0 / (module.base ** (
                torch.arange(0, module.dim, 2, dtype=torch.int64).float() / module.dim))
            module._set_cos_sin_cache(module.max_seq_len_cached, module.inv_freq.device,
                                      torch.float32)
    return model


def perturb(module: torch.nn.Module, seed: int) -> None:
    """Make the checkpoint's copy of the tower differ from the tower folder's."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.5)


# -- the Mistral families (LLaVA-Med, SkinVL) ------------------------------------------------

def mistral_config(cls: type, tower: str) -> object:
    return cls(
        vocab_size=32000, hidden_size=8, intermediate_size=16, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=2048,
        initializer_range=0.5, rms_norm_eps=1e-5, sliding_window=4096, tie_word_embeddings=False,
        bos_token_id=1, eos_token_id=2, torch_dtype="float16", use_cache=True,
        mm_vision_tower=tower, mm_hidden_size=TOWER["hidden_size"],
        mm_projector_type="mlp2x_gelu", mm_vision_select_layer=-2,
        mm_vision_select_feature="patch", mm_patch_merge_type="flat",
        mm_use_im_start_end=False, mm_use_im_patch_token=False, image_aspect_ratio="pad",
        tokenizer_padding_side="right", tokenizer_model_max_length=2048, use_mm_proj=True,
        tune_mm_mlp_adapter=False, freeze_mm_mlp_adapter=False,
        architectures=["LlavaMistralForCausalLM"],
    )


def build_mistral(out: Path, sp_model: Path, family: str) -> tuple:
    from llava.model.builder import load_pretrained_model
    from llava.model.language_model.llava_mistral import (
        LlavaMistralConfig,
        LlavaMistralForCausalLM,
    )
    from transformers import LlamaTokenizer

    os.chdir(out)  # mm_vision_tower "tower" exists from here, as the builders require
    save_tower(out / "tower", seed=1)
    torch.manual_seed(2)
    model = LlavaMistralForCausalLM(mistral_config(LlavaMistralConfig, "tower")).eval()
    tower = model.get_model().get_vision_tower()
    tower.load_model()  # as after training: the tower is part of the saved model
    perturb(tower, seed=3)
    model.half().save_pretrained(out / "checkpoint", safe_serialization=True)
    # The training and merge scripts load the tokenizer slow (use_fast=False) and save it.
    LlamaTokenizer(vocab_file=str(sp_model)).save_pretrained(out / "checkpoint")
    name = "llava-med-v1.5-mistral-7b" if family == "llava-med" else "LlavaMistralForCausalLM"
    if family == "llava-med":
        # LLaVA-Med's builder passes device_map={"": "cpu"} with low_cpu_mem_usage=False
        # off CUDA (llava/model/builder.py:11-12,31-36), which transformers 4.36 refuses;
        # placing everything on the CPU is what loading does anyway, so drop that one key.
        plain = LlavaMistralForCausalLM.from_pretrained.__func__

        def from_pretrained(cls: type, *a: object, **kw: object) -> object:
            if kw.get("device_map") == {"": "cpu"}:
                kw.pop("device_map")
            return plain(cls, *a, **kw)

        LlavaMistralForCausalLM.from_pretrained = classmethod(from_pretrained)
    tokenizer, model, image_processor, _ = load_pretrained_model(
        "checkpoint", None, name, device="cpu")
    return tokenizer, to_fp32(model), image_processor


def mistral_inputs(tokenizer: object, model: object, image_processor: object, question: str,
                   image: object) -> tuple:
    from llava.constants import DEFAULT_IMAGE_TOKEN, IMAGE_TOKEN_INDEX
    from llava.conversation import conv_templates
    from llava.mm_utils import process_images, tokenizer_image_token

    conv = conv_templates["mistral_instruct"].copy()  # the conv mode of both families' eval
    conv.append_message(conv.roles[0], DEFAULT_IMAGE_TOKEN + "\n" + question)
    conv.append_message(conv.roles[1], None)
    prompt = conv.get_prompt()
    ids = tokenizer_image_token(prompt, tokenizer, IMAGE_TOKEN_INDEX, return_tensors="pt")
    pixels = process_images([image], image_processor, model.config)
    return prompt, ids, pixels


# -- HuatuoGPT-Vision (Qwen2) ----------------------------------------------------------------

def train_qwen_tokenizer(folder: Path) -> None:
    """A small byte-level BPE with Qwen2's pre-tokenizer, saved as Qwen2's tokenizer files."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import Qwen2TokenizerFast

    pattern = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+"
               r"[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")  # Qwen2's (transformers' Qwen2Converter)
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    bpe.decoder = decoders.ByteLevel()
    special = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    words = ["What is the diagnosis of this skin lesion image? Describe its colour, size and",
             "border: red brown pale scaly raised flat crusted plaque nodule macule papule",
             "<|user|> <|assistant|> The lesion is 3 mm [red/brown] (left arm).",
             "melanoma nevus psoriasis eczema basal cell carcinoma keratosis"]
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=special, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator(words * 20, trainer=trainer)
    tok = Qwen2TokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>",
                             pad_token="<|endoftext|>", unk_token=None, bos_token=None,
                             errors="replace", model_max_length=4096)
    tok.save_pretrained(folder)


def build_huatuo(out: Path) -> tuple:
    import cli as huatuo_cli  # FreedomIntelligence/HuatuoGPT-Vision/cli.py
    from llava.model.language_model.llava_qwen2 import LlavaQwen2ForCausalLM, LlavaQwenConfig
    from transformers import AutoTokenizer

    # The folder name is how cli.py picks the 7B (Qwen2) branch.
    ckpt = out / "huatuogpt-vision-7b"
    train_qwen_tokenizer(ckpt)
    vocab = len(AutoTokenizer.from_pretrained(ckpt))
    tower_rel = "./vit/clip_vit_tiny"  # relative, as the published 7B names its tower
    save_tower(ckpt / "vit" / "clip_vit_tiny", seed=1, safetensors=False)  # a pickle, as there
    config = LlavaQwenConfig(
        vocab_size=(vocab + 63) // 64 * 64, hidden_size=16, intermediate_size=32,
        num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
        max_position_embeddings=4096, initializer_range=0.5, rms_norm_eps=1e-6,
        rope_theta=1000000.0, sliding_window=4096, use_sliding_window=False,
        max_window_layers=2, tie_word_embeddings=False, bos_token_id=0, eos_token_id=0,
        torch_dtype="bfloat16", use_cache=False, mm_vision_tower=tower_rel,
        mm_hidden_size=TOWER["hidden_size"], mm_projector_type="mlp2x_gelu",
        mm_vision_select_layer=-2, mm_vision_select_feature="patch", image_aspect_ratio="pad",
        tokenizer_padding_side="right", tokenizer_model_max_length=4096, use_mm_proj=True,
        tune_mm_mlp_adapter=False, architectures=["LlavaQwen2ForCausalLM"],
        name_or_path=str(ckpt),  # where cli.py's builder resolves the relative tower
    )
    torch.manual_seed(2)
    model = LlavaQwen2ForCausalLM(config, init_vision_encoder_from_ckpt=True).eval()
    perturb(model.get_model().get_vision_tower(), seed=3)
    model.config._name_or_path = "HuatuoGPT-Vision-7B"  # as the published config says
    model.to(torch.bfloat16).save_pretrained(ckpt, safe_serialization=True)
    bot = huatuo_cli.HuatuoChatbot(str(ckpt), device="cpu")
    bot.model = to_fp32(bot.model)
    return bot


def huatuo_inputs(bot: object, question: str, image: object) -> tuple:
    text = bot.insert_image_placeholder(bot.input_moderation(question), 1)
    ids = bot.preprocess(bot.get_conv_without_history(text), return_tensors="pt")
    pixels = torch.stack(bot.get_image_tensors([image])).float()
    h = text.strip()
    return f"<|user|>\n{h}\n<|assistant|>\n", ids, pixels


# -- the run ---------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--family", choices=("llava-med", "skinvl", "huatuo"), required=True)
    ap.add_argument("--src", type=Path, required=True, help="the upstream checkout")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--sp-model", type=Path, help="Mistral's tokenizer.model")
    ap.add_argument("--images", type=Path, required=True)
    args = ap.parse_args()
    sys.path.insert(0, str(args.src.resolve()))
    out = args.out.resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    torch.set_num_threads(1)
    from PIL import Image

    if args.family == "huatuo":
        bot = build_huatuo(out)
        tokenizer, model = bot.tokenizer, bot.model
        inputs = lambda q, im: huatuo_inputs(bot, q, im)  # noqa: E731
    else:
        tokenizer, model, image_processor = build_mistral(out, args.sp_model, args.family)
        inputs = lambda q, im: mistral_inputs(tokenizer, model, image_processor, q, im)  # noqa: E731
        # LLaVA-Med's expand2square pastes at a random offset in {d//2, d//2 + 1}
        # (llava/mm_utils.py:20-28); the reference pins the lower one, which is what
        # MM-Skin's, HuatuoGPT-Vision's and the harness's padding always use.
        import llava.mm_utils as mm_utils
        if hasattr(mm_utils, "random"):
            mm_utils.random = random.Random()
            mm_utils.random.randint = lambda a, b: a
    vocab = model.get_output_embeddings().weight.shape[0]
    subset = np.sort(np.random.default_rng(0).choice(vocab, min(vocab, LOGIT_VOCAB), replace=False))
    cases, arrays = [], {}
    for image_name in IMAGES:
        image = Image.open(args.images / image_name).convert("RGB")
        for p, question in enumerate(PROMPTS):
            prompt, ids, pixels = inputs(question, image)
            with torch.inference_mode():
                logits = model(input_ids=ids[None], images=pixels.float()).logits[0]
                out_ids = model.generate(ids[None], images=pixels.float(), do_sample=False,
                                         num_beams=1, max_new_tokens=NEW_TOKENS,
                                         min_new_tokens=NEW_TOKENS, use_cache=True)
            greedy = out_ids[0, -NEW_TOKENS:].tolist()
            tail = logits[-LOGIT_POSITIONS:].float()
            top2 = torch.topk(logits[-1], 2).values
            key = f"{Path(image_name).stem}-{p}"
            arrays[key] = tail[:, torch.as_tensor(subset)].numpy().astype(np.float32)
            cases.append({
                "key": key, "image": image_name, "question": question, "prompt": prompt,
                "input_ids": ids.tolist(), "n_positions": int(logits.shape[0]),
                "greedy_ids": greedy, "last_margin": float(top2[0] - top2[1]),
            })
    arrays["vocab_subset"] = subset.astype(np.int64)
    np.savez_compressed(out / "expected.npz", **arrays)
    import transformers

    record = {
        "family": args.family, "transformers": transformers.__version__,
        "torch": torch.__version__, "image_token_index": -200, "new_tokens": NEW_TOKENS,
        "logit_positions": LOGIT_POSITIONS, "cases": cases,
    }
    (out / "expected.json").write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()

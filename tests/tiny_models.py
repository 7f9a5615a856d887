"""Tiny random-weight checkpoints of every local model family, built offline.

Each ``build_*`` function trains a small byte-level BPE tokenizer, builds the
transformers model from a seeded config, and writes a complete checkpoint
(weights, config, tokenizer, processor, chat template) with ``save_pretrained``;
it returns the folder. Nothing is downloaded and nothing is committed: tests
call these under ``tmp_path_factory``. ``build_original_llava`` writes the
original LLaVA code's checkpoint format (``LlavaMistralForCausalLM`` /
``LlavaQwen2ForCausalLM`` key names and config fields) for the converter.

Image-token arithmetic: 32x32 images, patch 8 -> 16 tokens (LLaVA); Qwen2.5-VL
with patch 8 and merge 2 over 32x32 -> 4 tokens; InternVL 32/8 with downsample
0.5 -> 4 tokens per tile.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

IMAGE = 32
PATCH = 8
HIDDEN = 64
VISION_HIDDEN = 32

LINES = [
    f"{a} {b} lesion on the {c} with {d} border"
    for a in ("a red", "a brown", "a pale", "a dark", "an itchy")
    for b in ("scaly", "raised", "flat", "crusted")
    for c in ("arm", "face", "back", "leg")
    for d in ("irregular", "regular", "blurred")
] + [
    "melanoma nevus psoriasis eczema basal cell carcinoma seborrheic keratosis",
    "This is a skin lesion image. From the following categories, which one is the diagnosis?",
    "What is the diagnosis? Describe the image. What colour is the lesion?",
    "USER: ASSISTANT: [INST] [/INST] <|user|> <|assistant|> system user assistant",
]

# The authors' prompt formats, as content-list chat templates.
MISTRAL_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}[INST] "
    "{% for c in message['content'] %}{% if c['type'] == 'image' %}<image>\n"
    "{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %} [/INST]"
    "{% elif message['role'] == 'assistant' %}{% for c in message['content'] %}"
    "{{ ' ' + c['text'] }}{% endfor %}{{ eos_token }}{% endif %}{% endfor %}"
)
VICUNA_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'system' %}"
    "{{ message['content'][0]['text'] + ' ' }}{% elif message['role'] == 'user' %}USER: "
    "{% for c in message['content'] %}{% if c['type'] == 'image' %}<image>\n"
    "{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %} "
    "{% else %}ASSISTANT: {% for c in message['content'] %}{{ c['text'] }}{% endfor %}"
    "{{ eos_token }}{% endif %}{% endfor %}{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)
QWEN_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% for c in message['content'] %}{% if c['type'] == 'image' %}"
    "<|vision_start|><|image_pad|><|vision_end|>{% elif c['type'] == 'text' %}{{ c['text'] }}"
    "{% endif %}{% endfor %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
INTERNVL_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% for c in message['content'] %}{% if c['type'] == 'image' %}<IMG_CONTEXT>\n"
    "{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _torch_single_thread() -> None:
    import torch

    torch.set_num_threads(1)


def train_tokenizer(style: str, extra: dict[str, str] | None = None,
                    image_token: str | None = "<image>", vocab: int = 360) -> Any:
    """A byte-level BPE tokenizer; ``style`` 'llama' (``<s>`` BOS) or 'chatml' (no BOS)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    extra = dict(extra or {})
    if image_token:
        extra.setdefault("image_token", image_token)
    if style == "llama":
        special = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
                   "pad_token": "<pad>"}
    else:
        special = {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"}
    names = list(special.values()) + ["<|im_start|>"] + list(dict.fromkeys(extra.values()))
    bpe = Tokenizer(models.BPE(unk_token=special.get("unk_token")))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab, special_tokens=names, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    bpe.train_from_iterator(LINES, trainer=trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=bpe, **special, add_bos_token=style == "llama",
        extra_special_tokens=extra or None, padding_side="left", model_max_length=1024,
    )
    return tok


def _save(folder: Path, model: Any, processor: Any, tok: Any) -> Path:
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def _text_config(kind: str, tok: Any, **over: Any) -> Any:
    from transformers import LlamaConfig, MistralConfig, Qwen2Config

    cls = {"mistral": MistralConfig, "llama": LlamaConfig, "qwen2": Qwen2Config}[kind]
    fields: dict[str, Any] = dict(
        vocab_size=len(tok), hidden_size=HIDDEN, intermediate_size=2 * HIDDEN,
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        max_position_embeddings=1024, bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, tie_word_embeddings=False,
    )
    fields.update(over)
    return cls(**fields)


def clip_vision_config() -> Any:
    from transformers import CLIPVisionConfig

    return CLIPVisionConfig(
        hidden_size=VISION_HIDDEN, intermediate_size=2 * VISION_HIDDEN, num_hidden_layers=2,
        num_attention_heads=2, image_size=IMAGE, patch_size=PATCH, projection_dim=VISION_HIDDEN,
    )


def _llava_model(text: str, tok: Any, seed: int) -> Any:
    import torch
    from transformers import LlavaConfig, LlavaForConditionalGeneration

    config = LlavaConfig(
        vision_config=clip_vision_config(), text_config=_text_config(text, tok),
        image_token_index=tok.convert_tokens_to_ids("<image>"),
        image_seq_length=(IMAGE // PATCH) ** 2, vision_feature_select_strategy="default",
        vision_feature_layer=-2, pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(seed)
    return LlavaForConditionalGeneration(config).eval()


def _llava_processor(tok: Any, template: str, image_processor: Any = None) -> Any:
    from transformers import CLIPImageProcessor, LlavaProcessor

    image_processor = image_processor or CLIPImageProcessor(
        size={"shortest_edge": IMAGE}, crop_size={"height": IMAGE, "width": IMAGE})
    return LlavaProcessor(
        image_processor=image_processor, tokenizer=tok, patch_size=PATCH,
        vision_feature_select_strategy="default", chat_template=template,
        num_additional_image_tokens=1,
    )


def build_llava(folder: Path, text: str = "mistral", seed: int = 0) -> Path:
    """A native ``LlavaForConditionalGeneration`` (LLaVA-Med layout: Mistral + CLIP)."""
    _torch_single_thread()
    tok = train_tokenizer("chatml" if text == "qwen2" else "llama")
    template = MISTRAL_TEMPLATE if text != "qwen2" else QWEN_TEMPLATE
    return _save(folder, _llava_model(text, tok, seed), _llava_processor(tok, template), tok)


def build_llava_next(folder: Path, seed: int = 0) -> Path:
    """A ``LlavaNextForConditionalGeneration`` like llava-v1.6-vicuna (Llama text, anyres)."""
    import torch
    from transformers import (
        LlavaNextConfig,
        LlavaNextForConditionalGeneration,
        LlavaNextImageProcessor,
        LlavaNextProcessor,
    )

    _torch_single_thread()
    tok = train_tokenizer("llama")
    grid = [[IMAGE, IMAGE], [IMAGE, 2 * IMAGE], [2 * IMAGE, IMAGE], [2 * IMAGE, 2 * IMAGE]]
    config = LlavaNextConfig(
        vision_config=clip_vision_config(), text_config=_text_config("llama", tok),
        image_token_index=tok.image_token_id, image_grid_pinpoints=grid,
        vision_feature_select_strategy="default", vision_feature_layer=-2,
        image_seq_length=(IMAGE // PATCH) ** 2, pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlavaNextForConditionalGeneration(config).eval()
    image_processor = LlavaNextImageProcessor(
        size={"shortest_edge": IMAGE}, crop_size={"height": IMAGE, "width": IMAGE},
        image_grid_pinpoints=grid,
    )
    processor = LlavaNextProcessor(
        image_processor=image_processor, tokenizer=tok, patch_size=PATCH,
        vision_feature_select_strategy="default", chat_template=VICUNA_TEMPLATE,
        num_additional_image_tokens=1,
    )
    return _save(folder, model, processor, tok)


def _fix_processor_config(folder: Path, processor_class: str, video: dict[str, Any],
                          **fields: Any) -> None:
    """Name the canonical processor and add its video half, so that plain ``AutoProcessor``
    loads the checkpoint wherever torchvision is installed."""
    path = folder / "processor_config.json"
    config = json.loads(path.read_text()) if path.is_file() else {}
    config["processor_class"] = processor_class
    config.setdefault("video_processor", video)
    config.update(fields)
    path.write_text(json.dumps(config, indent=2))


def build_qwen2_5_vl(folder: Path, seed: int = 0) -> Path:
    """A ``Qwen2_5_VLForConditionalGeneration`` with ChatML and the vision special tokens."""
    import torch
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2VLImageProcessor,
    )

    from harness.plugins.hf_loading import _image_only_processor

    _torch_single_thread()
    tok = train_tokenizer("chatml", {
        "image_token": "<|image_pad|>", "video_token": "<|video_pad|>",
        "vision_bos_token": "<|vision_start|>", "vision_eos_token": "<|vision_end|>",
    }, image_token=None)
    ids = {k: tok.convert_tokens_to_ids(v) for k, v in (
        ("image", "<|image_pad|>"), ("video", "<|video_pad|>"), ("start", "<|vision_start|>"),
        ("end", "<|vision_end|>"))}
    text = dict(
        vocab_size=len(tok), hidden_size=HIDDEN, intermediate_size=2 * HIDDEN,
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        max_position_embeddings=1024, eos_token_id=tok.eos_token_id, bos_token_id=None,
        pad_token_id=tok.pad_token_id, tie_word_embeddings=False,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                         "mrope_section": [2, 3, 3]},
    )
    vision = dict(
        depth=2, hidden_size=VISION_HIDDEN, intermediate_size=2 * VISION_HIDDEN, num_heads=2,
        patch_size=PATCH, spatial_merge_size=2, temporal_patch_size=2, out_hidden_size=HIDDEN,
        window_size=16, fullatt_block_indexes=[1], in_channels=3,
    )
    config = Qwen2_5_VLConfig(
        text_config=text, vision_config=vision, image_token_id=ids["image"],
        video_token_id=ids["video"], vision_start_token_id=ids["start"],
        vision_end_token_id=ids["end"], tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config).eval()
    size = IMAGE * IMAGE
    image_processor = Qwen2VLImageProcessor(
        min_pixels=size, max_pixels=size, patch_size=PATCH, merge_size=2, temporal_patch_size=2)
    processor = _image_only_processor("Qwen2_5_VLProcessor")(
        image_processor=image_processor, tokenizer=tok, chat_template=QWEN_TEMPLATE)
    _save(folder, model, processor, tok)
    _fix_processor_config(folder, "Qwen2_5_VLProcessor", {
        "video_processor_type": "Qwen2VLVideoProcessor", "patch_size": PATCH, "merge_size": 2,
        "temporal_patch_size": 2, "min_pixels": size, "max_pixels": size,
    })
    return folder


def build_internvl(folder: Path, seed: int = 0) -> Path:
    """An ``InternVLForConditionalGeneration`` (InternViT-style tower + Qwen2, ChatML)."""
    import torch
    from transformers import (
        GotOcr2ImageProcessor,
        InternVLConfig,
        InternVLForConditionalGeneration,
    )

    from harness.plugins.hf_loading import _image_only_processor

    _torch_single_thread()
    tok = train_tokenizer("chatml", {
        "start_image_token": "<img>", "end_image_token": "</img>",
        "context_image_token": "<IMG_CONTEXT>", "video_token": "<video>",
    }, image_token=None)
    vision = dict(
        hidden_size=VISION_HIDDEN, intermediate_size=2 * VISION_HIDDEN, num_hidden_layers=2,
        num_attention_heads=2, image_size=[IMAGE, IMAGE], patch_size=[PATCH, PATCH],
        use_absolute_position_embeddings=True,
    )
    config = InternVLConfig(
        vision_config=vision,
        text_config=_text_config("qwen2", tok).to_dict(),
        image_token_id=tok.convert_tokens_to_ids("<IMG_CONTEXT>"), image_seq_length=4,
        downsample_ratio=0.5, vision_feature_layer=-1,
        vision_feature_select_strategy="default", tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = InternVLForConditionalGeneration(config).eval()
    image_processor = GotOcr2ImageProcessor(
        size={"height": IMAGE, "width": IMAGE}, crop_to_patches=True, min_patches=1,
        max_patches=4, image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225])
    processor = _image_only_processor("InternVLProcessor")(
        image_processor=image_processor, tokenizer=tok, chat_template=INTERNVL_TEMPLATE,
        image_seq_length=4)
    _save(folder, model, processor, tok)
    _fix_processor_config(folder, "InternVLProcessor", {
        "video_processor_type": "InternVLVideoProcessor",
        "size": {"height": IMAGE, "width": IMAGE},
    }, image_seq_length=4)
    return folder


# -- the original LLaVA code's format --------------------------------------------------------

ORIGINAL_ARCH = {"mistral": ("LlavaMistralForCausalLM", "llava_mistral"),
                 "llama": ("LlavaLlamaForCausalLM", "llava_llama"),
                 "qwen2": ("LlavaQwen2ForCausalLM", "llava_qwen2")}


def build_original_llava(folder: Path, text: str = "mistral", seed: int = 0,
                         tower_folder: Path | None = None,
                         drop_keys: Sequence[str] = ()) -> Path:
    """A checkpoint as the original LLaVA code saves it (LLaVA-Med, SkinVL, HuatuoGPT-Vision).

    The weights come from a seeded tiny ``LlavaForConditionalGeneration`` (whose
    tokenizer has no ``<image>`` token: the original code splices the image at a
    placeholder id instead), renamed to the original key names:
    ``model.layers.*`` / ``lm_head`` for the language model, ``model.mm_projector.{0,2}``
    for the two-layer GELU projector and ``model.vision_tower.vision_tower.vision_model.*``
    for the CLIP tower. The config carries
    the original ``mm_*`` fields. The CLIP tower itself (config and the same weights) lives
    in ``tower_folder``, named by ``mm_vision_tower`` as the original code names a Hub id.
    """
    from safetensors.torch import save_file

    _torch_single_thread()
    tok = train_tokenizer("chatml" if text == "qwen2" else "llama", image_token=None)
    tok.add_special_tokens({"additional_special_tokens": ["<image>"]})  # only to build
    model = _llava_model(text, tok, seed)
    vocab = len(tok) - 1  # the original vocabulary: the id of "<image>" is the last one
    tower_folder = tower_folder or folder.parent / f"{folder.name}-clip"
    # The tower folder as the Hub publishes CLIP towers: a config and ``vision_model.*`` weights.
    tower_folder.mkdir(parents=True, exist_ok=True)
    clip_vision_config().save_pretrained(tower_folder)
    tower = {"vision_model." + k: v.contiguous().clone()
             for k, v in model.model.vision_tower.state_dict().items()}
    save_file(tower, str(tower_folder / "model.safetensors"), metadata={"format": "pt"})
    state: dict[str, Any] = {}
    for key, value in model.state_dict().items():
        if key.startswith("model.language_model."):
            new = "model." + key.removeprefix("model.language_model.")
        elif key.startswith("lm_head."):
            new = key
        elif key.startswith("model.multi_modal_projector."):
            layer = "0" if ".linear_1." in key else "2"
            new = f"model.mm_projector.{layer}." + key.rsplit(".", 1)[1]
        elif key.startswith("model.vision_tower."):
            new = "model.vision_tower.vision_tower.vision_model." + key.removeprefix(
                "model.vision_tower.")
        else:
            raise AssertionError(f"unmapped key {key}")
        if new in ("model.embed_tokens.weight", "lm_head.weight"):
            value = value[:vocab]  # the original vocabulary has no image token
        state[new] = value.contiguous().clone()
    for key in drop_keys:
        state.pop(key)
    folder.mkdir(parents=True, exist_ok=True)
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    text_cfg = model.config.text_config.to_dict()
    arch, model_type = ORIGINAL_ARCH[text]
    keep = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
            "num_key_value_heads", "max_position_embeddings", "rms_norm_eps", "hidden_act",
            "rope_parameters", "sliding_window", "tie_word_embeddings", "bos_token_id",
            "eos_token_id", "head_dim", "attention_bias")
    config = {k: text_cfg[k] for k in keep if k in text_cfg}
    config.update({
        "architectures": [arch], "model_type": model_type, "vocab_size": vocab,
        "pad_token_id": None, "torch_dtype": "float32", "use_cache": True,
        "mm_vision_tower": str(tower_folder), "mm_hidden_size": VISION_HIDDEN,
        "mm_projector_type": "mlp2x_gelu", "mm_vision_select_layer": -2,
        "mm_vision_select_feature": "patch", "mm_patch_merge_type": "flat",
        "mm_use_im_start_end": False, "mm_use_im_patch_token": False,
        "image_aspect_ratio": "pad", "tokenizer_padding_side": "right",
        "tokenizer_model_max_length": 1024, "use_mm_proj": True,
        "tune_mm_mlp_adapter": False, "freeze_mm_mlp_adapter": False,
    })
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    original_tok = train_tokenizer("chatml" if text == "qwen2" else "llama", image_token=None)
    original_tok.padding_side = "right"
    original_tok.save_pretrained(folder)
    return folder


def write_image(path: Path, size: tuple[int, int], seed: int) -> Path:
    """A small deterministic RGB image (PNG) of the given (width, height)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path


def write_images(folder: Path, n: int = 4) -> list[Path]:
    """``n`` images of different, mostly non-square sizes."""
    sizes = [(48, 32), (32, 40), (37, 37), (64, 24), (30, 50)]
    return [write_image(folder / f"img{i}.png", sizes[i % len(sizes)], i) for i in range(n)]

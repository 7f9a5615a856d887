"""A tiny LLaVA-architecture base built offline from scratch: random weights, own tokenizer.

Used by the demo (``training.demo``) and the tests. Deterministic for a given
seed and text: the tokenizer is a byte-level BPE trained on the given lines with
the ``tokenizers`` library, the weights come from ``torch.manual_seed(seed)``.
Same layout as LLaVA-Med v1.5: a CLIP vision tower, a two-layer projector and a
Mistral language model, with LLaVA-Med's ``[INST] <image>\\nQ [/INST]`` prompt.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

IMAGE_TOKEN = "<image>"
BOS, EOS, PAD, UNK = "<s>", "</s>", "<pad>", "<unk>"

# LLaVA-Med v1.5's Mistral-instruct conversation (the template `harness run --model skinvl`
# uses), for the content-list messages of the processors: BOS, "[INST] <image>\nQ [/INST]",
# then " answer" and the end-of-sequence token.
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if message['role'] == 'user' %}[INST] "
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for c in message['content'] %}"
    "{% if c['type'] == 'image' %}<image>\n{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}"
    "{% endfor %}{% endif %} [/INST]"
    "{% elif message['role'] == 'assistant' %} "
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for c in message['content'] %}{% if c['type'] == 'text' %}{{ c['text'] }}"
    "{% endif %}{% endfor %}{% endif %}{{ eos_token }}"
    "{% endif %}{% endfor %}"
)


@dataclass(frozen=True)
class TinySize:
    hidden: int = 96
    intermediate: int = 192
    layers: int = 2
    heads: int = 4
    kv_heads: int = 2
    vision_hidden: int = 48
    vision_layers: int = 2
    image_size: int = 32
    patch: int = 8
    vocab: int = 400


def train_tokenizer(lines: Iterable[str], vocab: int) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE(unk_token=UNK))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab, special_tokens=[PAD, BOS, EOS, UNK, IMAGE_TOKEN],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    corpus = list(lines) + ["[INST] <image>\n [/INST]"]
    bpe.train_from_iterator(corpus, trainer=trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=bpe, bos_token=BOS, eos_token=EOS, pad_token=PAD, unk_token=UNK,
        add_bos_token=True, extra_special_tokens={"image_token": IMAGE_TOKEN},
        padding_side="left", model_max_length=512,
    )
    tok.chat_template = CHAT_TEMPLATE
    return tok


def build_tiny_llava(folder: Path, lines: Iterable[str], seed: int = 0,
                     size: TinySize = TinySize()) -> Path:
    """Build, seed and save a tiny LLaVA (Mistral + CLIP) with its processor; returns ``folder``."""
    import torch
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
        MistralConfig,
    )

    tok = train_tokenizer(lines, size.vocab)
    image_tokens = (size.image_size // size.patch) ** 2
    text = MistralConfig(
        vocab_size=len(tok), hidden_size=size.hidden, intermediate_size=size.intermediate,
        num_hidden_layers=size.layers, num_attention_heads=size.heads,
        num_key_value_heads=size.kv_heads, max_position_embeddings=512,
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id, tie_word_embeddings=False,
    )
    vision = CLIPVisionConfig(
        hidden_size=size.vision_hidden, intermediate_size=2 * size.vision_hidden,
        num_hidden_layers=size.vision_layers, num_attention_heads=2,
        image_size=size.image_size, patch_size=size.patch, projection_dim=size.vision_hidden,
    )
    config = LlavaConfig(
        vision_config=vision, text_config=text, image_token_index=tok.image_token_id,
        image_seq_length=image_tokens, vision_feature_select_strategy="default",
        vision_feature_layer=-2, pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config).eval()
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.bos_token_id = tok.bos_token_id
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": size.image_size},
        crop_size={"height": size.image_size, "width": size.image_size},
    )
    processor = LlavaProcessor(
        image_processor=image_processor, tokenizer=tok, patch_size=size.patch,
        vision_feature_select_strategy="default", chat_template=CHAT_TEMPLATE,
        num_additional_image_tokens=1,
    )
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder

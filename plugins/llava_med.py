"""LLaVA-Med v1.5 (Mistral-7B), published in the original LLaVA format: ``llava-med-7b``.

Default checkpoint ``microsoft/llava-med-v1.5-mistral-7b`` (``LlavaMistralForCausalLM``),
converted once into transformers' ``LlavaForConditionalGeneration`` by
``plugins.llava_convert`` and cached. Prompt: the authors' ``mistral_instruct``
conversation, ``<s>[INST] <image>\\nQ [/INST]``; images padded to a square with the
processor's mean colour (``image_aspect_ratio: pad``), as LLaVA-Med does.
"""

from __future__ import annotations

from collections.abc import Callable

from harness import hookimpl
from harness.plugins.chat_templates import LLAVA_MED_TEMPLATE
from harness.plugins.hf_common import (
    CAPABILITIES,
    Family,
    converted_key,
    converted_llava,
    family_factory,
    spec_weights_key,
)
from harness.plugins.hf_loading import ConvertedOptions
from harness.specs import ModelSpec

FAMILY = Family(
    name="llava-med", architectures=("LlavaForConditionalGeneration",),
    chat_template=LLAVA_MED_TEMPLATE, answer_prefix=" ", pad_to_square=True,
)
CHECKPOINT = "microsoft/llava-med-v1.5-mistral-7b"


make_llava_med = family_factory(FAMILY, prepare=converted_llava("llava-med"),
                                key=converted_key("llava-med"))


@hookimpl
def register_models(register: Callable[[ModelSpec], None]) -> None:
    register(ModelSpec(
        name="llava-med-7b", factory=make_llava_med, family="llava-med",
        checkpoint=CHECKPOINT, capabilities=CAPABILITIES,
        description="LLaVA-Med v1.5 Mistral-7B (original LLaVA format, converted)",
        options=ConvertedOptions, weights_key=spec_weights_key(converted_key("llava-med")),
    ))

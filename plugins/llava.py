"""LLaVA-1.6 (LLaVA-NeXT), transformers-native: ``llava-v1.6-7b``.

Default checkpoint ``llava-hf/llava-v1.6-vicuna-7b-hf``. Prompt: the ``v1`` (``vicuna_v1``)
conversation, which the MM-Skin authors' VQA_test.py names for LLaVA-1.6 (line 228 at
31d105c) and LLaVA's own evaluation scripts use (scripts/v1_5/eval): the system
sentence "A chat between a curious user ..." (llava/conversation.py:242-244 in both
repositories; LLaVA's other template, ``llava_v1``, says "human"), then
``USER: <image>\\nQ ASSISTANT:``. ``-M chat_template=checkpoint`` uses the
checkpoint's own (shorter) template instead.
Images: the processor's any-resolution tiling.
"""

from __future__ import annotations

from collections.abc import Callable

from harness import hookimpl
from harness.plugins.chat_templates import VICUNA_SYSTEM, VICUNA_TEMPLATE
from harness.plugins.hf_common import (
    CAPABILITIES,
    Family,
    family_factory,
    spec_weights_key,
)
from harness.plugins.hf_loading import LoadOptions
from harness.specs import ModelSpec

FAMILY = Family(
    name="llava-next", architectures=("LlavaNextForConditionalGeneration",),
    chat_template=VICUNA_TEMPLATE, system=VICUNA_SYSTEM, answer_prefix=" ",
)


make_llava_next = family_factory(FAMILY)


@hookimpl
def register_models(register: Callable[[ModelSpec], None]) -> None:
    register(ModelSpec(
        name="llava-v1.6-7b", factory=make_llava_next, family="llava-next",
        checkpoint="llava-hf/llava-v1.6-vicuna-7b-hf", capabilities=CAPABILITIES,
        description="LLaVA-1.6 Vicuna-7B (transformers-native)",
        options=LoadOptions, weights_key=spec_weights_key(),
    ))

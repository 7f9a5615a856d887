"""HuatuoGPT-Vision-7B (LLaVA on Qwen2, ``llava_qwen2`` format): ``huatuogpt-vision-7b``.

Default checkpoint ``FreedomIntelligence/HuatuoGPT-Vision-7B``, converted once into
``LlavaForConditionalGeneration`` + Qwen2 and cached. Prompt: the authors' ``cli.py``
format, ``<|user|>\\n<image>\\nQ\\n<|assistant|>\\n`` (no BOS, question stripped);
images expanded to a square with the processor's mean colour before the CLIP
processor, as the authors' ``expand2square`` does. The authors' chatbot also sets
``repetition_penalty=1.2``; the harness decodes with the task's settings instead.
"""

from __future__ import annotations

from collections.abc import Callable

from harness import hookimpl
from harness.plugins.chat_templates import HUATUO_TEMPLATE
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
    name="huatuogpt-vision", architectures=("LlavaForConditionalGeneration",),
    chat_template=HUATUO_TEMPLATE, answer_prefix="", pad_to_square=True,
)


CHECKPOINT = "FreedomIntelligence/HuatuoGPT-Vision-7B"


make_huatuo = family_factory(FAMILY, prepare=converted_llava("huatuogpt-vision"),
                             key=converted_key("huatuogpt-vision"))


@hookimpl
def register_models(register: Callable[[ModelSpec], None]) -> None:
    register(ModelSpec(
        name="huatuogpt-vision-7b", factory=make_huatuo, family="huatuogpt-vision",
        checkpoint=CHECKPOINT, capabilities=CAPABILITIES,
        description="HuatuoGPT-Vision-7B (llava_qwen2 format, converted; pads to square)",
        options=ConvertedOptions,
        weights_key=spec_weights_key(converted_key("huatuogpt-vision")),
    ))

"""Qwen2.5-VL, transformers-native: ``qwen2.5-vl-7b``.

Default checkpoint ``Qwen/Qwen2.5-VL-7B-Instruct``. Prompt: the checkpoint's own
ChatML template (the authors'; it adds their default system message). Images: the
processor's native dynamic resolution (``min_pixels``/``max_pixels`` from the
checkpoint). Without torchvision the processor is built without its video half.
"""

from __future__ import annotations

from collections.abc import Callable

from harness import hookimpl
from harness.plugins.hf_common import CAPABILITIES, Family, family_factory, spec_weights_key
from harness.plugins.hf_loading import LoadOptions
from harness.specs import ModelSpec

FAMILY = Family(
    name="qwen2.5-vl", architectures=("Qwen2_5_VLForConditionalGeneration",),
    chat_template=None, answer_prefix="",
)


make_qwen_vl = family_factory(FAMILY)


@hookimpl
def register_models(register: Callable[[ModelSpec], None]) -> None:
    register(ModelSpec(
        name="qwen2.5-vl-7b", factory=make_qwen_vl, family="qwen2.5-vl",
        checkpoint="Qwen/Qwen2.5-VL-7B-Instruct", capabilities=CAPABILITIES,
        description="Qwen2.5-VL-7B-Instruct (transformers-native)",
        options=LoadOptions, weights_key=spec_weights_key(),
    ))

"""InternVL 2.5, transformers-native: ``internvl2.5-8b``.

transformers 5.x loads InternVL through ``InternVLForConditionalGeneration``, which
reads the ``-hf`` conversions OpenGVLab publishes; the original ``OpenGVLab/InternVL2_5-8B``
repository holds only remote code (``InternVLChatModel`` on InternLM2). The only
official transformers-native 8B checkpoint of InternVL 2.5 is
``OpenGVLab/InternVL2_5-8B-MPO-hf`` (InternVL2.5-8B after mixed preference
optimisation, InternLM2 rewritten as Llama), so that is the default; any other
``-hf`` checkpoint works with ``--model-path``. Prompt: ChatML with the image
placeholder before the question and the InternVL 2.5 authors' default system
message; images: the processor's dynamic tiling.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from harness import hookimpl
from harness.errors import UsageError
from harness.plugins.chat_templates import content
from harness.plugins.hf_common import (
    CAPABILITIES,
    Family,
    family_factory,
    spec_weights_key,
)
from harness.plugins.hf_loading import LoadOptions, read_json
from harness.specs import ModelSpec

DEFAULT_CHECKPOINT = "OpenGVLab/InternVL2_5-8B-MPO-hf"
# The system message of InternVL 2.5's ``internvl2_5`` conversation template.
INTERNVL_SYSTEM = (
    "你是书生·万象，英文名是InternVL，是由上海人工智能实验室、清华大学及多家合作单位联合开发的多模态大语言模型。"
)
INTERNVL_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    + content("<IMG_CONTEXT>\n") + "<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

FAMILY = Family(
    name="internvl", architectures=("InternVLForConditionalGeneration",),
    chat_template=INTERNVL_TEMPLATE, system=INTERNVL_SYSTEM, answer_prefix="",
)


def native_only(name: str, folder: Path, opts: LoadOptions
                ) -> tuple[Path, dict[str, Any], Sequence[int]]:
    arch = (read_json(folder / "config.json").get("architectures") or [""])[0]
    if arch == "InternVLChatModel" and not opts.trust_remote_code:
        raise UsageError(
            f"model '{name}': {folder} is the original remote-code InternVL format; use a "
            f"transformers-native -hf checkpoint (default {DEFAULT_CHECKPOINT}) or convert it "
            "with transformers' convert_internvl_weights_to_hf.py"
        )
    return folder, {}, ()


make_internvl = family_factory(FAMILY, prepare=native_only)


@hookimpl
def register_models(register: Callable[[ModelSpec], None]) -> None:
    register(ModelSpec(
        name="internvl2.5-8b", factory=make_internvl, family="internvl",
        checkpoint=DEFAULT_CHECKPOINT, capabilities=CAPABILITIES,
        description="InternVL2.5-8B-MPO (transformers-native -hf checkpoint)",
        options=LoadOptions, weights_key=spec_weights_key(),
    ))

"""The conversation formats of the LLaVA-lineage families, as Jinja chat templates.

Each equals its authors' conversation code (cited beside it and checked in
``tests/test_protocol*.py``). They live apart from the family modules so that the
checkpoint converter can use them without importing the families (no import cycle).
"""

from __future__ import annotations


def content(image: str, text_filter: str = "") -> str:
    """Jinja that renders one message's content (a string, or a list of image/text parts)."""
    return (
        "{% if message['content'] is string %}{{ message['content']" + text_filter
        + " }}{% else %}{% for c in message['content'] %}{% if c['type'] == 'image' %}" + image
        + "{% elif c['type'] == 'text' %}{{ c['text']" + text_filter
        + " }}{% endif %}{% endfor %}{% endif %}"
    )


VICUNA_SYSTEM = (
    "A chat between a curious user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's questions."
)
# LLaVA's vicuna_v1: "<s>{system} USER: <image>\nQ ASSISTANT: A</s>" (separators " " and "</s>").
VICUNA_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if message['role'] == 'system' %}" + content("") + " "
    "{% elif message['role'] == 'user' %}USER: " + content("<image>\n") + " "
    "{% else %}ASSISTANT: " + content("") + "{{ eos_token }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)

# LLaVA's LLAMA_2 separator style with an empty system and sep "": "[INST] Q [/INST] A</s>".
LLAVA_MED_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if message['role'] == 'user' %}[INST] " + content("<image>\n") + " [/INST]"
    "{% elif message['role'] == 'assistant' %} " + content("") + "{{ eos_token }}"
    "{% endif %}{% endfor %}"
)

HUATUO_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}<|user|>\n" + content("<image>\n", " | trim")
    + "{{ '\\n' }}<|assistant|>\n"  # a literal newline right after a tag would be trimmed
    "{% elif message['role'] == 'assistant' %}" + content("") + "{{ eos_token }}\n"
    "{% endif %}{% endfor %}"
)

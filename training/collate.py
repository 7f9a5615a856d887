"""Examples -> model inputs: the prompt (image tokens included) is masked out of the loss.

The recipe's conversation (``training.base.conversation_format``: the authors' ``v1``,
``<s>{system} USER: <image>\nQ ASSISTANT: A</s>``, or LLaVA-Med's ``[INST] <image>\nQ
[/INST]``), images expanded to a square, else the checkpoint's own template. The
target is the template's assistant turn: the answer and the end-of-sequence token.
Prompt and prompt+answer are tokenised separately and the prompt's ids must be a
prefix of the full ids, so the mask never cuts a token.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.errors import HarnessError, UsageError

IGNORE_INDEX = -100


def user_message(question: str, system: str | None = None) -> list[dict[str, Any]]:
    head = ([{"role": "system", "content": [{"type": "text", "text": system}]}]
            if system else [])
    return [*head,
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]


def assistant_message(answer: str) -> dict[str, Any]:
    return {"role": "assistant", "content": [{"type": "text", "text": answer}]}


def _template(processor: Any, template: str | None) -> str:
    chosen = template or getattr(processor, "chat_template", None)
    if not chosen:
        raise UsageError("the base model's processor has no chat template: save one with the "
                         "checkpoint (processor.chat_template) before training")
    return str(chosen)


def prompt_text(processor: Any, question: str, template: str | None = None,
                system: str | None = None) -> str:
    """The generation prompt for one image and a question."""
    return processor.apply_chat_template(user_message(question, system),
                                         add_generation_prompt=True,
                                         tokenize=False,
                                         chat_template=_template(processor, template))


def full_text(processor: Any, question: str, answer: str, template: str | None = None,
              system: str | None = None) -> str:
    """The conversation with the assistant's answer, as the template writes it."""
    return processor.apply_chat_template(
        [*user_message(question, system), assistant_message(answer)], tokenize=False,
        chat_template=_template(processor, template))


class SftCollator:
    """Builds right-padded batches with ``labels`` = -100 on prompt, image tokens and padding."""

    def __init__(self, processor: Any, max_length: int | None = None,
                 chat_template: str | None = None, pad_to_square: bool = False,
                 system: str | None = None) -> None:
        self.processor = processor
        self.template = chat_template
        self.system = system
        self.pad_to_square = pad_to_square
        self.tokenizer = processor.tokenizer
        self.max_length = max_length
        eos = self.tokenizer.eos_token
        if eos is None:
            raise UsageError("the base model's tokenizer has no end-of-sequence token")
        self.eos = eos
        pad = self.tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else self.tokenizer.eos_token_id

    def encode(self, image: Any, question: str, answer: str) -> tuple[list[int], list[int]]:
        """(input_ids, labels) of one example; the image token is already expanded."""
        prompt = prompt_text(self.processor, question, self.template, self.system)
        full = full_text(self.processor, question, answer.strip(), self.template, self.system)
        if not full.startswith(prompt) or self.eos not in full[len(prompt):]:
            full = f"{prompt} {answer.strip()}{self.eos}"  # a template without an answer turn
        p_ids = self._ids(image, prompt)
        f_ids = self._ids(image, full)
        if f_ids[: len(p_ids)] != p_ids:
            raise HarnessError("the tokenised prompt is not a prefix of prompt+answer; "
                               "the loss mask cannot be placed for this tokenizer")
        labels = [IGNORE_INDEX] * len(p_ids) + f_ids[len(p_ids):]
        if self.max_length is not None and len(f_ids) > self.max_length:
            if len(p_ids) >= self.max_length:
                raise HarnessError(f"a prompt of {len(p_ids)} tokens (image included) does not "
                                   f"fit max_length={self.max_length}")
            f_ids, labels = f_ids[: self.max_length], labels[: self.max_length]
        return f_ids, labels

    def _ids(self, image: Any, text: str) -> list[int]:
        # A template that writes BOS itself must not get a second one from the tokenizer.
        bos = self.tokenizer.bos_token
        enc = self.processor(images=[image], text=[text], return_tensors="pt",
                             add_special_tokens=not (bos and text.startswith(bos)))
        return enc["input_ids"][0].tolist()

    def _square(self, images: list[Any]) -> list[Any]:
        if not self.pad_to_square:
            return images
        from harness.plugins.hf_loading import expand_to_square, mean_colour

        colour = mean_colour(self.processor.image_processor)
        return [expand_to_square(im, colour) for im in images]

    def __call__(self, batch: Sequence[dict[str, Any]]) -> dict[str, Any]:
        import torch

        images = self._square([item["image"] for item in batch])
        rows = [self.encode(im, item["question"], item["answer"])
                for im, item in zip(images, batch, strict=True)]
        width = max(len(ids) for ids, _ in rows)
        input_ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
        attention = torch.zeros((len(rows), width), dtype=torch.long)
        for i, (ids, lab) in enumerate(rows):
            input_ids[i, : len(ids)] = torch.tensor(ids)
            labels[i, : len(lab)] = torch.tensor(lab)
            attention[i, : len(ids)] = 1
        pixels = self.processor.image_processor(images, return_tensors="pt")
        out = {"input_ids": input_ids, "attention_mask": attention, "labels": labels}
        out.update({k: v for k, v in pixels.items()})
        return out

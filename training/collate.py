"""Examples -> model inputs: the prompt (image tokens included) is masked out of the loss.

The prompt is the processor's own chat template with the generation prompt, the
same text the harness's LLaVA plugins send at evaluation; the target is the
answer and the end-of-sequence token. Prompt and prompt+answer are tokenised
separately and the prompt's ids must be a prefix of the full ids, so the mask
never cuts a token in two.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.errors import HarnessError, UsageError

IGNORE_INDEX = -100


def user_message(question: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]


def prompt_text(processor: Any, question: str) -> str:
    if not getattr(processor, "chat_template", None):
        raise UsageError("the base model's processor has no chat template: save one with the "
                         "checkpoint (processor.chat_template) before training")
    return processor.apply_chat_template(user_message(question), add_generation_prompt=True,
                                         tokenize=False)


class SftCollator:
    """Builds right-padded batches with ``labels`` = -100 on prompt, image tokens and padding."""

    def __init__(self, processor: Any, max_length: int | None = None) -> None:
        self.processor = processor
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
        prompt = prompt_text(self.processor, question)
        full = f"{prompt}{answer.strip()}{self.eos}"
        p_ids = self._ids(image, prompt)
        f_ids = self._ids(image, full)
        if f_ids[: len(p_ids)] != p_ids:
            # A tokenizer that merges across the prompt/answer boundary: retry with a space.
            full = f"{prompt} {answer.strip()}{self.eos}"
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
        enc = self.processor(images=[image], text=[text], return_tensors="pt")
        return enc["input_ids"][0].tolist()

    def __call__(self, batch: Sequence[dict[str, Any]]) -> dict[str, Any]:
        import torch

        images = [item["image"] for item in batch]
        rows = [self.encode(item["image"], item["question"], item["answer"]) for item in batch]
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

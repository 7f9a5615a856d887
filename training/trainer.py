"""The ``Trainer`` of the authors' recipe: a projector learning rate and length-grouped batches.

Two things ``finetune_lora.sh`` asks of LLaVA's trainer (ZwQ803/MM-Skin@31d105c,
llava/train/llava_trainer.py) that transformers' ``Trainer`` does not do:

- ``--mm_projector_lr 2e-5``: the projector's parameters get their own learning rate
  (lines 165-194); weight decay applies as transformers decides, projector or not.
- ``--group_by_modality_length True``: batches of similar length (lines 60-96). Every
  example here has an image, so the "modality" split never applies and it is LLaVA's
  length grouping: a random permutation cut into mega-batches of world size x batch
  size (x gradient accumulation), each sorted longest first and dealt into one chunk
  per process so that the chunks' total lengths stay even. Length = words of question
  and answer (``modality_lengths``, llava/train/train.py:684-690).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from torch.utils.data import Sampler
from transformers import Trainer

PROJECTOR = "multi_modal_projector"


def even_chunks(indices: Sequence[int], lengths: Sequence[int], n: int) -> list[list[int]]:
    """``indices`` (longest first) dealt into ``n`` chunks of equal size, each next index to
    the chunk with the least total length; a strided deal when the sizes cannot be equal."""
    if len(indices) % n:
        return [list(indices[i::n]) for i in range(n)]
    size = len(indices) // n
    chunks: list[list[int]] = [[] for _ in range(n)]
    totals = [0.0] * n
    for i in indices:
        k = totals.index(min(totals))
        chunks[k].append(i)
        totals[k] += lengths[i]
        if len(chunks[k]) == size:
            totals[k] = float("inf")  # full
    return chunks


def length_grouped_order(lengths: Sequence[int], batch_size: int, world: int,
                         seed: int) -> list[int]:
    import torch

    perm = torch.randperm(len(lengths), generator=torch.Generator().manual_seed(seed)).tolist()
    mega = batch_size * world
    out: list[int] = []
    for start in range(0, len(perm), mega):
        block = sorted(perm[start:start + mega], key=lambda i: lengths[i], reverse=True)
        for chunk in even_chunks(block, lengths, world):
            out.extend(chunk)
    return out


class LengthGroupedSampler(Sampler[int]):
    """A new length-grouped order every epoch, drawn from ``seed`` and the epoch number."""

    def __init__(self, lengths: Sequence[int], batch_size: int, world: int, seed: int) -> None:
        self.lengths, self.batch_size, self.world = list(lengths), batch_size, world
        self.seed, self.epoch = seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self) -> Iterator[int]:
        return iter(length_grouped_order(self.lengths, self.batch_size, self.world,
                                         self.seed + self.epoch))


class SkinVLTrainer(Trainer):  # type: ignore[misc]
    def __init__(self, *args: Any, projector_lr: float | None = None,
                 lengths: Sequence[int] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.projector_lr = projector_lr
        self.lengths = lengths

    def _get_train_sampler(self, train_dataset: Any = None) -> Any:
        if self.lengths is None:
            return super()._get_train_sampler(train_dataset)
        # As LLaVA: mega-batches span every process and accumulation step.
        world = self.args.world_size * self.args.gradient_accumulation_steps
        return LengthGroupedSampler(self.lengths, self.args.train_batch_size, world,
                                    self.args.seed)

    def create_optimizer(self, model: Any = None) -> Any:
        if self.projector_lr is None or self.optimizer is not None:
            return super().create_optimizer(model)
        opt_model = self.model if model is None else model
        decay = set(self.get_decay_parameter_names(opt_model))
        groups: dict[tuple[bool, bool], list[Any]] = {}
        for name, p in opt_model.named_parameters():
            if p.requires_grad:
                groups.setdefault((name in decay, PROJECTOR in name), []).append(p)
        param_groups = [
            {"params": params, "weight_decay": self.args.weight_decay if decays else 0.0,
             **({"lr": self.projector_lr} if projector else {})}
            for (decays, projector), params in sorted(groups.items())
        ]
        optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, opt_model)
        self.optimizer = optimizer_cls(param_groups, **optimizer_kwargs)
        return self.optimizer


def example_lengths(examples: Sequence[Any]) -> list[int]:
    """LLaVA's ``modality_lengths`` of image examples: the words of the conversation as its
    records hold it (the question after its ``<image>`` line, then the answer)."""
    from harness.training.data import IMAGE_TOKEN

    return [len(f"{IMAGE_TOKEN}\n{e.question}".split()) + len(e.answer.split())
            for e in examples]

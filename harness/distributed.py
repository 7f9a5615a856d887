"""Data-parallel runs under `torchrun` or `accelerate launch` (one process per GPU or CPU slot).

Each rank answers its own share of the samples still to ask and writes its own
``predictions.rank<N>.jsonl``; rank 0 waits for the others, merges the shards
into ``predictions.jsonl`` and scores once. The share is taken from what is
still missing at start, so resuming works per rank and across a change in the
number of processes. The launchers set RANK/WORLD_SIZE/LOCAL_RANK; the process
group is PyTorch's (gloo on CPU, NCCL on GPU), not a scheduler of our own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

# Ranks finish their shares at different times; the slowest may lag by hours.
BARRIER_TIMEOUT = timedelta(hours=12)


@dataclass
class DistContext:
    rank: int
    world: int
    local_rank: int

    @property
    def shard(self) -> str:
        return f"rank{self.rank}"

    def device(self, requested: str) -> str:
        """Each rank on its own GPU when the user asked for auto/cuda and GPUs exist."""
        import torch

        if requested in ("auto", "cuda") and torch.cuda.is_available():
            torch.cuda.set_device(self.local_rank)
            return f"cuda:{self.local_rank}"
        return "cpu" if requested == "auto" else requested

    def barrier(self) -> None:
        import torch.distributed as dist

        dist.barrier()

    def close(self) -> None:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def detect() -> DistContext | None:
    """The launch context, or None for a plain single-process run."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1:
        return None
    import torch
    import torch.distributed as dist

    ctx = DistContext(
        rank=int(os.environ.get("RANK", "0")),
        world=world,
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
    )
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend, timeout=BARRIER_TIMEOUT)
    return ctx


def merge_shards(folder: Any) -> int:
    """Fold every rank's shard into predictions.jsonl (atomically); returns the lines merged."""
    from harness.store import PREDICTIONS, ResultStore

    shards = sorted(folder.glob("predictions.rank*.jsonl"))
    if not shards:
        return 0
    store = ResultStore(folder)
    merged = store.load(repair=True)  # every file, the last line per fingerprint winning
    tmp = folder / f".{PREDICTIONS}.merge"
    with open(tmp, "w", encoding="utf-8") as fh:
        store.write_lines(fh, merged.values())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, folder / PREDICTIONS)
    for shard in shards:  # after the rename: a crash here leaves duplicates, never losses
        shard.unlink()
    return len(merged)

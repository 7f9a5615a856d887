"""Dataset adapters for the paper's datasets, its split files, data checks and the overlap audit.

Each adapter reads a dataset in the layout its publisher ships, under one data
root; see docs/datasets.md. ``ADAPTERS`` lists them; ``builtin`` registers them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def adapters(splits_dir: Path | None = None) -> list[Any]:
    """One instance of every adapter; ``splits_dir`` overrides <data_root>/mmskin-splits."""
    from harness.datasets.ddi import Ddi
    from harness.datasets.dermavqa import DermaVqa
    from harness.datasets.dermnet import Dermnet
    from harness.datasets.fitzpatrick17k import Fitzpatrick17k
    from harness.datasets.ham10000 import Ham10000
    from harness.datasets.isic2019 import Isic2019
    from harness.datasets.isic_archive import Bcn20000, Hiba, Mskcc
    from harness.datasets.mediqa_magic import MediqaMagic
    from harness.datasets.mmskin import MmSkin
    from harness.datasets.padufes20 import PadUfes20
    from harness.datasets.patch16 import Patch16
    from harness.datasets.scin import Scin

    classes = (Ham10000, Isic2019, Bcn20000, Hiba, Mskcc, PadUfes20, Fitzpatrick17k, Ddi,
               Dermnet, Patch16, Scin)
    return [c(splits_dir=splits_dir) for c in classes] + [
        MmSkin(splits_dir=splits_dir), MmSkin(splits_dir=splits_dir, caption=True),
        DermaVqa("iiyi"), DermaVqa("reddit"), MediqaMagic()]


def adapter(name: str, splits_dir: Path | None = None) -> Any:
    """The adapter called ``name`` (or one of its aliases)."""
    from harness.errors import UnknownNameError

    for a in adapters(splits_dir):
        if name == a.name or name in getattr(a, "aliases", ()):
            return a
    raise UnknownNameError(f"no dataset adapter named '{name}'")

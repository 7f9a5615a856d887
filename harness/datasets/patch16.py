"""Patch16 (histopathology patches, tumour vs non-tumour): class folders + the paper's splits.

Layout (Kriegsmann et al., heiDATA doi:10.11588/data/7QCR8S, unpacked)::

    Patch16/<class folder>/<file>.jpg      16 folders, e.g. tumor_skin_epithelial_bcc

The paper publishes the test (28,039) and validation (12,354) lists; every
other image in the class folders is training data. The probe uses 10% of
train and val (``extra["probe_subsample"]``), as the paper's low-resource setting.
"""

from __future__ import annotations

from pathlib import Path

from harness.datasets.base import Adapter, Expected
from harness.datasets.common import Skips
from harness.errors import DataError
from harness.types import Sample

VAL_FILE = "classification/Patch16_2class_val.csv"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff"}


def label_of_folder(name: str) -> str | None:
    # Folder names start with the binary class: tumor_skin_... / nontumor_skin_...
    if name.startswith("nontumor_"):
        return "nontumor"
    if name.startswith("tumor_"):
        return "tumor"
    return None


class Patch16(Adapter):
    name = "patch16"
    folder = "Patch16"
    modality = "pathology"
    # Vocabulary and order: the `categories` of the paper's Patch16_2class_test.csv (sorted).
    classes = ("nontumor", "tumor")
    classes_source = "categories of the paper's Patch16_2class_test.csv (ZwQ803/MM-Skin@31d105c)"
    splits = ("train", "val", "test")
    description = "Patch16 pathology, tumour/non-tumour; test and val = paper split files"
    split_file = "Patch16_2class_test.csv"
    extra = {"probe_subsample": 0.1}

    def from_pool(self, root: Path, split: str, skips: Skips) -> list[Sample]:
        if split == "val":
            return self.read_split_rows(root, VAL_FILE, "val", skips)
        held_out = self.test_ids(root) | {
            s.id for s in self.read_split_rows(root, VAL_FILE, "val", Skips())}
        out = [s for s in self.pool(root, skips) if s.id not in held_out]
        for s in out:
            s.split, s.meta["split_method"] = "train", "folders-minus-paper-val-and-test"
        return out

    def pool(self, root: Path, skips: Skips) -> list[Sample]:
        base = root / self.folder
        if not base.is_dir():
            raise DataError(f"Patch16 folder not found: {base}")
        out = []
        for folder in sorted(p for p in base.iterdir() if p.is_dir()):
            label = label_of_folder(folder.name)
            files = sorted(f for f in folder.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
            if label is None:
                for f in files:
                    skips.add(f"{f}: folder '{folder.name}' names neither tumor_ nor nontumor_; "
                              "image skipped")
                continue
            out += [Sample(id=f.stem, image=f, dataset=self.name, modality=self.modality,
                           label=label, meta={"source_file": str(folder)}) for f in files]
        return out

    def expected(self, root: Path | None, split: str) -> Expected | None:
        if split == "val":
            return self.expected_from_file(root, VAL_FILE)
        return super().expected(root, split)

    def required_files(self, root: Path) -> list[tuple[Path, str]]:
        from harness.datasets import splitfiles

        sd = splitfiles.splits_dir(root, self.splits_dir)
        assert sd is not None
        return super().required_files(root) + [(sd / VAL_FILE, "paper's validation split")]

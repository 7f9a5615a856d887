"""SHA-256 pins of the public benchmarks' own files (beside the MM-Skin split pins).

A benchmark file whose bytes differ from its pin is refused (its rows would not be the
challenge's), or read and noted under ``harness run --allow-modified-splits``, exactly as
``splitfiles`` does for the MM-Skin split files.
"""

from __future__ import annotations

from pathlib import Path

from harness.datasets import splitfiles
from harness.errors import DataError

DERMAVQA = "wyim/DermaVQA@686a570"
# A participant's copy of the organisers' ImageCLEF 2025 release; the organisers' repository
# (wyim/ImageCLEF-MAGIC-2025@6d60a81) holds the evaluation code only, the data is on OSF.
MAGIC = "karishmathakrar/arc-mediqa-magic-2025@8d59dc2 (2025_dataset/)"

# (benchmark folder, file) -> (SHA-256, source)
PINS: dict[str, tuple[str, str]] = {
    "dermavqa/iiyi/train.json":
        ("057ad0cb3894b5b0645cffe9a067880477ac8d5fe27275239c96ddf4cbc9c8a6", DERMAVQA),
    "dermavqa/iiyi/valid_ht.json":
        ("be8fa34b43639908b75eaf560fb0e745ee968772834a8fd06e56bbdceca8b0de", DERMAVQA),
    "dermavqa/iiyi/test_ht.json":
        ("120232fdc5a9ed821449ea2cecca49329c26e4ba10236ad9052bce63c4729cf9", DERMAVQA),
    "dermavqa/iiyi/test_ht_spanishtestsetcorrected.json":
        ("8144aba5ed94205d7a2b94d9f0aa5268832b0dd0620ea1e2c1b757e6ca6bb5c1", DERMAVQA),
    "dermavqa/iiyi/df_userinfo.csv":
        ("edad55bbe97dfcc9b6fe79206d7fe8fc5b83774a4bf1b25084890261b4a2ad4f", DERMAVQA),
    "dermavqa/iiyi/split2encounterids.json":
        ("a6357e9d9dc3e87f7ceed96eff000c7a914ffd7dba8b5aaff3c6ea1ad30355f1", DERMAVQA),
    "dermavqa/reddit/train_answersonly.json":
        ("1c043be44b9e1fbf9b4b83f7d12bc7e55ab4adf314318e4a67cd091ed96a8ee1", DERMAVQA),
    "dermavqa/reddit/valid_answersonly.json":
        ("e5336213efe62485e77fb54272a7c124b91435a9f09826c7b3ac8c8e8730bfa8", DERMAVQA),
    "dermavqa/reddit/test_answersonly.json":
        ("613bbe86eac9600f308808870cd7c72d6ecae2fcb4a152f89b9afea4dacf3da0", DERMAVQA),
    "mediqa-magic-2025/closedquestions_definitions_imageclef2025.json":
        ("92bc7b1f7f45ae82081d69db50d08bf18ad334d2693665f8deede26bc0d9183e", MAGIC),
    "mediqa-magic-2025/option_maps.json":
        ("ca39a407bd0bb70d843b7db1959b1fac0e0712d61936c10aee6d3ca8535d8c04", MAGIC),
    "mediqa-magic-2025/train_cvqa.json":
        ("8ce48f3ca550e0b4ea9ed390fb3a0b5cf17da3ddb1471f3f32ec68173eb9dab5", MAGIC),
    "mediqa-magic-2025/valid_cvqa.json":
        ("d8095ea195285e2e65b8b0cc7318d2c5d7ab1ed87f869de9364b3c8af1e7416c", MAGIC),
}


def check(root: Path, rel: str) -> str | None:
    """None when ``root/rel`` is the pinned file (or has no pin); otherwise DataError, or,
    while modified files are allowed, the sentence to record in the data notes."""
    pin = PINS.get(rel)
    path = root / rel
    if pin is None:
        return None
    expected, source = pin
    got = splitfiles.digest(path)
    if got == expected:
        return None
    differs = (f"{path} differs from {rel} pinned at {source} (SHA-256 {got[:12]}..., "
               f"pinned {expected[:12]}...)")
    if splitfiles.modified_allowed():
        return f"{differs}; read anyway, as modified split files were allowed"
    raise DataError(f"{differs}: its rows would not be the challenge's; restore the "
                    "publisher's file, or pass --allow-modified-splits to use it anyway")

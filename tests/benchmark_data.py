"""A data root for the DermaVQA / MEDIQA-MAGIC tests: the real metadata linked in place from
../shared/data, stand-in images written under the names the publishers give them."""

from __future__ import annotations

import json
from pathlib import Path

from datasets_helpers import shared_or_skip
from PIL import Image

IIYI = ("valid_ht.json", "test_ht.json", "df_userinfo.csv", "split2encounterids.json")
REDDIT = ("valid_answersonly.json", "test_answersonly.json")
MAGIC = ("closedquestions_definitions_imageclef2025.json", "option_maps.json",
         "train_cvqa.json", "valid_cvqa.json")


def picture(path: Path, shade: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (12, 12), (shade % 256, (shade * 7) % 256, 90)).save(path, format="JPEG")


def benchmark_root(tmp: Path, images: bool = True) -> Path:
    meta = shared_or_skip() / "metadata"
    root = tmp / "data"
    for folder, names in (("dermavqa/iiyi", IIYI), ("dermavqa/reddit", REDDIT),
                          ("mediqa-magic-2025", MAGIC)):
        (root / folder).mkdir(parents=True, exist_ok=True)
        src = meta / ("mediqa-magic-2025" if folder.startswith("mediqa") else folder)
        for name in names:
            (root / folder / name).symlink_to(src / name)
    if not images:
        return root
    shade = 0
    for split in ("valid", "test"):
        for rec in json.loads((root / f"dermavqa/iiyi/{split}_ht.json").read_text()):
            for name in rec["image_ids"]:
                picture(root / f"dermavqa/iiyi/images_{split}" / name, shade)
                shade += 1
    # The MAGIC train queries (OSF) are not in ../shared: one picture per encounter, found
    # by the publisher's name pattern.
    for rec in json.loads((root / "mediqa-magic-2025/train_cvqa.json").read_text()):
        picture(root / "mediqa-magic-2025/images_train" / f"IMG_{rec['encounter_id']}_00001.jpg",
                shade)
        shade += 1
    return root


def reddit_pull(root: Path, split: str, keep: int) -> list[str]:
    """A stand-in for the user's Reddit API pull (the API is out of reach here): the first
    ``keep`` encounters with a synthetic title and content, and a picture named by post id.
    Returns the encounter ids pulled."""
    records = json.loads((root / f"dermavqa/reddit/{split}_answersonly.json").read_text())
    pulled = []
    for i, rec in enumerate(records[:keep]):
        pulled.append({**rec, "query_title_en": f"stand-in title {i}",
                       "query_content_en": f"stand-in content {i}"})
        for image_id in rec["image_ids"]:
            picture(root / f"dermavqa/reddit/images_{split}" / f"{image_id}.jpg", i)
    (root / f"dermavqa/reddit/{split}_downloaded.json").write_text(json.dumps(pulled))
    return [r["encounter_id"] for r in pulled]

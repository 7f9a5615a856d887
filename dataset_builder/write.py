"""Stage 7, write: the MM-Skin layout the harness's dataset adapter reads, and its statistics.

    <out>/MM-Skin/images/<file>
    <out>/MM-Skin/Dataframe/{train,test}/vqa/MM-Skin_{split}.csv      image,question,answer,modality
    <out>/MM-Skin/Dataframe/{train,test}/caption/MM-Skin_{split}.csv  image,caption,modality,age,sex
    <out>/MM-Skin/metadata.csv      image,modality,age,sex,caption,source_pdf,page,figure,panel,
                                    review (why a written image still needs a person's look),
                                    demographics_source (caption, or the case text's page and
                                    paragraph)
    <out>/MM-Skin/split.csv         image,split,source_pdf,figure (how the split was made)
    <out>/MM-Skin/stats.json, stats.md

``image`` is relative to ``<out>/MM-Skin``. The split is by source figure (all panels of one
figure on the same side), decided by a seeded hash of (PDF, figure) so adding a book does not
move the figures already placed. Pages are 1-based in ``metadata.csv``, as printed.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

from harness.errors import UsageError

from .align import all_pairs
from .filters import MODALITY_REASON
from .modality import SKIN_MODALITIES, read_verified
from .records import read_jsonl, write_atomic
from .stats import dataset_stats, stats_markdown
from .vqa_gen import latest


def demographics_source(d: dict[str, Any]) -> str:
    """Where the age and sex came from: ``caption``, ``text, page P paragraph K``, or both."""
    age, sex = d.get("age_source"), d.get("sex_source")
    if age == sex or not (age and sex):
        return age or sex or ""
    return f"age: {age}; sex: {sex}"


def split_of(pdf_id: str, figure: str, seed: int, test_fraction: float) -> str:
    h = hashlib.sha256(f"{seed}:{pdf_id}:{figure}".encode()).digest()
    return "test" if int.from_bytes(h[:8], "big") / 2**64 < test_fraction else "train"


def _csv(rows: list[dict[str, Any]], columns: list[str]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({c: "" if r.get(c) is None else r.get(c) for c in columns})
    return buf.getvalue()


def written_modality(rec: dict[str, Any] | None, verified: str | None) -> str | None:
    """The modality a pair is written with: the reviewer's, else the classifier's -- except
    that an uncertain ``other`` whose runner-up is a skin modality is written as that, flagged,
    rather than lost (a clinical photograph the library mistook for a diagram)."""
    if verified:
        return verified
    rec = rec or {}
    if (rec.get("modality") == "other" and rec.get("review")
            and rec.get("runner_up") in SKIN_MODALITIES):
        return rec["runner_up"]
    return rec.get("modality")


def outcome(decision: dict[str, Any] | None, modality: dict[str, Any] | None,
            verified: str | None, include_review: bool = True) -> tuple[str, str]:
    """("keep" | "review" | "excluded", why) for one pair: what the dataset does with it.

    Only skin modalities are written; ``other`` (diagrams, charts, screenshots, radiology,
    text) is left out. A reviewer's ``verified`` modality overrides the classifier and settles
    a "modality uncertain" review; other review reasons stay.
    """
    if decision is None:
        return "excluded", "not filtered yet"
    if decision["decision"] == "drop":
        return "excluded", "filter: drop"
    written = written_modality(modality, verified)
    if not written:
        return "excluded", "no modality"
    if written not in SKIN_MODALITIES:
        return "excluded", f"not a skin image (modality {written})"
    reasons = [r for r in decision.get("reasons", [])
               if not (verified and r.startswith(MODALITY_REASON))]
    if decision["decision"] == "review" and reasons:
        return ("review", "; ".join(reasons)) if include_review else ("excluded",
                                                                      "filter: review")
    return "keep", ""


def outcomes(work: Path, include_review: bool = True) -> dict[str, tuple[str, str]]:
    """``outcome`` of every aligned pair of a work folder."""
    mod = {r["id"]: r for r in read_jsonl(work / "modality" / "modality.jsonl")}
    verified = read_verified(work)
    decisions = {r["id"]: r for r in read_jsonl(work / "filter" / "decisions.jsonl")}
    return {p["id"]: outcome(decisions.get(p["id"]), mod.get(p["id"]), verified.get(p["id"]),
                             include_review) for p in all_pairs(work)}


def run_write(work: Path, out: Path, seed: int = 0, test_fraction: float = 0.2,
              include_review: bool = True) -> dict[str, Any]:
    if not 0 <= test_fraction <= 1:
        raise UsageError(f"test fraction {test_fraction} is not between 0 and 1.")
    pairs = all_pairs(work)
    if not pairs:
        raise UsageError(f"no aligned pairs under {work}; run the extract and align stages first.")
    mod = {r["id"]: r for r in read_jsonl(work / "modality" / "modality.jsonl")}
    verified = read_verified(work)
    demo = {r["id"]: r for r in read_jsonl(work / "demographics" / "demographics.jsonl")}
    decisions = {r["id"]: r for r in read_jsonl(work / "filter" / "decisions.jsonl")}
    vqa = latest(work)
    root = out / "MM-Skin"
    (root / "images").mkdir(parents=True, exist_ok=True)
    excluded: Counter[str] = Counter()
    captions, qa, meta, splits = [], [], [], []
    for p in pairs:
        pid = p["id"]
        status, why = outcome(decisions.get(pid), mod.get(pid), verified.get(pid),
                              include_review)
        if status == "excluded":
            excluded[why] += 1
            continue
        modality = written_modality(mod.get(pid), verified.get(pid))
        src = work / p["image"]
        name = f"{pid}{src.suffix}"
        dst = root / "images" / name
        if not dst.exists():
            shutil.copyfile(src, dst)
        d = demo.get(pid, {})
        image = f"images/{name}"
        split = split_of(p["pdf_id"], p["figure"], seed, test_fraction)
        row = {"image": image, "caption": p["text"], "modality": modality, "age": d.get("age"),
               "sex": d.get("sex"), "split": split}
        captions.append(row)
        meta.append({**row, "source_pdf": Path(p["pdf"]).name, "page": p["page"] + 1,
                     "figure": p["figure"], "panel": p["label"] or p["panel"],
                     "review": why if status == "review" else "",
                     "demographics_source": demographics_source(d)})
        splits.append({"image": image, "split": split, "source_pdf": Path(p["pdf"]).name,
                       "figure": p["figure"]})
        v = vqa.get(pid)
        if v is None:
            excluded["no QA yet (captions only)"] += 1
        elif v["status"] != "ok":
            excluded["QA generation failed (captions only)"] += 1
        else:
            qa += [{"image": image, "question": t["q"], "answer": t["a"], "modality": modality,
                    "split": split} for t in v["turns"]]
    for split in ("train", "test"):
        base = root / "Dataframe" / split
        write_atomic(base / "vqa" / f"MM-Skin_{split}.csv",
                     _csv([r for r in qa if r["split"] == split],
                          ["image", "question", "answer", "modality"]))
        write_atomic(base / "caption" / f"MM-Skin_{split}.csv",
                     _csv([r for r in captions if r["split"] == split],
                          ["image", "caption", "modality", "age", "sex"]))
    write_atomic(root / "metadata.csv", _csv(meta, ["image", "modality", "age", "sex", "caption",
                                                     "source_pdf", "page", "figure", "panel",
                                                     "review", "demographics_source"]))
    write_atomic(root / "split.csv", _csv(splits, ["image", "split", "source_pdf", "figure"]))
    stats = dataset_stats(captions, qa)
    stats["excluded"] = dict(excluded)
    stats["split"] = {"seed": seed, "test_fraction": test_fraction, "unit": "source figure",
                      "images": dict(Counter(r["split"] for r in captions))}
    write_atomic(root / "stats.json", json.dumps(stats, indent=2))
    write_atomic(root / "stats.md", stats_markdown(stats))
    return stats

"""The statistics of the paper's Table 2 and Figure 3(b, c) for a written dataset.

Table 2: per modality, images, image-text pairs, QA pairs, and images with a known sex
("# Gender") and age. Figure 3(c): for questions, answers and captions, the average length in
words, the vocabulary size |V| and Herdan's C. The paper writes C = |V| / log N (N = number of
words); the usual definition is log |V| / log N. Both are given (natural logarithms), named.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

TOKEN = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text.lower())


def text_stats(texts: list[str]) -> dict[str, Any]:
    toks = [tokens(t) for t in texts]
    n = sum(len(t) for t in toks)
    vocab = len({w for t in toks for w in t})
    return {
        "count": len(texts),
        "avg_length_words": round(n / len(texts), 2) if texts else 0.0,
        "vocabulary": vocab,
        "words": n,
        "herdan_c_paper": round(vocab / math.log(n), 3) if n > 1 else None,
        "herdan_c": round(math.log(vocab) / math.log(n), 4) if n > 1 and vocab else None,
    }


def dataset_stats(captions: list[dict[str, Any]], qa: list[dict[str, Any]]) -> dict[str, Any]:
    """``captions``: one row per image (image, caption, modality, age, sex); ``qa``: per turn."""
    table: dict[str, dict[str, int]] = {}
    qa_per_image = Counter(r["image"] for r in qa)
    mods = sorted({r["modality"] for r in captions})
    for m in [*mods, "overall"]:
        rows = [r for r in captions if m == "overall" or r["modality"] == m]
        table[m] = {
            "images": len({r["image"] for r in rows}),
            "image_text_pairs": sum(1 for r in rows if r["caption"].strip()),
            "qa_pairs": sum(qa_per_image[r["image"]] for r in rows),
            "gender": sum(1 for r in rows if r["sex"]),
            "age": sum(1 for r in rows if r["age"] not in (None, "")),
        }
    return {
        "table2": table,
        "modality_share": {m: round(table[m]["images"] / max(1, table["overall"]["images"]), 4)
                           for m in mods},
        "text": {"questions": text_stats([r["question"] for r in qa]),
                 "answers": text_stats([r["answer"] for r in qa]),
                 "captions": text_stats([r["caption"] for r in captions])},
    }


def stats_markdown(s: dict[str, Any]) -> str:
    lines = ["# Dataset statistics", "", "## Table 2: images per modality", "",
             "| Image type | # Images | # Image-text pairs | # QA pairs | # Gender | # Age |",
             "|---|---:|---:|---:|---:|---:|"]
    for m, r in s["table2"].items():
        lines.append(f"| {m} | {r['images']} | {r['image_text_pairs']} | {r['qa_pairs']} | "
                     f"{r['gender']} | {r['age']} |")
    lines += ["", "## Figure 3(c): text", "",
              "| Text | Count | Avg. length (words) | Vocabulary "
              "| Herdan's C (paper: \\|V\\|/ln N) | Herdan's C (ln \\|V\\|/ln N) |",
              "|---|---:|---:|---:|---:|---:|"]
    for k, r in s["text"].items():
        lines.append(f"| {k} | {r['count']} | {r['avg_length_words']} | {r['vocabulary']} | "
                     f"{r['herdan_c_paper']} | {r['herdan_c']} |")
    lines += ["", "## Figure 3(b): modality share", ""]
    lines += [f"- {m}: {v:.1%}" for m, v in s["modality_share"].items()]
    if "excluded" in s:
        lines += ["", "## Left out", ""]
        lines += [f"- {k}: {v}" for k, v in s["excluded"].items()]
    return "\n".join(lines) + "\n"

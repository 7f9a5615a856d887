"""Score a builder run against a hand-made truth file: figures, captions, panels, sub-captions.

A truth file (``tests/builder_truth/*.json``, schema in that folder's README) lists every
figure of one PDF with its printed caption and its panels (1-based page, box in PDF points,
letter, sub-caption, modality, whether it shows skin). It is made by looking at rendered pages,
never from the builder's output, so these scores measure the builder rather than echo it.

Scores, per PDF:

- ``figures``: share of truth figures whose caption was accepted on the right page and, when
  the figure has raster panels, that got at least one of them;
- ``caption_text``: share of figures whose caption text is exactly the printed one (after
  Unicode NFKC and whitespace normalisation); a truth file of an article whose licence does
  not allow copying its text gives ``caption_sha256`` / ``subcaption_sha256`` (of the
  normalised text, ``text_hash``) instead of the words;
- ``panel_recall`` / ``panel_precision``: builder panels matched one-to-one to truth panels
  on the same page (box IoU >= ``IOU``);
- ``caption_pairing``: matched panels given the right figure's caption;
- ``subcaption``: truth panels whose matched panel got exactly the printed sub-caption
  (normalised as above, outer punctuation ignored); an unmatched panel counts as wrong;
- ``written_non_skin``: images the write stage would put in the dataset, unflagged, that are
  not a truth panel showing skin -- the number that must be 0; ``review_non_skin`` counts the
  ones written but flagged for the review the paper's "verified manually" step needs;
- ``clean_skin_flagged`` / ``clean_skin_written``: skin panels with nothing drawn into them
  (no ``marks`` in the truth) that were written flagged for review -- false alarms, whose
  share says whether "review" means what it says.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from pathlib import Path
from typing import Any

IOU = 0.5
SKIN_MODALITIES = ("clinical", "dermoscopy", "pathology")


def load_truth(path: Path) -> dict[str, Any]:
    truth = json.loads(path.read_text(encoding="utf-8"))
    for f in truth["figures"]:
        for p in f["panels"]:
            p.setdefault("page", f["page"])
            p["figure"] = f["figure"]
    return truth


def norm(text: str | None) -> str:
    """NFKC, one space between words, outer spaces and end punctuation dropped."""
    t = " ".join(unicodedata.normalize("NFKC", text or "").split())
    return re.sub(r"^[\s.;,:]+|[\s.;,:]+$", "", t)


def text_hash(text: str | None) -> str:
    """SHA-256 of the normalised text: truth for a caption that may not be copied."""
    return hashlib.sha256(norm(text).encode("utf-8")).hexdigest()


def same_text(got: str | None, truth: dict[str, Any], key: str) -> bool:
    """``got`` is the truth's ``key`` text, or hashes to its ``key_sha256``."""
    if key in truth:
        return norm(got) == norm(truth[key])
    return text_hash(got) == truth[f"{key}_sha256"]


def iou(a: list[float], b: list[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match_panels(truth_panels: list[dict[str, Any]], pairs: list[dict[str, Any]]
                 ) -> list[tuple[dict[str, Any], dict[str, Any], float]]:
    """One-to-one matches, best overlap first; builder pages are 0-based, truth pages 1-based."""
    cands = sorted(((iou(t["bbox"], p["bbox"]), ti, pi)
                    for ti, t in enumerate(truth_panels) for pi, p in enumerate(pairs)
                    if p["page"] + 1 == t["page"]), reverse=True)
    used_t: set[int] = set()
    used_p: set[int] = set()
    out = []
    for v, ti, pi in cands:
        if v < IOU or ti in used_t or pi in used_p:
            continue
        used_t.add(ti)
        used_p.add(pi)
        out.append((truth_panels[ti], pairs[pi], v))
    return out


def score_pdf(truth: dict[str, Any], pairs: list[dict[str, Any]],
              captions: list[dict[str, Any]], outcomes: dict[str, tuple[str, str]] | None = None
              ) -> dict[str, Any]:
    """Scores of one PDF's pairs and captions; ``outcomes`` (pair id -> (status, reason), see
    ``write.outcome``) adds what the written dataset would hold."""
    panels = [p for f in truth["figures"] for p in f["panels"]]
    matched = match_panels(panels, pairs)
    by_truth = {id(t): (p, v) for t, p, v in matched}
    accepted = [c for c in captions if not c.get("rejected")]
    failures: list[str] = []
    found = text_ok = 0
    for f in truth["figures"]:
        caps = [c for c in accepted if c["figure"] == f["figure"] and c["page"] + 1 == f["page"]]
        got_panel = any(id(p) in by_truth and by_truth[id(p)][0]["figure"] == f["figure"]
                        for p in f["panels"])
        if caps and (got_panel or not f["panels"]):
            found += 1
        else:
            failures.append(f"figure {f['figure']}: " + ("no caption" if not caps
                                                          else "no panel paired"))
        if caps and same_text(caps[0]["text"], f, "caption"):
            text_ok += 1
        elif caps:
            failures.append(f"figure {f['figure']} caption: got {norm(caps[0]['text'])!r}")
    pairing = sum(p["figure"] == t["figure"] for t, p, _ in matched)
    sub_ok = 0
    for t in panels:
        hit = by_truth.get(id(t))
        if hit and same_text(hit[0]["subcaption"], t, "subcaption"):
            sub_ok += 1
        else:
            got = norm(hit[0]["subcaption"]) if hit else "(panel not found)"
            failures.append(f"panel {t['figure']}{t.get('label') or ''} p{t['page']} "
                            f"sub-caption: got {got[:120]!r}")
    n_fig, n_pan = len(truth["figures"]), len(panels)
    res: dict[str, Any] = {
        "pdf": truth["pdf"], "figures_truth": n_fig, "panels_truth": n_pan,
        "panels_built": len(pairs), "matched": len(matched),
        "figures": found / n_fig if n_fig else 1.0,
        "caption_text": text_ok / n_fig if n_fig else 1.0,
        "panel_recall": len(matched) / n_pan if n_pan else 1.0,
        "panel_precision": len(matched) / len(pairs) if pairs else 1.0,
        "caption_pairing": pairing / len(matched) if matched else 1.0,
        "subcaption": sub_ok / n_pan if n_pan else 1.0,
        "mean_iou": sum(v for *_, v in matched) / len(matched) if matched else None,
        "failures": failures,
    }
    if outcomes is not None:
        res.update(_dataset_scores(panels, matched, pairs, outcomes))
    return res


def _dataset_scores(panels: list[dict[str, Any]], matched: list, pairs: list[dict[str, Any]],
                    outcomes: dict[str, tuple[str, str]]) -> dict[str, Any]:
    skin_of = {p["id"]: t.get("skin", False) and t["modality"] in SKIN_MODALITIES
               for t, p, _ in matched}
    marked = {p["id"] for t, p, _ in matched if t.get("marks")}
    written_non_skin, review_non_skin, skin_written = [], [], 0
    clean_flagged, clean_written = [], 0
    for p in pairs:
        status, reason = outcomes.get(p["id"], ("excluded", "no decision"))
        if status == "excluded":
            continue
        if skin_of.get(p["id"]):
            skin_written += 1
            if p["id"] not in marked:  # nothing drawn into it: a flag is a false alarm
                clean_written += 1
                if status == "review":
                    clean_flagged.append(f"{p['id']}: {reason}")
        elif status == "review":
            review_non_skin.append(f"{p['id']}: {reason}")
        else:
            written_non_skin.append(p["id"])
    n_skin = sum(1 for t in panels if t.get("skin") and t["modality"] in SKIN_MODALITIES)
    return {"written_non_skin": len(written_non_skin), "written_non_skin_ids": written_non_skin,
            "review_non_skin": len(review_non_skin), "review_non_skin_ids": review_non_skin,
            "skin_panels": n_skin, "skin_written": skin_written,
            "clean_skin_written": clean_written, "clean_skin_flagged": len(clean_flagged),
            "clean_skin_flagged_ids": clean_flagged}


def modality_accuracy(truth: dict[str, Any], pairs: list[dict[str, Any]],
                      predicted: dict[str, str | None]) -> tuple[int, int]:
    """(correct, matched) modality decisions on the panels matched to the truth."""
    panels = [p for f in truth["figures"] for p in f["panels"]]
    matched = match_panels(panels, pairs)
    return sum(predicted.get(p["id"]) == t["modality"] for t, p, _ in matched), len(matched)


def build_and_score(pdf: Path, truth: dict[str, Any], work: Path, library: Any,
                    times: dict[str, float] | None = None) -> dict[str, Any]:
    """Run every stage but the LLM (template questions) on one PDF and score the result.

    ``library``: the modality library to use -- for an honest score, one without this PDF's
    own references (``Library.without``). ``times`` collects wall seconds per stage.
    """
    import time

    from .align import all_pairs, run_align
    from .demographics import run_demographics
    from .extract import file_id, run_extract
    from .filters import run_filter
    from .modality import run_modality
    from .records import read_jsonl
    from .vqa_gen import TemplateBackend, run_vqa
    from .write import outcomes, run_write

    times = {} if times is None else times
    stages = [("extract", lambda: run_extract([pdf], work, quiet=True)),
              ("align", lambda: run_align(work, quiet=True)),
              ("modality", lambda: run_modality(work, library, quiet=True)),
              ("demographics", lambda: run_demographics(work)),
              ("filter", lambda: run_filter(work, quiet=True)),
              ("vqa (template)", lambda: run_vqa(work, TemplateBackend(), quiet=True)),
              ("write", lambda: run_write(work, work / "out"))]
    for name, fn in stages:
        t = time.perf_counter()
        fn()
        times[name] = times.get(name, 0.0) + time.perf_counter() - t
    pid = file_id(pdf)
    captions = list(read_jsonl(work / "align" / f"{pid}.captions.jsonl"))
    return score_pdf(truth, all_pairs(work), captions, outcomes(work))

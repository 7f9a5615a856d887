"""Fixed prediction sets for the benchmark scorer fixtures, derived from the real metadata.

Plain Python (no harness import): ``make_benchmark_fixtures.py`` runs it inside the
organisers' environment, the tests run it inside the harness's, so both score the same texts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "metadata"
IIYI_VALID = SHARED / "dermavqa" / "iiyi" / "valid_ht.json"
REDDIT_VALID = SHARED / "dermavqa" / "reddit" / "valid_answersonly.json"
MAGIC_VALID = SHARED / "mediqa-magic-2025" / "valid_cvqa.json"
CONSTANT = {"en": "This looks like eczema. Apply a topical steroid cream twice a day.",
            "es": "Parece un eccema. Aplique una crema con corticoide dos veces al día.",
            "zh": "湿疹，外用激素药膏，每天两次。"}
# Encounters whose BERTScore is compared (the encoder is slow on two shared cores).
BERT_ENCOUNTERS = 10
BERT_SETS = ("first_reference", "shuffled", "truncated")
# The quick comparison in `make test`: one set on the first encounters only.
BERT_QUICK = {"encounters": 3, "set": "shuffled"}


def load(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text(encoding="utf-8"))


def prediction_sets(truth: list[dict[str, Any]], lang: str) -> dict[str, list[str]]:
    """Set name -> one prediction per encounter, in file order."""
    first = [t["responses"][0][f"content_{lang}"] for t in truth]
    last = [t["responses"][-1][f"content_{lang}"] for t in truth]
    return {
        "first_reference": first,
        "last_reference": last,
        "shuffled": first[1:] + first[:1],  # another encounter's answer
        "truncated": [p[: max(1, len(p) // 2)] for p in first],
        "uppercase": [p.upper() for p in last],  # the scorer lower-cases predictions only
        "constant": [CONSTANT[lang]] * len(truth),
        "empty_first": [""] + first[1:],
    }


def closedqa_sets(gold: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Set name -> a system answer file in the challenge's format (option index per qid)."""
    def shifted(k: int) -> list[dict[str, Any]]:
        out = []
        for i, rec in enumerate(gold):
            other = gold[(i + k) % len(gold)]
            out.append({key: (val if key == "encounter_id" else other[key])
                        for key, val in rec.items()})
        return out

    all_last = [{k: (v if k == "encounter_id" else 0) for k, v in rec.items()} for rec in gold]
    return {"gold": [dict(r) for r in gold], "shifted1": shifted(1), "shifted7": shifted(7),
            "zeros": all_last}

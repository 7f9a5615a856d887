"""Rebuild tests/oracle/llava-med-review/: LLaVA-Med's summarize script on recorded replies.

    python tests/oracle/llava_med_review.py record             # replies.jsonl (harness venv)
    PYTHON=/venv/with/pandas/bin/python \\
      python tests/oracle/llava_med_review.py summarize --llava-med DIR   # expected.json

``record`` asks a real judge over HTTP (tests/api_server.py in judge mode, on 127.0.0.1)
to review the demo's test answers of the ``majority`` baseline under the harness's
``llava-med`` protocol (the reference as Assistant 1, as LLaVA-Med asks), and writes each
reply in the record layout that ``summarize_gpt_review.py`` reads (question_id, type,
domain, gpt_eval). A few hand-made replies with fractional scores are added, so that the
rule's arithmetic is exercised beyond integers. ``summarize`` runs that script, unchanged,
from a checkout of microsoft/LLaVA-Med (DIR) in a Python that has pandas, and stores the
table it prints as JSON. None of LLaVA-Med's code is copied here.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent / "llava-med-review"
# LLaVA-Med's domains (summarize_gpt_review.py:11); the demo's modalities mapped onto them
# (dermoscopy has none, so its rows fall under no domain column, as theirs would).
DOMAINS = ("chest_xray", "mri", "histology", "gross", "ct_scan")
DOMAIN_OF = {"pathology": "histology", "clinical": "gross"}
EXTRA = [("extra-1", "detailed_description", "gross", "7.5 9\nfractional reference score"),
         ("extra-2", "detailed_description", "histology", "3 2.5\n"),
         ("extra-3", "conversation", None, "9 9\nequal")]


def record() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from harness.judge.judging import call_key, judge_pairs
    from harness.judge.protocols import Pair
    from harness.judge.store import JudgeStore
    from harness.plugin_manager import get_registries
    from tests.api_server import ApiServer
    from tests.judge_helpers import server_judge

    regs = get_registries()
    samples = list(regs.datasets.get("demo-vqa").load(None, "test"))[:40]
    majority = regs.models.get("majority")
    from harness.runner import load_model

    model = load_model(regs, majority.name)
    from harness.types import Request

    answers = model.generate([Request(s.id, s.question or "") for s in samples])
    pairs = [Pair(s.id, s.question or "", s.answer or "", str(a), s.modality or "")
             for s, a in zip(samples, answers, strict=True)]
    import tempfile

    with ApiServer(answers="judge") as server, tempfile.TemporaryDirectory() as tmp:
        config = server_judge(regs, server, "llava-med")
        judge_pairs(config, pairs, Path(tmp))
        stored = JudgeStore(Path(tmp)).load()
    rows = []
    protocol = config.protocol
    for s, pair in zip(samples, pairs, strict=True):
        forward = stored[call_key(config, protocol.calls(pair)[0])]
        domain = DOMAIN_OF.get(s.modality or "")
        rows.append({"question_id": s.id, "type": "conversation",
                     "domain": {d: d == domain for d in DOMAINS}, "gpt_eval": forward.reply})
    for qid, kind, domain, reply in EXTRA:
        rows.append({"question_id": qid, "type": kind,
                     "domain": {d: d == domain for d in DOMAINS}, "gpt_eval": reply})
    HERE.mkdir(exist_ok=True)
    (HERE / "replies.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"wrote {len(rows)} replies to {HERE / 'replies.jsonl'}")


DRIVER = """
import json, sys
sys.path.insert(0, sys.argv[1])
import pandas as pd
import summarize_gpt_review as s
printed = []
s.print = printed.append  # the script prints its table; keep the DataFrame itself
s.main(type("Args", (), {"scores_file": sys.argv[2]})())
df = printed[0]
print(json.dumps({"pandas": pd.__version__,
                  "table": {c: {k: float(v) for k, v in df[c].items()} for c in df.columns}}))
"""


def summarize(llava_med: Path) -> None:
    python = os.environ.get("PYTHON", sys.executable)
    src = llava_med / "llava" / "eval"
    out = subprocess.run([python, "-c", DRIVER, str(src), str(HERE / "replies.jsonl")],
                         check=True, capture_output=True, text=True).stdout
    result = json.loads(out)
    commit = subprocess.run(["git", "-C", str(llava_med), "rev-parse", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    commit = commit or os.environ.get("LLAVA_MED_COMMIT", "?")  # an exported tree has no git
    result["source"] = f"microsoft/LLaVA-Med@{commit} llava/eval/summarize_gpt_review.py"
    (HERE / "expected.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(json.dumps(result["table"], indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="step", required=True)
    sub.add_parser("record")
    s = sub.add_parser("summarize")
    s.add_argument("--llava-med", type=Path, required=True)
    args = parser.parse_args()
    record() if args.step == "record" else summarize(args.llava_med)


if __name__ == "__main__":
    main()

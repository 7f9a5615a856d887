"""harness leaderboard: Markdown from hand-made results folders, compared with expected text."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from leaderboard_fixtures import text_scores, write_run

from harness.leaderboards import baselines, build
from harness.leaderboards.cli import leaderboard

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
METRICS = "../results/{}/metrics.json"


def section(text: str, start: str, end: str = "\n\n") -> str:
    """The part of ``text`` from the line starting with ``start`` to the next blank line."""
    i = text.index(start)
    return text[i: text.index(end, i)]


def generate(tmp_path: Path) -> dict[str, str]:
    out = tmp_path / "boards"
    outcome = build.write(tmp_path / "results", out)
    assert not outcome.problems
    return {p.name: p.read_text() for p in out.glob("*.md")}


def probe_runs(results: Path) -> None:
    counts = {"Nevus": 3, "Melanoma": 1}
    write_run(results, "probe/demo", "alpha", "probe", "demo",
              {"overall": {"accuracy": 0.5, "recall_macro": 0.4}, "label_counts": counts,
               "ci": {"accuracy": [0.25, 0.75]}})
    write_run(results, "probe/demo", "beta", "probe", "demo",
              {"overall": {"accuracy": 0.7}, "label_counts": counts}, answered=90)
    write_run(results, "probe/demo", "gamma", "probe", "demo",
              {"overall": {"accuracy": 0.7, "recall_macro": 0.6}, "label_counts": counts})


def test_probe_table_bold_best_missing_cells_and_baselines(tmp_path: Path) -> None:
    probe_runs(tmp_path / "results")
    text = generate(tmp_path)["probe.md"]
    link = METRICS.format("probe/demo/{}")
    expected = "\n".join([
        "| Model | demo<br>ACC | demo<br>Recall |",
        "|---|---:|---:|",
        f"| alpha | [50.00]({link.format('alpha')}) (25.00–75.00) |"
        f" [40.00]({link.format('alpha')}) ↓ |",
        f"| beta | **[70.00]({link.format('beta')})** (coverage 90.0%) | - |",
        f"| gamma | **[70.00]({link.format('gamma')})** | **[60.00]({link.format('gamma')})** |",
        "| *majority class* | 75.00[^1] | 50.00 |",
        "| *uniform chance* | 50.00 | 50.00 |",
    ])
    assert section(text, "| Model |") == expected
    assert "↓: below the uniform-chance baseline" in text
    assert "[^1]: `demo` test split: Nevus 3/4 = 75.00%, K = 2 classes" in text
    assert "reported" not in section(text, "| Model |")  # the paper has no demo column


def test_zeroshot_reported_rows_and_difference_use_the_paper_matcher(tmp_path: Path) -> None:
    results = tmp_path / "results"
    write_run(results, "zeroshot/ham10000", "llava-med-7b", "zeroshot", "ham10000", {
        "overall": {"accuracy": 0.0400, "precision_macro_union": 0.0200,
                    "precision_macro": 0.0300},
        "paper_matcher": {"overall": {"accuracy": 0.0600, "precision_macro_union": 0.0100,
                                      "precision_macro": 0.0150}},
        "label_counts": {"Nevus": 6, "Melanoma": 2, "Actinic Keratosis": 2},
        "scoring": {"matcher": "sound"}, "match_counts": {"exact": 9, "none": 1},
        "unmatched_rate": 0.1, "ambiguous_rate": 0.0,
        "confusion": [[1, 1, 0, 0], [0, 2, 0, 0], [1, 0, 4, 1]],
        "confusion_rows": ["Actinic Keratosis", "Melanoma", "Nevus"],
        "confusion_columns": ["Actinic Keratosis", "Melanoma", "Nevus", "unmatched"]},
        classes=["Actinic Keratosis", "Melanoma", "Nevus"], protocol="sound",
        folder="zeroshot/ham10000+protocol=sound")
    text = generate(tmp_path)["zeroshot.md"]
    table = section(text, "| Model |")
    link = METRICS.format("zeroshot/ham10000+protocol=sound/llava-med-7b")
    lines = table.splitlines()
    heads = " | ".join(f"{d}<br>ACC | {d}<br>precision | {d}<br>precision (true classes)"
                       for d in ("Patch16", "PAD-UFES-20", "HAM10000"))
    assert lines[0] == f"| Model | {heads} |"
    assert lines[2] == (f"| llava-med-7b | - | - | - | - | - | - | [4.00]({link}) ↓ | "
                        f"[2.00]({link}) ↓ | [3.00]({link}) ↓ |")
    assert lines[3] == (f"| ↳ llava-med-7b, paper matcher[^1] | - | - | - | - | - | - | "
                        f"[6.00]({link}) ↓ | [1.00]({link}) ↓ | [1.50]({link}) ↓ |")
    # Table 5's precision is the authors' (precision_macro_union); ours has no paper value
    assert lines[4] == ("| ↳ reported: LLaVA-Med-7B[^2] | 68.55 | 82.83 | n/a | 32.39 | 7.76 | "
                        "n/a | 5.49 | 1.43 | n/a |")
    assert lines[5] == ("| ↳ Δ paper matcher − reported | - | - | n/a | - | - | n/a | +0.51 | "
                        "-0.43 | n/a |")
    assert ("| reported only: SkinVL-PubMM[^2] | 82.34 | 86.65 | n/a | 35.65 | 41.88 | n/a | "
            "51.29 | 37.37 | n/a |") in lines
    # majority = 6/10; precision (6/10)/3; chance 1/3; no baseline where nothing was run
    assert lines[-2] == ("| *majority class* | - | - | - | - | - | - | 60.00[^3] | 20.00 | "
                         "20.00 |")
    assert lines[-1] == ("| *uniform chance* | - | - | - | - | - | - | 33.33 | 33.33 | "
                         "33.33 |")
    assert "## Zero-shot classification, `protocol=sound`" in text
    png = tmp_path / "boards/figures/zeroshot-ham10000-protocol-sound-llava-med-7b-confusion.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_paper_protocol_run_is_compared_with_the_paper_directly(tmp_path: Path) -> None:
    results = tmp_path / "results"
    write_run(results, "zeroshot/ham10000", "llava-med-7b", "zeroshot", "ham10000", {
        "overall": {"accuracy": 0.0600, "precision_macro_union": 0.0100,
                    "precision_macro": 0.0150},
        "alternatives": {"sound-matcher": {"overall": {
            "accuracy": 0.0400, "precision_macro_union": 0.0200, "precision_macro": 0.0300}}},
        "label_counts": {"Nevus": 6, "Melanoma": 2, "Actinic Keratosis": 2},
        "scoring": {"matcher": "paper"}}, protocol="paper", preset="paper-zeroshot")
    text = generate(tmp_path)["zeroshot.md"]
    lines = section(text, "| Model |").splitlines()
    link = METRICS.format("zeroshot/ham10000/llava-med-7b")
    assert lines[2].startswith("| llava-med-7b | ")  # no footnote: the protocol's decoding
    assert f"[6.00]({link}) ↓ | [1.00]({link}) ↓ | [1.50]({link}) ↓ |" in lines[2]
    assert lines[3].startswith("| ↳ llava-med-7b, sound matcher[^1] |")
    assert lines[5] == ("| ↳ Δ paper matcher − reported | - | - | n/a | - | - | n/a | +0.51 | "
                        "-0.43 | n/a |")
    assert "| `zeroshot/ham10000` | llava-med-7b |" in text
    assert "| paper | paper-zeroshot | 100 | 100.0% |" in text  # the runs index


def vqa_runs(results: Path, paper_bertscore: bool) -> None:
    info = ({"bertscore": {"version": "1", "params": {"model": "bert-base-uncased", "layer": 9}}}
            if paper_bertscore else
            {"bertscore-minilm-l6": {"version": "1", "params": {"model": "all-MiniLM-L6-v2",
                                                                "layer": 5}}})
    key = "bertscore" if paper_bertscore else "bertscore-minilm-l6"
    write_run(results, "vqa/mm-skin", "llava-med-7b", "vqa", "mm-skin", text_scores(
        {"pathology": {"bleu4": 0.08, key: 0.6}, "clinical": {"bleu4": 0.07}},
        {"bleu4": 0.075, key: 0.6}, ci={"bleu4": [0.07, 0.08]}, bertscore=info))


def test_vqa_offline_bertscore_is_never_beside_the_papers_column(tmp_path: Path) -> None:
    vqa_runs(tmp_path / "results", paper_bertscore=False)
    text = generate(tmp_path)["vqa.md"]
    table = section(text, "| Model |")
    header = table.splitlines()[0].split(" | ")
    pathology = [h for h in header if h.startswith("Pathology")]
    assert pathology == ["Pathology<br>Bleu-4", "Pathology<br>Meteor", "Pathology<br>Rouge-l",
                         "Pathology<br>BertScore[^2]", "Pathology<br>recall",
                         "Pathology<br>bertscore-minilm-l6[^1]"]
    rows = {r.split(" | ")[0]: r.split(" | ") for r in table.splitlines()[2:]}
    reported_row = rows["| ↳ reported: LLaVA-Med-7B[^3]"]
    delta_row = rows["| ↳ Δ reproduced − reported"]
    ours = rows["| llava-med-7b"]
    minilm = header.index("Pathology<br>bertscore-minilm-l6[^1]")
    bert = header.index("Pathology<br>BertScore[^2]")
    assert "[60.00]" in ours[minilm] and ours[bert] == "-"
    assert reported_row[minilm] == "n/a" and delta_row[minilm] == "n/a"
    assert reported_row[bert] == "63.57" and delta_row[bert] == "-"
    assert delta_row[header.index("Pathology<br>Bleu-4")] == "+0.30"  # 8.00 - 7.70
    assert "A different metric: never compared with the paper's BertScore" in text
    assert "![vqa/mm-skin: Bleu-4 per modality](figures/vqa-mm-skin-modality.png)" in text
    assert (tmp_path / "boards/figures/vqa-mm-skin-modality.png").stat().st_size > 0


def test_vqa_papers_bertscore_is_compared(tmp_path: Path) -> None:
    vqa_runs(tmp_path / "results", paper_bertscore=True)
    table = section(generate(tmp_path)["vqa.md"], "| Model |")
    header = table.splitlines()[0].split(" | ")
    rows = {r.split(" | ")[0]: r.split(" | ") for r in table.splitlines()[2:]}
    col = header.index("Pathology<br>BertScore[^1]")
    assert rows["| ↳ Δ reproduced − reported"][col] == "-3.57"  # 60.00 - 63.57
    assert not any("bertscore" in h for h in header)


def test_mixed_versions_and_fingerprints_are_flagged(tmp_path: Path) -> None:
    results = tmp_path / "results"
    probe_runs(results)
    write_run(results, "probe/demo", "delta", "probe", "demo",
              {"overall": {"accuracy": 0.1}, "label_counts": {"Nevus": 3, "Melanoma": 1}},
              version="0.2.0", fingerprint="e" * 64)
    text = generate(tmp_path)["probe.md"]
    assert "> **Note:** results from different harness versions: 0.1.0 (" in text
    assert "0.2.0 (probe/demo/delta)" in text
    assert ("`probe/demo` was run with different task configurations (fingerprints "
            "eeeeeeeeeeee: delta, ffffffffffff: alpha, beta, gamma)") in text


def test_runs_index_traces_every_run(tmp_path: Path) -> None:
    probe_runs(tmp_path / "results")
    text = generate(tmp_path)["probe.md"]
    assert ("| `probe/demo` | alpha | [probe/demo/alpha](../results/probe/demo/alpha) | "
            "0123456789 | ffffffffffff | 0.1.0 | - | - | 100 | 100.0% |") in text


def test_non_default_settings_get_footnotes(tmp_path: Path) -> None:
    results = tmp_path / "results"
    write_run(results, "vqa/demo", "alpha", "vqa", "demo-vqa",
              text_scores({"clinical": {"bleu4": 0.1}}, {"bleu4": 0.1}), preset="paper",
              folder="vqa/demo+decoding=paper", limit=20)
    text = generate(tmp_path)["vqa.md"]
    assert "## `vqa/demo+decoding=paper`" in text
    assert "decoding preset `paper` (the pre-protocol default is `greedy`)" in text
    assert "`--limit 20`: only the first 20 samples were evaluated" in text
    assert "reported" not in text.split("## Runs")[0].split("# VQA leaderboard")[1].split(
        "\n\n", 2)[2]  # no paper rows for the demo set


def test_fairness_table_and_worst_group_gap(tmp_path: Path) -> None:
    results = tmp_path / "results"
    groups = {"sex": {"female": {"n": 40, "accuracy": 0.8}, "male": {"n": 40, "accuracy": 0.6}},
              "fitzpatrick": {"1": {"n": 50, "accuracy": 0.9}, "5": {"n": 10, "accuracy": 0.5},
                              "10": {"n": 30, "accuracy": 0.7}}}
    write_run(results, "probe/ddi", "alpha", "probe", "ddi",
              {"overall": {"accuracy": 0.7}, "label_counts": {"a": 1, "b": 1},
               "groups": groups})
    text = generate(tmp_path)["fairness.md"]
    link = METRICS.format("probe/ddi/alpha")
    assert section(text, "| Model | female") == "\n".join([
        "| Model | female | male | gap (best − worst) | worst group |",
        "|---|---:|---:|---:|---:|",
        f"| alpha | [80.00]({link}) (n=40) | [60.00]({link}) (n=40) | 20.00 | male (60.00) |",
    ])
    fitz = section(text, "| Model | 1 |")
    assert fitz.splitlines()[0] == "| Model | 1 | 5 | 10 | gap (best − worst) | worst group |"
    assert fitz.splitlines()[2].endswith("(n=10)[^1] | [70.00](" + link + ") (n=30) | 40.00 | "
                                         "5 (50.00) |")
    assert "| `probe/ddi` · alpha | 20.00 | - | 40.00 |" in text


def test_check_detects_stale_missing_and_orphaned_markdown(tmp_path: Path) -> None:
    results, out = tmp_path / "results", tmp_path / "boards"
    probe_runs(results)
    runner = CliRunner()
    args = ["--results", str(results), "--out", str(out)]
    assert runner.invoke(leaderboard, args + ["--check"]).exit_code == 1  # nothing written yet
    assert runner.invoke(leaderboard, args).exit_code == 0
    ok = runner.invoke(leaderboard, args + ["--check"])
    assert ok.exit_code == 0, ok.output
    # a changed result
    path = results / "probe/demo/alpha/metrics.json"
    metrics = json.loads(path.read_text())
    metrics["scores"]["overall"]["accuracy"] = 0.55
    path.write_text(json.dumps(metrics))
    stale = runner.invoke(leaderboard, args + ["--check"])
    assert stale.exit_code == 1
    assert "probe.md: differs" in stale.output and "+| alpha | [55.00]" in stale.output
    assert runner.invoke(leaderboard, args).exit_code == 0
    assert runner.invoke(leaderboard, args + ["--check"]).exit_code == 0
    # a generated file that the results no longer produce, and a hand-written one left alone
    (out / "zeroshot.md").write_text((out / "probe.md").read_text())
    (out / "notes.md").write_text("hand-written\n")
    orphan = runner.invoke(leaderboard, args + ["--check"])
    assert orphan.exit_code == 1 and "zeroshot.md: no longer produced" in orphan.output
    assert runner.invoke(leaderboard, args).exit_code == 0
    assert not (out / "zeroshot.md").exists() and (out / "notes.md").exists()


def test_output_is_deterministic(tmp_path: Path) -> None:
    probe_runs(tmp_path / "results")
    vqa_runs(tmp_path / "results", paper_bertscore=False)
    first = generate(tmp_path)
    png = (tmp_path / "boards/figures/vqa-mm-skin-modality.png").read_bytes()
    assert generate(tmp_path) == first
    assert (tmp_path / "boards/figures/vqa-mm-skin-modality.png").read_bytes() == png


def test_unreadable_results_keep_the_last_good_tables(tmp_path: Path) -> None:
    """An unreadable input leaves every table as it was (exit 1, the file named), unless
    --skip-unreadable asks for tables without it (then overview.md names it)."""
    results, out = tmp_path / "results", tmp_path / "boards"
    probe_runs(results)
    before = generate(tmp_path)
    bad = results / "probe/demo/broken"
    bad.mkdir()
    (bad / "metrics.json").write_text("{not json")
    outcome = build.write(results, out)
    assert outcome.kept and outcome.written == [] and outcome.removed == []
    assert outcome.problems == [
        "probe/demo/broken/metrics.json is not valid JSON; delete it and run `harness score` "
        "to write it again"]
    assert {p.name: p.read_text() for p in out.glob("*.md")} == before
    outcome = build.write(results, out, skip_unreadable=True)
    assert not outcome.kept
    assert "probe/demo/broken/metrics.json is not valid JSON" in (out / "overview.md").read_text()


def test_majority_baseline_on_the_papers_ham10000_test_split() -> None:
    path = SHARED / "mmskin-splits/classification/HAM10000_test.csv"
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared reference data)")
    import ast
    import csv
    from collections import Counter

    with open(path, newline="") as f:
        counts = Counter(ast.literal_eval(r["categories"])[0] for r in csv.DictReader(f))
    assert baselines.majority_class(counts) == ("Nevus", 908, 1511)
    assert f"{100 * baselines.baseline('majority', 'accuracy', counts):.2f}" == "60.09"
    assert f"{100 * baselines.baseline('chance', 'accuracy', counts):.2f}" == "14.29"  # 1/7


def test_attached_to_the_harness_cli_and_no_plotting_import() -> None:
    code = ("import sys, harness.cli as c; "
            "import harness.leaderboards.tables, harness.leaderboards.fairness; "
            "assert 'leaderboard' in c.cli.commands; assert 'matplotlib' not in sys.modules; "
            "print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.strip() == "ok", done.stderr


def demo_results_ready() -> bool:
    try:
        from harness.metrics import score_classification, score_text  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.skipif(not demo_results_ready(), reason="harness.metrics is not complete yet")
def test_built_from_real_demo_runs(tmp_path: Path) -> None:
    """Real runs of the built-in baselines (a few samples each) through the runner."""
    from harness.plugin_manager import get_registries
    from harness.runner import RunOptions, run

    results = tmp_path / "results"
    regs = get_registries()
    fast = {"bootstrap": "20"}
    for model, task, options in (
        ("majority", "vqa/demo", {**fast, "metrics": "bleu4,rougeL,recall"}),  # no encoder load
        ("majority", "zeroshot/demo", fast), ("chance", "zeroshot/demo", fast),
        ("colour-lbp", "probe/demo", fast),
    ):
        run(regs, RunOptions(model=model, tasks=(task,), output=results, limit=24,
                             batch_size=24, task_options=options))
    docs = generate(tmp_path)
    assert sorted(docs) == ["fairness.md", "overview.md", "probe.md", "vqa.md", "zeroshot.md"]
    zs = docs["zeroshot.md"]
    counts = json.loads((results / "zeroshot/demo/majority/metrics.json").read_text())[
        "scores"]["label_counts"]
    _, n_max, total = baselines.majority_class(counts)
    assert f"| *majority class* | {100 * n_max / total:.2f}[^" in zs
    assert "| *uniform chance* | 25.00 | 25.00 |" in zs  # four demo classes
    assert "[png](figures/zeroshot-demo-majority-confusion.png)" in zs
    assert (tmp_path / "boards/figures/zeroshot-demo-majority-confusion.png").exists()
    assert "| majority |" in docs["vqa.md"] and "Clinical<br>Bleu-4" in docs["vqa.md"]
    assert "`--limit 24`" in docs["vqa.md"]
    assert "### By sex" in docs["fairness.md"]
    assert build.check(results, tmp_path / "boards").stale == []


def test_the_terminal_summary_keeps_model_names_whole_and_breaks_task_names_at_their_parts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.leaderboards.summary import print_summary

    results = tmp_path / "results"
    counts = {"Nevus": 3, "Melanoma": 1}
    for folder in ("probe/demo", "probe/demo+protocol=sound"):
        for model in ("alpha", "a-rather-long-model-name"):
            write_run(results, "probe/demo", model, "probe", "demo",
                      {"overall": {"accuracy": 0.5}, "label_counts": counts}, folder=folder)
    monkeypatch.setenv("COLUMNS", "60")
    print_summary(results, None)
    out = capsys.readouterr().out
    assert "a-rather-long-model-name" in out  # on one line, not folded
    assert max(len(line) for line in out.splitlines()) <= 60
    assert "+protocol=sound" in out and "probe/demo+" not in out, out  # its own line

"""What the harness prints and records tells the truth: whole names, demo numbers that mean
what they seem to, figures with something in them, metric records that match the metric.

Each test reproduces a finding of issue 18 with real runs, the real registry and the real
metric functions.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.plugin_manager import get_registries
from harness.runner import RunOptions, run
from tests.cli_helpers import harness_env
from tests.reliability.counts import COUNTS
from tests.reliability.real_roots import mm_skin_root
from tests.reliability.test_bad_input import assert_one_sentence

KINDS = ("models", "tasks", "metrics", "datasets")


def registered(kind: str) -> list[str]:
    regs = get_registries()
    return [s.name for s in {"models": regs.models, "tasks": regs.tasks,
                             "metrics": regs.metrics, "datasets": regs.datasets}[kind]]


def test_list_prints_whole_names_when_piped(tmp_path: Path) -> None:
    """Issue 18: piped at 80 columns, `harness list tasks` printed `zeroshot/ham10…`."""
    proc = subprocess.run([sys.executable, "-m", "harness", "list", "tasks"], cwd=tmp_path,
                          env=harness_env(COLUMNS="80"), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[0] == "name" and "…" not in proc.stdout
    assert [line.split()[0] for line in lines[1:]] == registered("tasks")
    assert max(map(len, lines)) > 80, "rows as wide as they need, not cut at 80 columns"


@pytest.mark.parametrize("kind", KINDS)
def test_list_prints_every_name_whole_and_json_for_scripts(kind: str) -> None:
    from click.testing import CliRunner

    from harness.cli import cli

    names = registered(kind)
    plain = CliRunner().invoke(cli, ["list", kind])  # not a terminal: plain columns
    assert plain.exit_code == 0, plain.output
    assert [line.split()[0] for line in plain.output.splitlines()[1:]] == names
    records = json.loads(CliRunner().invoke(cli, ["list", kind, "--format", "json"]).output)
    assert [r["name"] for r in records] == names
    assert all(isinstance(r["plugin"], str) and r["plugin"] for r in records)


# ---------------------------------------------------------------------------------- the demo

@pytest.fixture(scope="module")
def demo_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "results"
    for model in ("chance", "majority", "knn-retrieval"):
        for task, options in (("vqa/demo", {"bootstrap": "0", "metrics": "bleu4"}),
                              ("zeroshot/demo", {"bootstrap": "0"})):
            run(get_registries(), RunOptions(model=model, tasks=(task,), output=out,
                                             batch_size=32, task_options=options))
    return out


def overall(results: Path, task: str, model: str, metric: str) -> float:
    metrics = json.loads((results / task / model / "metrics.json").read_text())
    return float(metrics["scores"]["overall"][metric])


def test_the_demos_vqa_scores_answers_that_look_at_the_image(demo_results: Path) -> None:
    """Issue 18: every demo answer to a question shared one template, so chance (a random
    training answer) scored BLEU-4 67.6 against knn-retrieval's 80.2."""
    knn = overall(demo_results, "vqa/demo", "knn-retrieval", "bleu4")
    for blind in ("chance", "majority"):
        assert overall(demo_results, "vqa/demo", blind, "bleu4") < knn / 2, blind


def test_the_demos_caption_is_printed_under_its_table_and_holds(
        demo_results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from harness.demo import data
    from harness.demo.run import DEMO_MODELS, caption
    from harness.leaderboards.cli import print_leaderboard

    text = caption()
    print_leaderboard(demo_results, demo_results / "leaderboards", caption=text)
    out = capsys.readouterr().out
    table_end, said, wrote = out.index("└"), out.index(text), out.index("wrote ")
    assert table_end < said < wrote, "the caption sits under the table"
    for model in DEMO_MODELS:
        assert f"- {model}: " in text
    # what it says of majority: balanced classes, so exactly 1/k of the diagnoses
    k = len(data.CLASSES)
    assert f"exactly {100 / k:.0f}% correct" in text
    assert overall(demo_results, "zeroshot/demo", "majority", "accuracy") == 1 / k


def test_the_demo_probes_each_feature_set_once(tmp_path: Path) -> None:
    """Issue 18: knn-retrieval's and colour-lbp's probe rows were identical (same features)."""
    from harness.demo.run import DEMO_MODELS

    regs = get_registries()
    probing = [m for m in DEMO_MODELS if "encode_images" in regs.models.get(m).capabilities]
    assert probing == ["colour-lbp"]
    proc = subprocess.run([sys.executable, "-m", "harness", "run", "--model", "knn-retrieval",
                           "--task", "probe/demo"], cwd=tmp_path, env=harness_env(),
                          capture_output=True, text=True, timeout=120)
    assert_one_sentence(proc, 2, ("knn-retrieval", "encode_images"))


# ----------------------------------------------------------------- the per-modality figure

def test_no_empty_modality_figure_when_the_data_has_no_modality(tmp_path: Path) -> None:
    """Issue 18: with no modality column the per-modality figure was an empty axis."""
    from harness.leaderboards import build

    COUNTS["bad_inputs_tried"] += 1
    root = mm_skin_root(tmp_path / "root", rows=6)  # the paper's file: no modality column
    results = tmp_path / "results"
    run(get_registries(), RunOptions(
        model="chance", tasks=("vqa/mm-skin",), output=results, data_root=root, limit=6,
        model_options={"vqa_index": "demo-vqa"},  # any answers will do: the figure is tested
        task_options={"bootstrap": "0", "metrics": "bleu4"}))
    outcome = build.write(results, tmp_path / "boards")
    assert not outcome.problems
    assert not [p for p in outcome.written if p.suffix == ".png"]
    assert not (tmp_path / "boards/figures").exists()
    vqa = (tmp_path / "boards/vqa.md").read_text()
    assert "No per-modality figure: no run has scores per imaging modality" in vqa
    assert "Per modality (the paper's Table 3)" in vqa  # the paper's columns stay


# ------------------------------------------------------------------ recorded metric settings

@pytest.mark.parametrize("name", ["bleu4", "meteor", "rougeL", "recall"])
def test_a_text_metrics_recorded_case_sensitivity_is_what_it_does(name: str) -> None:
    """Issue 18: METEOR recorded case_sensitive true beside preprocess str.lower."""
    from harness.metrics.wordnet import is_installed

    if name == "meteor" and not is_installed():
        pytest.skip("WordNet for METEOR is not installed (`make setup` installs it)")
    spec = get_registries().metrics.get(name)
    ref = ["the lesion is a red papule on the left arm"]
    upper = spec.fn(["THE LESION IS A RED PAPULE ON THE LEFT ARM"], ref).score()
    same = spec.fn(ref, ref).score()
    assert (upper != same) == spec.params["case_sensitive"], (name, upper, same)

"""Baselines that answer from a training split never answer another task from the demo's.

Issue 18: `knn-retrieval` and `majority` silently used the demo's training index on other
tasks, so every sample failed without a reason (or, for VQA, was answered with the demo's
sentences). Real runs on the paper's HAM10000 and MM-Skin test files.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.reliability.counts import COUNTS
from tests.reliability.real_roots import ham10000_root, mm_skin_root


def run(model: str, task: str, root: Path, out: Path, **model_options: str) -> list[dict]:
    """A real run through the runner (in process: the model's answers are what is tested)."""
    from harness.plugin_manager import get_registries
    from harness.runner import RunOptions
    from harness.runner import run as run_tasks

    (outcome,) = run_tasks(get_registries(), RunOptions(
        model=model, tasks=(task,), output=out, data_root=root, limit=6, batch_size=6,
        model_options=model_options, task_options={"bootstrap": "0", "metrics": "bleu4"}
        if task.startswith("vqa/") else {"bootstrap": "0"}))
    return [json.loads(x) for x in (outcome.folder / "predictions.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def ham_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ham10000_root(tmp_path_factory.mktemp("index") / "root")


@pytest.mark.parametrize("model", ["majority", "knn-retrieval"])
def test_another_datasets_labels_get_a_sentence_naming_the_option(
        model: str, ham_root: Path, tmp_path: Path) -> None:
    COUNTS["bad_inputs_tried"] += 1
    preds = run(model, "zeroshot/ham10000", ham_root, tmp_path)
    assert len(preds) == 6
    for p in preds:
        assert p["output"] is None, "never an answer drawn from the demo's labels"
        assert "none was given for this task" in p["error"] and "-M label_index=" in p["error"]
        assert "'demo'" in p["error"] and "Actinic Keratoses" in p["error"]


def test_another_datasets_questions_get_a_sentence_naming_the_option(tmp_path: Path) -> None:
    COUNTS["bad_inputs_tried"] += 1
    root = mm_skin_root(tmp_path / "root", rows=6)
    for model in ("majority", "chance", "knn-retrieval"):
        preds = run(model, "vqa/mm-skin", root, tmp_path / model)
        assert len(preds) == 6
        for p in preds:
            assert p["output"] is None, (model, p["output"])  # once "The lesion is tan." etc.
            assert "-M vqa_index=" in p["error"] and "'demo-vqa'" in p["error"], p["error"]


def test_the_tasks_own_training_split_is_used_when_named(ham_root: Path, tmp_path: Path) -> None:
    """HAM10000's training metadata (10,015 rows, 6,705 Nevus): majority answers Nevus."""
    preds = run("majority", "zeroshot/ham10000", ham_root, tmp_path,
                label_index="ham10000", index_root=str(ham_root))
    assert [p["output"] for p in preds] == ["Nevus"] * 6

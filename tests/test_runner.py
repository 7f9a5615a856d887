"""The runner end to end: resume after SIGKILL, re-scoring, failures, usage errors."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from harness import hookimpl
from harness.errors import CapabilityError
from harness.model import Model
from harness.plugin_manager import collect, make_plugin_manager
from harness.runner import RunOptions, run
from harness.specs import ModelSpec
from tests.cli_helpers import REPO, harness_env, run_harness, start_harness


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines()]


# Slow: the normal suite's kill-and-resume check is tests/reliability/test_crash.py (4 points).
@pytest.mark.slow
def test_killed_run_resumes_with_every_sample_once(plugin_site: Path, tmp_path: Path) -> None:
    env = harness_env(PYTHONPATH=f"{REPO}:{plugin_site}")
    args = ("run", "--model", "mean-colour", "--task", "vqa/demo", "-M", "delay=0.02",
            "--batch-size", "4", "-T", "bootstrap=50")
    preds = tmp_path / "killed/vqa/demo/mean-colour/predictions.jsonl"
    proc = start_harness(*args, "--output", "killed", cwd=tmp_path, env=env)
    deadline = time.time() + 120
    while time.time() < deadline:
        if preds.exists() and len(preds.read_text().splitlines()) >= 40:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    partial = len(preds.read_text().splitlines())
    assert 40 <= partial < 160, "the kill must land part-way through the run"
    assert not (preds.parent / "metrics.json").exists()

    resumed = run_harness(*args, "--output", "killed", cwd=tmp_path, env=env)
    assert resumed.returncode == 0, resumed.stderr
    ids = [r["id"] for r in lines(preds)]
    assert len(ids) == len(set(ids)) == 160, "every sample exactly once"
    run_json = json.loads((preds.parent / "run.json").read_text())
    assert run_json["counts"]["cached"] == partial

    fresh = run_harness(*args, "--output", "fresh", cwd=tmp_path, env=env)
    assert fresh.returncode == 0, fresh.stderr
    killed_metrics = json.loads((preds.parent / "metrics.json").read_text())
    fresh_metrics = json.loads(
        (tmp_path / "fresh/vqa/demo/mean-colour/metrics.json").read_text())
    assert killed_metrics["scores"] == fresh_metrics["scores"]
    assert killed_metrics["coverage"] == 1.0


def test_score_reproduces_metrics_json(plugin_site: Path, tmp_path: Path) -> None:
    env = harness_env(PYTHONPATH=f"{REPO}:{plugin_site}")
    done = run_harness("run", "--model", "mean-colour", "--task", "zeroshot/demo", "--limit",
                       "30", "-T", "bootstrap=50", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    path = tmp_path / "results/zeroshot/demo/mean-colour/metrics.json"
    before = json.loads(path.read_text())
    path.unlink()
    again = run_harness("score", "--model", "mean-colour", "--task", "zeroshot/demo",
                        "-T", "bootstrap=50", cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stderr
    assert json.loads(path.read_text()) == before
    assert before["n"] == 30


class Flaky(Model):
    """Fails on every third sample: a real per-sample failure inside a batch."""

    name = "flaky"
    capabilities = frozenset({"generate"})

    @staticmethod
    def broken(request) -> bool:  # noqa: ANN001 - demo ids look like demo-test-0003-colour
        return int(request.sample_id.split("-")[2]) % 3 == 0

    def generate(self, requests):  # noqa: ANN001
        if any(self.broken(r) for r in requests) and len(requests) > 1:
            raise RuntimeError("batch failed")
        return [RuntimeError("cannot answer") if self.broken(r) else "The lesion is tan."
                for r in requests]


class FlakyPlugin:
    @hookimpl
    def register_models(self, register):  # noqa: ANN001
        register(ModelSpec(name="flaky", factory=lambda spec, context, options: Flaky(),
                           capabilities=frozenset({"generate"})))


def registries_with(plugin: object) -> Any:
    pm, warnings = make_plugin_manager(entry_points=False)
    pm.register(plugin, name="test-plugin")
    return collect(pm, warnings)


def test_failures_are_recorded_not_scored_and_retried(tmp_path: Path) -> None:
    regs = registries_with(FlakyPlugin())
    opts = RunOptions(model="flaky", tasks=["vqa/demo"], output=tmp_path, batch_size=8, limit=40,
                      task_options={"bootstrap": "0", "metrics": "recall"})
    [outcome] = run(regs, opts)
    m = outcome.metrics
    assert m is not None
    failed = [r for r in lines(outcome.folder / "predictions.jsonl") if r["error"]]
    assert m.failed == len(failed) > 0
    assert m.answered + m.failed == 40
    assert m.coverage == pytest.approx(m.answered / 40)
    assert all(f["error"] == "RuntimeError: cannot answer" for f in failed)
    assert m.scores.n == m.answered
    # a rerun asks only the failures again
    [again] = run(regs, opts)
    assert again.asked == len(failed)


def test_capability_mismatch_fails_before_any_work(tmp_path: Path) -> None:
    regs = registries_with(FlakyPlugin())
    with pytest.raises(CapabilityError, match="needs a model that can encode_images"):
        run(regs, RunOptions(model="flaky", tasks=["probe/demo"], output=tmp_path))
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("run", "--model", "knn-retreival", "--task", "vqa/demo"), "did you mean 'knn-retrieval'"),
        (("run", "--model", "chance", "--task", "zeroshot/nope*"), "no task matches"),
        (("run", "--model", "chance", "--task", "vqa/demo", "--data-root", "/no/such/dir"),
         "is not a folder"),
        (("run", "--model", "chance", "--task", "vqa/demo", "-T", "decoding"), "KEY=VALUE"),
        (("run", "--model", "chance", "--task", "vqa/demo", "-T", "decoding=beam"),
         "should be 'paper', 'greedy', 'paper-zeroshot' or 'paper-vqa'"),
        (("run", "--model", "chance", "--task", "vqa/demo", "--batch-size", "0"), "--batch-size"),
        (("run", "--model", "colour-lbp", "--task", "vqa/demo"), "can only encode_images"),
        (("run", "--model", "chance", "--task", "vqa/demo", "-M", "colour=red"),
         "has no option -M colour"),
        (("list", "things"), "Invalid value"),
        (("score", "--model", "chance", "--task", "vqa/demo"), "no stored run"),
    ],
)
def test_usage_errors_are_one_sentence_and_exit_2(
    tmp_path: Path, args: tuple[str, ...], needle: str
) -> None:
    out = run_harness(*args, cwd=tmp_path)
    assert out.returncode == 2, out.stdout + out.stderr
    assert needle in out.stderr
    assert "Traceback" not in out.stderr

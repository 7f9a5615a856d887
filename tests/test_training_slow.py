"""Slow training checks (``make test-slow``): DeepSpeed ZeRO-2 and ZeRO-3 on CPU, the demo model.

- DeepSpeed: ``python -m harness.training`` under ZeRO-2 and under ZeRO-3 (the authors'
  stage), one process, gloo backend. The first
  run JIT-compiles DeepSpeed's shm comm op (about 50-140 s on 2 cores), cached in
  ``TORCH_EXTENSIONS_DIR`` (default here: ~/.cache/derm-harness-torch-extensions).
- Demo: ``training.demo.train_demo_model`` must finish in under three minutes and beat
  its untrained base on ``vqa/demo`` (both run as ``harness run --model skinvl``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from harness.plugin_manager import get_registries  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from harness.training.demo import build_demo_base

    torch.set_num_threads(1)
    return build_demo_base(tmp_path_factory.mktemp("tiny") / "base")


@pytest.mark.parametrize("stage", ["zero2", "zero3"])
def test_deepspeed_on_cpu_one_process(base: Path, tmp_path: Path, stage: str) -> None:
    pytest.importorskip("deepspeed")
    from transformers import LlavaForConditionalGeneration

    from harness.training.merge import load_adapter

    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    env.setdefault("TORCH_EXTENSIONS_DIR",
                   str(Path.home() / ".cache" / "derm-harness-torch-extensions"))
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(var, None)  # the loop sets a one-process rendezvous itself
    out = tmp_path / "ds"
    proc = subprocess.run(
        [sys.executable, "-m", "harness.training", "--recipe", "skinvl-demo", "--base", str(base),
         "--output", str(out), "--max-steps", "12", "--batch-size", "4",
         "--deepspeed", str(REPO / "training" / f"ds_{stage}.json"), "--leakage-check", "exact"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "skinvl_training.json").read_text())
    assert summary["deepspeed"].endswith(f"ds_{stage}.json") and summary["steps"] == 12
    assert [e["step"] for e in summary["log"] if "loss" in e] == [10]
    assert (out / "checkpoints" / "checkpoint-12" / "global_step12").is_dir()  # DeepSpeed's
    assert "loss" in proc.stderr and "step 10/12" in proc.stderr

    model, _ = load_adapter(out)
    merged = model.merge_and_unload()
    before = LlavaForConditionalGeneration.from_pretrained(base).state_dict()
    after = merged.state_dict()
    tower = [k for k in before if ".vision_tower." in k]
    assert tower and all(torch.equal(before[k], after[k]) for k in tower)
    projector = [k for k in before if "multi_modal_projector" in k]
    assert any(not torch.equal(before[k], after[k]) for k in projector)


def vqa_demo_scores(model_dir: Path, results: Path) -> dict[str, Any]:
    """``harness run --model skinvl --model-path MODEL_DIR --task vqa/demo``, in process."""
    from harness.runner import RunOptions, run

    outcomes = run(get_registries(), RunOptions(
        model="skinvl", tasks=["vqa/demo"], output=results, model_path=str(model_dir),
        batch_size=16, task_options={"bootstrap": "0"}))
    (outcome,) = outcomes
    assert outcome.failed == 0
    predictions = [json.loads(x) for x in
                   (outcome.folder / "predictions.jsonl").read_text().splitlines()]
    samples = {s.id: s for s in get_registries().datasets.get("demo-vqa").load(None, "test")}
    metrics = outcome.metrics.model_dump(mode="json")
    metrics["exact"] = sum(p["output"] == samples[p["id"]].answer for p in predictions)
    return metrics


def test_demo_model_trains_in_budget_and_beats_its_base(tmp_path: Path) -> None:
    from harness.training.demo import train_demo_model

    start = time.perf_counter()
    cpu0 = time.process_time()
    model_dir = train_demo_model(get_registries(), tmp_path / "demo-model")
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
    assert cpu < 180, f"training took {cpu:.0f} s of CPU time"
    print(f"demo training: {wall:.1f} s wall, {cpu:.1f} s CPU")

    pytest.importorskip("harness.plugins.skinvl")
    trained = vqa_demo_scores(model_dir, tmp_path / "results-trained")
    untrained = vqa_demo_scores(tmp_path / "demo-model" / "base", tmp_path / "results-base")
    t, u = trained["scores"]["overall"], untrained["scores"]["overall"]
    print("trained", {k: round(v, 4) for k, v in t.items() if isinstance(v, float)},
          "exact", trained["exact"])
    print("untrained", {k: round(v, 4) for k, v in u.items() if isinstance(v, float)},
          "exact", untrained["exact"])
    numeric = [k for k, v in t.items() if isinstance(v, int | float) and k in u]
    assert numeric
    for k in numeric:
        assert t[k] > u[k], (k, t[k], u[k])
    assert trained["exact"] >= 96  # 60% of the 160 test questions answered word for word

    again = train_demo_model(get_registries(), tmp_path / "demo-model")  # reused, not retrained
    assert again == model_dir


def test_deepspeed_zero2_two_ranks_under_torchrun(base: Path, tmp_path: Path) -> None:
    """Two CPU ranks (gloo) under ``torchrun -m harness.training``: ZeRO-2 splits the optimizer
    state."""
    pytest.importorskip("deepspeed")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    env.setdefault("TORCH_EXTENSIONS_DIR",
                   str(Path.home() / ".cache" / "derm-harness-torch-extensions"))
    out = tmp_path / "ds2"
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
         "--master_port", str(port), "-m", "harness.training", "--recipe", "skinvl-demo",
         "--base", str(base), "--output", str(out), "--max-steps", "12", "--batch-size", "4",
         "--deepspeed", str(REPO / "training" / "ds_zero2.json"), "--leakage-check", "exact"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    step = out / "checkpoints" / "checkpoint-12" / "global_step12"
    assert sorted(p.name for p in step.glob("zero_pp_rank_*")) == [
        "zero_pp_rank_0_mp_rank_00_optim_states.pt", "zero_pp_rank_1_mp_rank_00_optim_states.pt"]
    assert proc.stderr.count("saved the adapter") == 1  # one report, from rank 0
    assert (out / "adapter_model.safetensors").is_file()

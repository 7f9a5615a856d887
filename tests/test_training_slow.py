"""Slow training checks (``make test-slow``): DeepSpeed ZeRO-2 on CPU, and the demo model.

- DeepSpeed: ``python -m training`` under ZeRO-2, one process, gloo backend. The first
  run JIT-compiles DeepSpeed's shm comm op (about 50-140 s on 2 cores), cached in
  ``TORCH_EXTENSIONS_DIR`` (default here: ~/.cache/derm-harness-torch-extensions).
- Demo: ``training.demo.train_demo_model`` must finish in under three minutes and beat
  its untrained base on the ``vqa/demo`` task with that task's own metrics.
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

from harness.plugins import get_registries  # noqa: E402
from harness.types import Prediction  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from training.demo import build_demo_base

    torch.set_num_threads(1)
    return build_demo_base(tmp_path_factory.mktemp("tiny") / "base")


def test_deepspeed_zero2_on_cpu_one_process(base: Path, tmp_path: Path) -> None:
    pytest.importorskip("deepspeed")
    from transformers import LlavaForConditionalGeneration

    from training.merge import load_adapter

    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    env.setdefault("TORCH_EXTENSIONS_DIR",
                   str(Path.home() / ".cache" / "derm-harness-torch-extensions"))
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(var, None)  # the loop sets a one-process rendezvous itself
    out = tmp_path / "ds"
    proc = subprocess.run(
        [sys.executable, "-m", "training", "--recipe", "skinvl-demo", "--base", str(base),
         "--output", str(out), "--max-steps", "12", "--batch-size", "4",
         "--deepspeed", str(REPO / "training" / "ds_zero2.json"), "--leakage-check", "exact"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "skinvl_training.json").read_text())
    assert summary["deepspeed"].endswith("ds_zero2.json") and summary["steps"] == 12
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


def generate_answers(model_dir: Path, requests: list[Any]) -> list[str]:
    """Greedy answers of a LLaVA checkpoint, prompted with its own chat template."""
    from transformers import AutoProcessor, LlavaForConditionalGeneration

    from harness.images import open_rgb
    from training.collate import prompt_text

    processor = AutoProcessor.from_pretrained(model_dir)
    processor.tokenizer.padding_side = "left"
    model = LlavaForConditionalGeneration.from_pretrained(model_dir).eval()
    out: list[str] = []
    for i in range(0, len(requests), 16):
        chunk = requests[i:i + 16]
        enc = processor(images=[open_rgb(r.images[0]) for r in chunk],
                        text=[prompt_text(processor, r.prompt) for r in chunk],
                        return_tensors="pt", padding=True)
        with torch.no_grad():
            ids = model.generate(**enc, max_new_tokens=32, do_sample=False)
        out += processor.batch_decode(ids[:, enc["input_ids"].shape[1]:],
                                      skip_special_tokens=True)
    return [o.strip() for o in out]


def vqa_demo_scores(model_dir: Path) -> dict[str, Any]:
    """The ``vqa/demo`` task's own requests and scoring, for a checkpoint folder."""
    task = get_registries().tasks.get("vqa/demo").factory(bootstrap=0)
    samples = task.load_samples(None)
    requests = [task.build_request(s) for s in samples]
    answers = generate_answers(model_dir, requests)
    predictions = {s.id: Prediction(id=s.id, fingerprint="", output=a)
                   for s, a in zip(samples, answers, strict=True)}
    result = task.score(samples, predictions)
    result["exact"] = sum(a == s.answer for s, a in zip(samples, answers, strict=True))
    return result


def test_demo_model_trains_in_budget_and_beats_its_base(tmp_path: Path) -> None:
    from training.demo import train_demo_model

    start = time.perf_counter()
    cpu0 = time.process_time()
    model_dir = train_demo_model(tmp_path / "demo-model")
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
    assert cpu < 180, f"training took {cpu:.0f} s of CPU time"
    print(f"demo training: {wall:.1f} s wall, {cpu:.1f} s CPU")

    trained = vqa_demo_scores(model_dir)
    untrained = vqa_demo_scores(tmp_path / "demo-model" / "base")
    t, u = trained["overall"], untrained["overall"]
    print("trained", {k: round(v, 4) for k, v in t.items() if isinstance(v, float)},
          "exact", trained["exact"])
    print("untrained", {k: round(v, 4) for k, v in u.items() if isinstance(v, float)},
          "exact", untrained["exact"])
    numeric = [k for k, v in t.items() if isinstance(v, int | float) and k in u]
    assert numeric
    for k in numeric:
        assert t[k] > u[k], (k, t[k], u[k])
    assert trained["exact"] >= 96  # 60% of the 160 test questions answered word for word

    again = train_demo_model(tmp_path / "demo-model")  # a finished model is reused
    assert again == model_dir

"""``harness run`` end to end with the local model plugins on the demo tasks (subprocess)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import run_harness
from tiny_models import build_original_llava, build_qwen2_5_vl


def test_each_task_kind_with_a_converted_model(tmp_path: Path) -> None:
    source = build_original_llava(tmp_path / "llava-med-src", "mistral")
    out = tmp_path / "results"
    proc = run_harness(
        "run", "--model", "llava-med-7b", "--model-path", str(source), "--device", "cpu",
        "--task", "vqa/demo", "--task", "probe/demo", "--task", "zeroshot/demo",
        "--limit", "12", "--batch-size", "4", "--output", str(out), cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for task in ("vqa/demo", "probe/demo", "zeroshot/demo"):
        folder = out / task / "llava-med-7b"
        rows = [json.loads(line) for line in (folder / "predictions.jsonl").open()]
        assert rows and all(r["error"] is None for r in rows), task
        run = json.loads((folder / "run.json").read_text())
        ident = run["model"]["identity"]
        assert ident["family"] == "llava-med" and len(ident["chat_template_sha256"]) == 64
        assert ident["converted_from"]["source_architecture"] == "LlavaMistralForCausalLM"
        metrics = json.loads((folder / "metrics.json").read_text())
        assert metrics["n"] > 0


@pytest.mark.slow
def test_zeroshot_likelihood_and_resume(tmp_path: Path) -> None:
    folder = build_qwen2_5_vl(tmp_path / "qwen")
    out = tmp_path / "results"
    args = ("run", "--model", "qwen2.5-vl-7b", "--model-path", str(folder), "--device", "cpu",
            "--task", "zeroshot/demo", "-T", "mode=likelihood", "--limit", "6",
            "--output", str(out))
    first = run_harness(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    again = run_harness(*args, cwd=tmp_path)
    assert again.returncode == 0 and "6 stored, 0 asked" in again.stderr.replace("\n", " ")


def test_bad_option_is_one_sentence(tmp_path: Path) -> None:
    proc = run_harness("run", "--model", "llava-v1.6-7b", "--model-path", str(tmp_path),
                       "--task", "vqa/demo", "-M", "dtype=fp64", "--output",
                       str(tmp_path / "r"), cwd=tmp_path)
    assert proc.returncode == 2
    assert "option -M dtype='fp64' is not valid" in proc.stderr and "Traceback" not in proc.stderr

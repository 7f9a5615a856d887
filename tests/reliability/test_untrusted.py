"""Untrusted content: paths that leave the data root, remote code, pickles, bombs.

All through the real `harness run` command. Where refusing is the point, the test also
plants a trap (a file outside the data root, a module or pickle that writes a marker file
when executed) and checks it was never read or run.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from api_server import ApiServer

from tests.cli_helpers import harness_env
from tests.reliability.counts import COUNTS
from tests.reliability.test_bad_input import IMAGES, bilevel_png, lesion, split_row, write_split

KEY_ENV = "HARNESS_RELIABILITY_KEY"


def harness(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=cwd,
                          env=harness_env(**env), capture_output=True, text=True, timeout=300)


def test_escaping_paths_and_bombs_never_reach_the_model(tmp_path: Path) -> None:
    root = tmp_path / "root"
    lesion(root / IMAGES / "good.jpg", 1)
    outside = lesion(tmp_path / "outside" / "secret.jpg", 2)  # exists: only the rule stops it
    bilevel_png(root / IMAGES / "bomb.png", 30000, 30000)  # 900 Mpixel from a small file
    assert (root / IMAGES / "bomb.png").stat().st_size < 2_000_000
    write_split(root, [split_row(f"{IMAGES}/good.jpg"), split_row("../outside/secret.jpg"),
                       split_row(f"{IMAGES}/../../../outside/secret.jpg"),
                       split_row(str(outside)), split_row(f"{IMAGES}/bomb.png")])
    with ApiServer(api_key="sk-untrusted") as server:
        proc = harness("run", "--model", "openai-compatible", "--task", "zeroshot/ham10000",
                       "-T", "bootstrap=10", "--data-root", str(root), "--output", "out",
                       "--allow-modified-splits",  # a hand-written split file, on purpose
                       "-M", f"base_url={server.openai_base_url}", "-M", "model_id=m",
                       "-M", f"api_key_env={KEY_ENV}", "-M", "max_retries=0",
                       cwd=tmp_path, **{KEY_ENV: "sk-untrusted"})
        log = server.requests()
    # the bomb is a recorded failure: 1 of 2 kept samples answered, so exit 3
    assert proc.returncode == 3 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    folder = tmp_path / "out/zeroshot/ham10000/openai-compatible"
    run = json.loads((folder / "run.json").read_text())
    skipped = run["data"]["skipped_rows"]
    assert len([m for m in skipped if "escapes the data root" in m]) == 2, skipped
    assert len([m for m in skipped if "is absolute" in m]) == 1, skipped
    preds = {json.loads(x)["id"]: json.loads(x)
             for x in (folder / "predictions.jsonl").read_text().splitlines()}
    assert set(preds) == {"good", "bomb"}, "escaping rows never become samples"
    assert preds["good"]["error"] is None
    assert "decompression bomb" in preds["bomb"]["error"] and preds["bomb"]["output"] is None
    assert len(log) == 1, "only the good image was sent"
    COUNTS["bad_inputs_tried"] += 4


# -- local model plugins: remote code and pickles -------------------------------------------

LOCAL_MODELS = ("qwen2.5-vl-7b", "llava-v1.6-7b", "internvl2.5-8b", "huatuogpt-vision-7b",
                "llava-med-7b")


def registered() -> set[str]:
    from harness.plugin_manager import get_registries

    return {m.name for m in get_registries().models}


def local_models(fast: int) -> list[Any]:
    names = registered()
    out = []
    for i, name in enumerate(LOCAL_MODELS):
        marks: list[Any] = []
        if name not in names:
            marks.append(pytest.mark.skip(reason=f"model plugin '{name}' is not installed"))
        if i >= fast:
            marks.append(pytest.mark.slow)
        out.append(pytest.param(name, marks=marks, id=name))
    return out


class Trap:
    """Unpickling this writes the marker file: proof that a pickle was loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> Any:
        return (open, (str(self.marker), "w"))


REMOTE_CODE = '''
from pathlib import Path
Path({marker!r}).write_text("remote code ran")
from transformers import PretrainedConfig
class EvilConfig(PretrainedConfig):
    model_type = "evil-vlm"
'''


@pytest.mark.parametrize("model", local_models(fast=1))
def test_remote_code_is_not_run_unless_asked(model: str, tmp_path: Path) -> None:
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    marker = tmp_path / "remote-code-ran"
    (ckpt / "configuration_evil.py").write_text(REMOTE_CODE.format(marker=str(marker)))
    (ckpt / "config.json").write_text(json.dumps({
        "model_type": "evil-vlm", "architectures": ["EvilForConditionalGeneration"],
        "auto_map": {"AutoConfig": "configuration_evil.EvilConfig"}}))
    (ckpt / "model.safetensors").write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00{}")
    proc = harness("run", "--model", model, "--model-path", str(ckpt), "--task",
                   "zeroshot/demo", "--limit", "1", "--device", "cpu", "--output", "out",
                   cwd=tmp_path, HF_HUB_OFFLINE="1")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    errors = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    assert len(errors) == 1 and "trust_remote_code" in errors[0], proc.stderr[-2000:]
    assert not marker.exists(), "the checkpoint's code was executed without being asked"
    COUNTS["bad_inputs_tried"] += 1


@pytest.mark.parametrize("model", local_models(fast=1))
def test_pickle_checkpoint_needs_allow_pickle(model: str, tmp_path: Path) -> None:
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    marker = tmp_path / "pickle-ran"
    (ckpt / "pytorch_model.bin").write_bytes(pickle.dumps(Trap(marker)))
    (ckpt / "config.json").write_text(json.dumps({"model_type": "qwen2_5_vl"}))
    proc = harness("run", "--model", model, "--model-path", str(ckpt), "--task",
                   "zeroshot/demo", "--limit", "1", "--device", "cpu", "--output", "out",
                   cwd=tmp_path, HF_HUB_OFFLINE="1")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    errors = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    assert len(errors) == 1 and "allow_pickle=true" in errors[0], proc.stderr[-2000:]
    assert not marker.exists(), "a pickle was loaded without -M allow_pickle=true"
    COUNTS["bad_inputs_tried"] += 1

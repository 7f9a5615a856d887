"""Options, devices, precision and bad input of the local model plugins (tiny LLaVA)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from model_contract import requests
from tiny_models import build_llava, write_images

from harness.errors import UsageError
from harness.plugins.hf_loading import checkpoint_key
from tests.load import load

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_llava(tmp_path_factory.mktemp("options") / "ckpt")


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_images(tmp_path_factory.mktemp("images"), 2)


def make(checkpoint: Path, **options: Any) -> Any:
    return load("skinvl", model_path=str(checkpoint), device=options.pop("device", "cpu"),
                **options)


@pytest.mark.parametrize(("options", "message"), [
    ({"colour": "red"}, "has no option -M colour"),
    ({"dtype": "fp64"}, "dtype='fp64' is not valid"),
    ({"batch_size": "0"}, "batch_size='0' is not valid"),
    ({"dtype": "fp16"}, "fp16 is not supported on the CPU"),
    ({"device": "cuda"}, "no CUDA GPU"),
    ({"device": "cuda:1"}, "no CUDA GPU"),
    ({"device": "cuda:x"}, "must be auto, cpu or cuda"),
    ({"device": "cpu:0"}, "must be auto, cpu or cuda"),
])
def test_bad_options_are_usage_errors(checkpoint: Path, options: dict[str, str],
                                      message: str) -> None:
    import torch

    if str(options.get("device", "")).startswith("cuda") and torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(UsageError, match=message):
        make(checkpoint, **options)


def test_missing_path_and_pickle_only(tmp_path: Path, checkpoint: Path) -> None:
    with pytest.raises(UsageError, match="neither a checkpoint folder nor a Hub id"):
        make(tmp_path / "absent")
    import shutil

    import torch
    from safetensors.torch import load_file

    copy = tmp_path / "pickled"
    shutil.copytree(checkpoint, copy)
    torch.save(load_file(str(copy / "model.safetensors")), copy / "pytorch_model.bin")
    (copy / "model.safetensors").unlink()
    with pytest.raises(UsageError, match="allow_pickle=true"):
        make(copy)


def test_bf16_device_map_and_batch_hint(checkpoint: Path, images: list[Path]) -> None:
    model = make(checkpoint, dtype="bf16", device_map="auto", batch_size="8")
    assert model.identity()["dtype"] == "bfloat16" and model.batch_size_hint == 8
    answers = model.generate(requests(images))
    assert all(isinstance(a, str) for a in answers)
    assert model.encode_images(images).dtype.name == "float32"


def test_weights_fingerprint_changes_with_the_weights(tmp_path: Path, checkpoint: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(checkpoint, copy)
    assert checkpoint_key(copy) == checkpoint_key(checkpoint)
    config = (copy / "config.json").read_text().replace('"vision_feature_layer": -2',
                                                        '"vision_feature_layer": -1')
    (copy / "config.json").write_text(config)
    assert checkpoint_key(copy) != checkpoint_key(checkpoint)


def test_importing_the_plugins_imports_no_torch() -> None:
    modules = ("llava", "llava_med", "huatuo", "qwen_vl", "internvl", "skinvl", "llava_convert",
               "hf_common")
    code = ("import sys; " + "; ".join(f"import harness.plugins.{m}" for m in modules) + "; "
            "print('torch' in sys.modules or 'transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"

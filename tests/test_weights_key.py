"""Content-keyed weights: the conversion cache, identity() and stored answers follow the bytes.

Two checkpoints that differ only in one weight value have the same config, tokenizer and
safetensors header (names, shapes, offsets); they must still never share a conversion
folder, an identity or a stored answer.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from tiny_models import build_original_llava

from harness.fingerprint import files_sha256, hash_memo_path
from harness.plugins.hf_loading import checkpoint_key
from harness.plugins.llava_convert import ensure_converted
from tests.load import load


def change_one_weight(folder: Path) -> None:
    """Rewrite model.safetensors with one value changed: same size, same header."""
    from safetensors.torch import load_file, save_file

    path = folder / "model.safetensors"
    size, stat = path.stat().st_size, path.stat()
    state = load_file(str(path))
    state["model.norm.weight"][0] += 1.0
    save_file(state, str(path), metadata={"format": "pt"})
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # even the old mtime back
    assert path.stat().st_size == size


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_original_llava(tmp_path_factory.mktemp("src") / "a", "mistral")


def test_file_hashes_are_remembered_and_follow_the_bytes(tmp_path: Path) -> None:
    path = tmp_path / "w.bin"
    path.write_bytes(b"a" * 1000)
    first = files_sha256([path])
    memo = json.loads(hash_memo_path().read_text())
    assert memo[str(path.resolve())]["sha256"] == first[0]
    stat = path.stat()
    path.write_bytes(b"b" * 1000)  # same size, and the same mtime restored
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert files_sha256([path]) != first


def test_one_weight_apart_never_share_a_conversion(tmp_path: Path, source: Path) -> None:
    copy = tmp_path / "b"
    shutil.copytree(source, copy)
    assert checkpoint_key(copy) == checkpoint_key(source)  # by content, wherever it lies
    change_one_weight(copy)
    assert checkpoint_key(copy) != checkpoint_key(source)
    first, _ = ensure_converted("t", source, None, False)
    second, _ = ensure_converted("t", copy, None, False)
    assert first != second


def test_identity_is_the_content_key(tmp_path: Path, source: Path) -> None:
    copy = tmp_path / "b"
    shutil.copytree(source, copy)
    before = load("llava-med-7b", model_path=str(copy), device="cpu", seed=0).identity()
    change_one_weight(copy)
    after = load("llava-med-7b", model_path=str(copy), device="cpu", seed=0).identity()
    assert before["weights_sha256"] != after["weights_sha256"]


def test_new_weights_at_the_same_path_are_asked_again(tmp_path: Path) -> None:
    """A real run stores answers; after one weight changes in place, none of them is reused."""
    from harness.plugin_manager import get_registries
    from harness.runner import (
        RunOptions,
        build_task,
        model_key,
        model_options,
        prepare,
        refresh_pending,
        run,
    )

    folder = build_original_llava(tmp_path / "model", "mistral")
    regs = get_registries()
    opts = RunOptions(model="llava-med-7b", tasks=["vqa/demo"], model_path=str(folder),
                      device="cpu", limit=3, output=tmp_path / "results")
    (outcome,) = run(regs, opts)
    assert outcome.asked == 3 and outcome.failed == 0
    spec, task = regs.models.get("llava-med-7b"), outcome.task

    def pending() -> int:
        built = build_task(regs, task, {}, opts)
        tr = prepare(built, model_key(spec, opts, model_options(spec, opts)), opts)
        refresh_pending(tr, None, repair=False)
        return len(tr.pending)

    assert pending() == 0  # the same bytes: every answer is reused
    (run_json,) = (tmp_path / "results").rglob("run.json")
    (metrics_json,) = (tmp_path / "results").rglob("metrics.json")
    weights = json.loads(metrics_json.read_text())["model_key"]["weights"]
    # one key: the request fingerprints' and identity()'s
    assert weights == json.loads(run_json.read_text())["model"]["identity"]["weights_sha256"]
    change_one_weight(folder)
    assert model_key(spec, opts, model_options(spec, opts))["weights"] != weights
    assert pending() == 3  # new bytes at the same path: every sample is asked again

import json
import multiprocessing
from pathlib import Path

import pytest

from harness.errors import LockedError
from harness.store import ResultStore, atomic_write_json
from harness.types import Prediction


def preds(n: int, start: int = 0) -> list[Prediction]:
    return [Prediction(id=f"s{i}", fingerprint=f"f{i}", output=f"answer {i}")
            for i in range(start, start + n)]


def test_append_and_load_roundtrip(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    store.append(preds(3))
    store.close()
    loaded = ResultStore(tmp_path).load()
    assert sorted(loaded) == ["f0", "f1", "f2"]
    assert loaded["f1"].output == "answer 1"


def test_torn_last_line_is_detected_and_cut(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    store.append(preds(2))
    store.close()
    with open(store.predictions_path, "a") as fh:
        fh.write('{"id": "s2", "fingerprint": "f2", "outp')  # a crash mid-write
    fresh = ResultStore(tmp_path)
    assert sorted(fresh.load(repair=True)) == ["f0", "f1"]
    assert fresh.repaired_lines == 1
    assert store.predictions_path.read_text().endswith("}\n")
    fresh.append(preds(1, start=2))
    fresh.close()
    lines = store.predictions_path.read_text().splitlines()
    assert [json.loads(x)["id"] for x in lines] == ["s0", "s1", "s2"]


def test_later_line_supersedes_a_failure(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    store.append([Prediction(id="s0", fingerprint="f0", error="TimeoutError: slow")])
    store.append([Prediction(id="s0", fingerprint="f0", output="ok")])
    store.close()
    assert ResultStore(tmp_path).load()["f0"].ok


def _hold_lock(folder: str, ready, release) -> None:  # noqa: ANN001
    store = ResultStore(Path(folder))
    store.lock()
    ready.set()
    release.wait(10)
    store.close()


def test_a_second_run_on_the_same_folder_is_refused(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_hold_lock, args=(str(tmp_path), ready, release))
    proc.start()
    try:
        assert ready.wait(30)
        with pytest.raises(LockedError, match="in use by another run"):
            ResultStore(tmp_path).lock()
    finally:
        release.set()
        proc.join(10)
    ResultStore(tmp_path).lock()  # free again once the holder is gone


def test_atomic_write_leaves_no_temp_files(tmp_path: Path) -> None:
    atomic_write_json(tmp_path / "metrics.json", {"a": 1})
    atomic_write_json(tmp_path / "metrics.json", {"a": 2})
    assert json.loads((tmp_path / "metrics.json").read_text()) == {"a": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]

"""Task kinds and declarations: a plugin's new kind gets its own leaderboard table, every
task lists its kind and headline, and bring-your-own data runs without Python."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.cli_helpers import REPO, harness_env, run_harness
from tests.conftest import pip_install_target
from tests.reliability.test_bad_input import error_lines

EXAMPLE_TASK = REPO / "examples" / "harness-example-task"


@pytest.fixture(scope="module")
def task_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("task-site")
    pip_install_target(EXAMPLE_TASK, site)
    return site


def test_every_task_lists_its_kind_and_headline(tmp_path: Path) -> None:
    done = run_harness("list", "tasks", "--format", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    tasks = json.loads(done.stdout)
    assert tasks and all(t["kind"] and t["headline"] for t in tasks)
    by_name = {t["name"]: t for t in tasks}
    assert by_name["vqa/mm-skin"]["headline"] == "bleu4"
    assert by_name["zeroshot/ham10000"]["headline"] == "accuracy"
    assert {"vqa/custom", "zeroshot/custom", "probe/custom"} <= set(by_name)


def test_a_plugin_kind_gets_its_own_leaderboard_table(task_site: Path, tmp_path: Path) -> None:
    env = harness_env(PYTHONPATH=f"{REPO}:{task_site}")
    listed = json.loads(run_harness("list", "tasks", "--format", "json", cwd=tmp_path,
                                    env=env).stdout)
    [mine] = [t for t in listed if t["name"] == "yesno/demo-malignant"]
    assert (mine["kind"], mine["headline"], mine["plugin"]) == ("yesno", "accuracy",
                                                                "example-task")
    for model in ("chance", "knn-retrieval"):
        done = run_harness("run", "--model", model, "--task", "yesno/demo-malignant",
                           "--protocol", "sound", cwd=tmp_path, env=env)
        if model == "knn-retrieval":  # the demo index holds no yes/no labels: it says so
            assert done.returncode == 3, done.stderr
        else:
            assert done.returncode == 0, done.stderr
    board = run_harness("leaderboard", cwd=tmp_path, env=env)
    assert board.returncode == 0, board.stderr
    metrics = json.loads((tmp_path / "results/yesno/demo-malignant+protocol=sound/chance/"
                          "metrics.json").read_text())
    table = (tmp_path / "results/leaderboards/yesno.md").read_text()
    assert "# Yes/no questions leaderboard" in table
    assert "| ACC" in table and "says yes" in table
    accuracy = f"{100 * metrics['scores']['overall']['accuracy']:.2f}"
    row = next(line for line in table.splitlines() if line.startswith("| chance"))
    assert accuracy in row
    overview = (tmp_path / "results/leaderboards/overview.md").read_text()
    assert "`yesno/demo-malignant+protocol=sound`<br>ACC" in overview
    assert "[yesno.md](yesno.md)" in overview


def test_the_example_task_passes_its_own_tests_once_installed(task_site: Path,
                                                              tmp_path: Path) -> None:
    tests = EXAMPLE_TASK / "tests"
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(tests)], cwd=tmp_path, capture_output=True, text=True,
                          env=harness_env(PYTHONPATH=f"{REPO}:{task_site}"), timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout


def six_rows(folder: Path) -> Path:
    """Three training and three test images of two classes, as a researcher's CSV."""
    (folder / "img").mkdir(parents=True)
    rows = ["image,label,split,modality"]
    for i, (label, colour, split) in enumerate((
            ("melanoma", (60, 30, 20), "train"), ("melanoma", (70, 35, 25), "train"),
            ("nevus", (150, 100, 80), "train"), ("melanoma", (65, 32, 22), "test"),
            ("nevus", (155, 105, 85), "test"), ("nevus", (145, 95, 75), "test"))):
        Image.new("RGB", (32, 32), colour).save(folder / f"img/{i}.png")
        rows.append(f"img/{i}.png,{label},{split},clinical")
    (folder / "rows.csv").write_text("\n".join(rows) + "\n")
    return folder / "rows.csv"


def test_a_csv_of_images_runs_scores_and_reaches_the_leaderboard(tmp_path: Path) -> None:
    data = six_rows(tmp_path / "mine")
    done = run_harness("run", "--model", "majority", "--task", "zeroshot/custom",
                       "-T", f"data={data}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    [folder] = (tmp_path / "results/zeroshot").iterdir()
    assert folder.name.startswith("custom+data=rows-")
    metrics = json.loads((folder / "majority/metrics.json").read_text())
    # majority answers the training rows' most frequent label (melanoma): 1 of 3 test rows
    assert (metrics["n"], metrics["answered"]) == (3, 3)
    assert metrics["scores"]["overall"]["accuracy"] == pytest.approx(1 / 3)
    assert metrics["plan"]["config"]["data"] == folder.name.split("+", 1)[1]
    board = run_harness("leaderboard", cwd=tmp_path)
    assert board.returncode == 0, board.stderr
    assert "33.33" in (tmp_path / "results/leaderboards/zeroshot.md").read_text()


def test_a_probe_on_your_own_file(tmp_path: Path) -> None:
    (tmp_path / "img").mkdir()
    rows = ["image,label,split"]
    for i in range(12):
        label = ("melanoma", "nevus")[i % 2]
        Image.new("RGB", (32, 32), (40 + 10 * i, 30, 20) if label == "melanoma"
                  else (150, 100 + 5 * i, 80)).save(tmp_path / f"img/{i}.png")
        rows.append(f"img/{i}.png,{label},{'train' if i < 8 else 'test'}")
    (tmp_path / "probe.jsonl").write_text("".join(
        json.dumps(dict(zip(("image", "label", "split"), r.split(","), strict=True))) + "\n"
        for r in rows[1:]))
    done = run_harness("run", "--model", "colour-lbp", "--task", "probe/custom",
                       "-T", f"data={tmp_path / 'probe.jsonl'}", "-T", "bootstrap=0",
                       "-T", "n_folds=2", "-T", "val=dataset", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    [metrics] = (tmp_path / "results").rglob("metrics.json")
    m = json.loads(metrics.read_text())
    assert m["scores"]["extras"]["sizes"] == {"train": 8, "test": 4}
    assert m["scores"]["overall"]["accuracy"] == 1.0  # the two colours separate exactly


def test_bring_your_own_data_errors_name_the_file_and_row(tmp_path: Path) -> None:
    data = six_rows(tmp_path / "mine")
    text = data.read_text().splitlines()
    text[3] = "img/2.png,,train,clinical"  # row 4: no label
    data.write_text("\n".join(text) + "\n")
    done = run_harness("run", "--model", "majority", "--task", "zeroshot/custom",
                       "-T", f"data={data}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    [run_json] = (tmp_path / "results").rglob("run.json")
    skipped = json.loads(run_json.read_text())["data"]["skipped_rows"]
    assert any(f"{data}, row 4: 'label' is empty; row skipped" in s for s in skipped)

    (tmp_path / "nolabel.csv").write_text("image,question\nimg/0.png,what?\n")
    done = run_harness("run", "--model", "majority", "--task", "zeroshot/custom",
                       "-T", f"data={tmp_path / 'nolabel.csv'}", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    [line] = error_lines(done.stderr)
    assert "nolabel.csv: a zeroshot task needs the column(s) label" in line

    (tmp_path / "bad.jsonl").write_text('{"image": "img/0.png", "label": "x"}\n{oops\n')
    done = run_harness("run", "--model", "majority", "--task", "zeroshot/custom",
                       "-T", f"data={tmp_path / 'bad.jsonl'}", cwd=tmp_path)
    assert done.returncode == 2 and "bad.jsonl, line 2: not JSON" in done.stderr

    done = run_harness("run", "--model", "majority", "--task", "zeroshot/custom", cwd=tmp_path)
    assert done.returncode == 2 and "-T data" in done.stderr


def test_the_seed_reaches_the_probe_validation_draw() -> None:
    """--seed moves the probe's random validation split unless -T seed= says otherwise."""
    from tests.load import task

    def validation(run_seed: int, **options: str) -> set[str]:
        from harness.plugin_manager import get_registries
        from harness.runner import RunOptions, build_task

        t = build_task(get_registries(), "probe/demo", options,
                       RunOptions(model="", tasks=["probe/demo"], seed=run_seed))
        return {s.id for s in t.load_samples(None) if s.split == "val"}

    assert validation(0) != validation(1)
    assert validation(0, seed="5") == validation(1, seed="5")
    assert task("probe/demo").seed == 0

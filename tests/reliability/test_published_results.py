"""What a researcher publishes stays put: leaderboard tables, where they go, who can read them.

Real runs of the built-in baselines (through the runner), then the real `harness
leaderboard` command in a subprocess, as a user would call it.
"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_helpers import REPO, harness_env
from tests.reliability.counts import COUNTS
from tests.reliability.test_bad_input import assert_one_sentence

FAST = {"bootstrap": "0", "metrics": "bleu4,recall"}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two tasks, two models each: a VQA table and a zero-shot table to lose."""
    from harness.plugin_manager import get_registries
    from harness.runner import RunOptions, run

    out = tmp_path_factory.mktemp("published") / "results"
    for model in ("majority", "chance"):
        for task, options in (("vqa/demo", FAST), ("zeroshot/demo", {"bootstrap": "0"})):
            run(get_registries(), RunOptions(model=model, tasks=(task,), output=out, limit=8,
                                             batch_size=8, task_options=options))
    return out


def leaderboard(*args: str, cwd: Path, umask: int = 0o022) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", "leaderboard", *args], cwd=cwd,
                          env=harness_env(), capture_output=True, text=True, timeout=300,
                          umask=umask)


def tables(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(folder.glob("*.md"))}


# a results file -> (what it is damaged into, what the error line naming it must say)
UNREADABLE = {
    "vqa/demo/majority/metrics.json": (b"{not json", "is not valid JSON"),
    "vqa/demo/chance/metrics.json": (b"{}", "is not a valid MetricsFile"),
    "zeroshot/demo/chance/metrics.json": (b"[]", "is not a harness results file"),
    "zeroshot/demo/majority/run.json": (b"\xff\xfe not text", "is not valid JSON"),
}


def test_unreadable_results_never_delete_a_published_table(results: Path,
                                                           tmp_path: Path) -> None:
    """Issue 18: one unreadable metrics.json deleted vqa.md and the command exited 0."""
    import shutil

    COUNTS["bad_inputs_tried"] += len(UNREADABLE)
    mine = tmp_path / "results"
    shutil.copytree(results, mine)
    first = leaderboard("--results", str(mine), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    published = tables(mine / "leaderboards")
    assert {"vqa.md", "zeroshot.md", "overview.md"} <= set(published)
    figures = sorted((mine / "leaderboards/figures").iterdir())

    for rel, (data, _) in UNREADABLE.items():  # every input of vqa.md is among them
        (mine / rel).write_bytes(data)
    again = leaderboard("--results", str(mine), cwd=tmp_path)
    assert again.returncode == 1 and "Traceback" not in again.stderr, again.stderr
    named = [x for x in again.stderr.splitlines() if x.startswith("error: ")]
    assert len(named) == len(UNREADABLE) + 1, again.stderr
    for rel, (_, says) in UNREADABLE.items():
        assert any(f"{mine}/{rel} {says}" in x for x in named), (rel, again.stderr)
    assert "nothing in" in named[-1] and "--skip-unreadable" in named[-1]
    assert tables(mine / "leaderboards") == published, "the last good tables stay"
    assert sorted((mine / "leaderboards/figures").iterdir()) == figures

    check = leaderboard("--results", str(mine), "--check", cwd=tmp_path)
    assert check.returncode == 1 and "was not checked" in check.stderr

    # asked for explicitly: the tables without the unreadable runs, each named in overview.md
    skip = leaderboard("--results", str(mine), "--skip-unreadable", cwd=tmp_path)
    assert skip.returncode == 0, skip.stderr
    assert "vqa.md" not in tables(mine / "leaderboards")
    overview = (mine / "leaderboards/overview.md").read_text()
    assert all(rel in overview for rel in UNREADABLE)


def test_the_default_output_is_beside_the_results_not_the_package(results: Path,
                                                                   tmp_path: Path) -> None:
    """Issue 18: run from a checkout, the default --out was the package folder leaderboards/."""
    import harness.leaderboards as package

    package_dir = Path(package.__file__).parent
    before = sorted(p.name for p in package_dir.iterdir())
    done = leaderboard("--results", str(results), cwd=REPO)  # a checkout's root, as in the issue
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in package_dir.iterdir()) == before
    assert (results / "leaderboards/overview.md").is_file()
    assert f"wrote {results}/leaderboards/" in done.stdout
    # relative to the current folder, as --results is
    (tmp_path / "results").symlink_to(results)
    plain = leaderboard(cwd=tmp_path)
    assert plain.returncode == 0 and "results/leaderboards/overview.md" in plain.stdout


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_results_files_have_the_mode_of_any_new_file(umask: int, tmp_path: Path) -> None:
    """Issue 18: metrics.json and run.json were 0600 (mkstemp), unreadable to a group."""
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "run", "--model", "chance", "--task", "zeroshot/demo",
         "--limit", "4", "-T", "bootstrap=0", "--output", "out"],
        cwd=tmp_path, env=harness_env(), capture_output=True, text=True, timeout=300,
        umask=umask)
    assert proc.returncode == 0, proc.stderr
    folder = tmp_path / "out/zeroshot/demo/chance"
    expected = 0o666 & ~umask
    for name in ("metrics.json", "run.json", "predictions.jsonl"):
        assert stat.S_IMODE((folder / name).stat().st_mode) == expected, name
    assert json.loads((folder / "metrics.json").read_text())["n"] == 4


def test_a_missing_results_folder_is_one_sentence(tmp_path: Path) -> None:
    COUNTS["bad_inputs_tried"] += 1
    proc = leaderboard("--results", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert_one_sentence(proc, 2, ("nowhere", "--results"))

"""Third-party plugins found through the `harness` entry-point group, installed for real."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_helpers import REPO, harness_env, run_harness


def test_installed_plugin_is_discovered_and_runs(plugin_site: Path, tmp_path: Path) -> None:
    env = harness_env(PYTHONPATH=f"{REPO}:{plugin_site}")
    listed = run_harness("list", "models", cwd=tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    assert "mean-colour" in listed.stdout and "example" in listed.stdout
    done = run_harness("run", "--model", "mean-colour", "--task", "vqa/demo", "--limit", "8",
                       "-T", "bootstrap=0", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    lines = (tmp_path / "results/vqa/demo/mean-colour/predictions.jsonl").read_text().splitlines()
    assert len(lines) == 8


def test_broken_plugin_warns_once_and_everything_else_works(
    plugin_site: Path, tmp_path: Path
) -> None:
    env = harness_env(PYTHONPATH=f"{REPO}:{plugin_site}")
    listed = run_harness("list", "models", cwd=tmp_path, env=env)
    assert listed.returncode == 0
    warnings = [x for x in listed.stderr.splitlines() if x.startswith("warning:")
                and "'broken'" in x]
    assert len(warnings) == 1
    assert "a_module_that_does_not_exist" in warnings[0]
    assert "colour-lbp" in listed.stdout and "mean-colour" in listed.stdout
    assert "Traceback" not in listed.stderr


def test_a_clashing_plugin_is_left_out_and_every_command_still_works(
    plugin_site: Path, tmp_path: Path
) -> None:
    env = harness_env(PYTHONPATH=f"{REPO}:{plugin_site}")
    listed = run_harness("list", "models", cwd=tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    [warning] = [x for x in listed.stderr.splitlines() if "'clashing'" in x]
    assert "'majority'" in warning and "harness.plugins.baselines" in warning
    done = run_harness("run", "--model", "majority", "--task", "zeroshot/demo", "--limit", "4",
                       "-T", "bootstrap=0", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr  # the built-in majority, not the clashing one


@pytest.mark.parametrize("code", [
    "import harness", "import harness.cli",
    "import harness.plugin_manager; harness.plugin_manager.get_registries()"])
def test_import_does_not_load_torch_or_transformers(code: str) -> None:
    heavy = "('torch', 'transformers')"
    probe = f"{code}\nimport sys\nprint(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         env=harness_env(), cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_help_does_not_load_torch(tmp_path: Path) -> None:
    code = ("import sys\nfrom harness.cli import cli\n"
            "try:\n    cli(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('LOADED', sorted(m for m in ('torch', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=harness_env(), cwd=tmp_path, timeout=120)
    assert "LOADED []" in out.stdout, out.stdout + out.stderr


def test_the_example_plugin_passes_its_own_tests_once_installed(plugin_site: Path,
                                                                tmp_path: Path) -> None:
    """What docs/plugins.md tells an author to do: install, then run the plugin's tests, which
    use the harness's contract checks (harness.testing)."""
    tests = REPO / "examples" / "harness-example-plugin" / "tests"
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(tests)], cwd=tmp_path, capture_output=True, text=True,
                          env=harness_env(PYTHONPATH=f"{REPO}:{plugin_site}"), timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "3 passed" in done.stdout

"""The distribution installs one import namespace, `harness`, and nothing under a generic name."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import REPO

# The repository's top-level folders and the names they are installed under.
FOLDERS = {"plugins": "harness/plugins", "tasks": "harness/tasks",
           "leaderboards": "harness/leaderboards", "training": "harness/training",
           "dataset_builder": "harness/dataset_builder"}


def _build_wheel(tmp: Path) -> Path:
    src = tmp / "src"
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(
        ".venv", ".git", "results", "build", "*.egg-info", "__pycache__", ".pytest_cache"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "-w", str(tmp / "dist"), str(src)],
        check=True, capture_output=True, text=True, timeout=300,
    )
    (wheel,) = (tmp / "dist").glob("derm_harness-*.whl")
    return wheel


def test_wheel_installs_only_the_harness_namespace(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    dist_info = {t for t in top if t.endswith(".dist-info")}
    assert top - dist_info == {"harness"}, sorted(top)
    for folder, installed in FOLDERS.items():
        assert f"{installed}/__init__.py" in names, f"{folder}/ is not installed as {installed}"
    # Data files travel with their packages.
    assert "harness/leaderboards/reported/table5_zeroshot.csv" in names
    assert "harness/training/ds_zero2.json" in names
    assert "harness/training/ds_zero3.json" in names
    assert "harness/protocol/settings.py" in names
    assert "harness/report/static/report.js" in names
    assert "harness/report/static/report.css" in names
    (info,) = dist_info
    scripts = zipfile.ZipFile(wheel).read(f"{info}/entry_points.txt").decode()
    for line in scripts.splitlines():
        if "=" in line:
            assert line.split("=", 1)[1].strip().startswith("harness."), line


def test_installed_wheel_runs_from_a_foreign_folder(tmp_path: Path) -> None:
    """Installed (not editable) into its own folder, the namespace imports and lists its parts."""
    wheel = _build_wheel(tmp_path)
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
         "--target", str(site), str(wheel)],
        check=True, capture_output=True, text=True, timeout=300,
    )
    assert sorted(p.name for p in site.iterdir() if not p.name.endswith(".dist-info")) in (
        ["harness"], ["bin", "harness"])
    code = ("import harness.plugins.baselines, harness.tasks.zeroshot, harness.leaderboards.build,"
            " harness.dataset_builder.cli, harness.training.recipes, sys;"
            " print(harness.tasks.zeroshot.__file__)")
    out = subprocess.run([sys.executable, "-S", "-c", f"import sys; sys.path[:0] = "
                          f"[{str(site)!r}] + {_site_packages()!r}; {code}"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().startswith(str(site))


def _site_packages() -> list[str]:
    """The dependencies' folders, without the project's own editable finder."""
    import site

    return [p for p in site.getsitepackages() if Path(p).is_dir()]

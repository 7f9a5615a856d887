"""Test-wide settings: one thread per process, no network, caches in a temp folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# Set before torch is imported anywhere: thread contention slows tiny models 100x.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The demo set and other caches go to a per-session folder (inherited by subprocesses)."""
    if "HARNESS_TEST_KEEP_CACHE" not in os.environ:
        os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data folder {SHARED_DATA} is absent")
    return SHARED_DATA


EXAMPLE = REPO / "examples" / "harness-example-plugin"


def pip_install_target(package: Path, target: Path) -> None:
    """A real `pip install` of a plugin package into its own folder (not the shared venv)."""
    src = target.parent / f"src-{package.name}"
    shutil.copytree(package, src, dirs_exist_ok=True)  # keep build/ out of the source tree
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(target), str(src)],
        check=True, capture_output=True, text=True, timeout=300,
    )


def one_module_plugin(folder: Path, entry_point: str, source: str) -> Path:
    """A plugin package of one module, ``harness_<entry_point>_plugin``, ready to install."""
    module = f"harness_{entry_point}_plugin"
    (folder / "pyproject.toml").write_text(textwrap.dedent(f"""
        [build-system]
        requires = ["setuptools>=68"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "{module.replace('_', '-')}"
        version = "0.0.1"
        [project.entry-points.harness]
        {entry_point} = "{module}"
        [tool.setuptools]
        py-modules = ["{module}"]
    """))
    (folder / f"{module}.py").write_text(textwrap.dedent(source))
    return folder


@pytest.fixture(scope="session")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("site")
    pip_install_target(EXAMPLE, site)
    pip_install_target(one_module_plugin(tmp_path_factory.mktemp("broken-src"), "broken",
                                         "import a_module_that_does_not_exist\n"), site)
    # A plugin that registers a name a built-in holds: it alone is left out.
    pip_install_target(one_module_plugin(tmp_path_factory.mktemp("clash-src"), "clashing", """
        from harness import hookimpl
        from harness.specs import ModelSpec

        @hookimpl
        def register_models(register):
            register(ModelSpec(name="majority", factory=lambda spec, context, options: None))
    """), site)
    return site

"""Reading the compared projects' own files at their pinned commits, for tests that check the
harness against them (never copied into the project).

A repository is found as a git directory under ``$HARNESS_MIRRORS`` or a ``.mirror`` folder
beside the checkout (``<owner>+<name>/repo``, the layout of a bare mirror); tests skip with
the reason when it is absent.
"""

from __future__ import annotations

import ast
import os
import subprocess
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def mirror(repo: str) -> Path | None:
    """The git directory of ``owner/name``, or None."""
    roots = [Path(p) for p in os.environ.get("HARNESS_MIRRORS", "").split(os.pathsep) if p]
    roots += [REPO.parent / ".mirror", REPO.parent.parent / ".mirror"]
    for root in roots:
        path = root / repo.replace("/", "+") / "repo"
        if path.is_dir():
            return path
    return None


@cache
def show(repo: str, commit: str, file: str) -> str:
    """The file's text at the commit; skips the test when the repository is not here."""
    git_dir = mirror(repo)
    if git_dir is None:
        pytest.skip(f"{repo} is not mirrored here (set HARNESS_MIRRORS to a folder holding "
                    f"{repo.replace('/', '+')}/repo)")
    out = subprocess.run(["git", "--git-dir", str(git_dir), "show", f"{commit}:{file}"],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        pytest.skip(f"{repo}@{commit} has no {file} here ({out.stderr.strip()[:200]})")
    return out.stdout


def lines(text: str, spec: str) -> str:
    """Lines ``"12"``, ``"12-15"`` or ``"12,40-41"`` (1-based) of ``text``."""
    all_lines = text.splitlines()
    out = []
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        out += all_lines[int(lo) - 1 : int(hi or lo)]
    return "\n".join(out)


def argparse_defaults(source: str) -> dict[str, object]:
    """``dest -> default`` of every ``add_argument`` call with a literal default."""
    out: dict[str, object] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument":
            flag = ast.literal_eval(node.args[0])
            for kw in node.keywords:
                if kw.arg == "default":
                    try:
                        out[flag.lstrip("-").replace("-", "_")] = ast.literal_eval(kw.value)
                    except ValueError:
                        pass
    return out


def generate_kwargs(source: str) -> dict[str, object]:
    """The keyword arguments of the script's ``model.generate(...)`` call, ``args.x`` resolved
    to the script's argparse defaults."""
    defaults = argparse_defaults(source)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "generate":
            out: dict[str, object] = {}
            for kw in node.keywords:
                value = kw.value
                if isinstance(value, ast.Attribute) and getattr(value.value, "id", "") == "args":
                    out[str(kw.arg)] = defaults[value.attr]
                else:
                    try:
                        out[str(kw.arg)] = ast.literal_eval(value)
                    except ValueError:
                        out[str(kw.arg)] = ast.unparse(value)
            return out
    raise AssertionError("no generate() call found")


def experiment_targets(source: str) -> dict[str, list[str]]:
    """``experiment name -> its targets' keys in order`` from ``get_experiment_setting``."""
    out: dict[str, list[str]] = {}
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.If):
            continue
        test = node.test
        if not (isinstance(test, ast.Compare) and isinstance(test.comparators[0], ast.Constant)):
            continue
        for stmt in node.body:
            if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Dict):
                for key, value in zip(stmt.value.keys, stmt.value.values, strict=True):
                    if isinstance(key, ast.Constant) and key.value == "targets":
                        assert isinstance(value, ast.Dict)
                        out[str(test.comparators[0].value)] = [
                            str(ast.literal_eval(k)) for k in value.keys if k is not None]
    return out

"""No import cycles among the project's modules, counting imports inside functions too.

A function-level import hides a cycle from Python but not from the reader: the two modules
still depend on each other. Layers depend one way (see docs/architecture.md).
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

# Repository folder -> the import name it installs as (pyproject.toml's package-dir).
PACKAGES = {"harness": "harness", "plugins": "harness.plugins", "tasks": "harness.tasks",
            "leaderboards": "harness.leaderboards", "training": "harness.training",
            "dataset_builder": "harness.dataset_builder", "demo": "harness.demo"}


def module_names() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for folder, package in PACKAGES.items():
        root = REPO / folder
        if not root.is_dir():
            continue
        for path in root.rglob("*.py"):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([package, *parts])] = path
    return out


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base]) if base else ".".join(up)
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        for target in targets:
            # The deepest project module the import names (a name inside a module counts
            # as the module).
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def project_graph() -> dict[str, set[str]]:
    modules = module_names()
    known = set(modules)
    graph = {name: imports_of(name, path, known) for name, path in modules.items()}
    # A package's __init__ importing its own submodules is not a dependency between layers.
    return {name: {t for t in deps if not name.startswith(t + ".") and not t.startswith(name + ".")}
            for name, deps in graph.items()}


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles() -> None:
    found = cycles(project_graph())
    assert not found, "import cycles: " + "; ".join(" <-> ".join(c) for c in found)

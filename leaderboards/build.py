"""Writing the leaderboards to disk, and checking that what is on disk is up to date."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.leaderboards.collect import Run, collect
from harness.leaderboards.fairness import fairness_document
from harness.leaderboards.markdown import GENERATED
from harness.leaderboards.tables import (
    Document,
    class_document,
    overview_document,
    table_document,
    text_document,
)


@dataclass
class Outcome:
    written: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)  # --check: what differs, one line each
    diff: str = ""
    problems: list[str] = field(default_factory=list)  # results files that could not be read
    kept: bool = False  # nothing written: an unreadable input would have dropped its rows


def render(results: Path, out: Path) -> tuple[list[Document], list[str]]:
    """The documents the results under ``results`` produce, for files written to ``out``."""
    runs, problems = collect(results)
    return documents(runs, out, problems), problems


def documents(runs: Sequence[Run], out: Path, problems: Sequence[str] = ()) -> list[Document]:
    """Every leaderboard document the runs call for, overview last."""
    docs: list[Document] = []
    layouts = {"text": text_document, "classification": class_document,
               "table": table_document}
    for layout in layouts:  # text kinds first, then classification, then the others
        for kind in sorted({r.kind for r in runs if r.layout.layout == layout}):
            docs.append(layouts[layout](kind, [r for r in runs if r.kind == kind], out))
    fair = fairness_document(runs, out)
    if fair is not None:
        docs.append(fair)
    docs.append(overview_document(runs, out, problems, [d.name for d in docs]))
    return docs


def generated_files(out: Path) -> list[Path]:
    """Markdown files in ``out`` that this command wrote (they start with its marker)."""
    found = []
    for path in sorted(out.glob("*.md")):
        try:
            with path.open() as f:
                first = f.readline().rstrip("\n")
        except OSError:
            continue
        if first == GENERATED:
            found.append(path)
    return found


def write(results: Path, out: Path, figures: bool = True,
          skip_unreadable: bool = False) -> Outcome:
    """Write the documents the results produce and remove those no longer produced.

    When a results file cannot be read, nothing in ``out`` is written or removed (the
    last good tables stay) unless ``skip_unreadable``: then the tables are written
    without it and overview.md names it.
    """
    runs, problems = collect(results)
    outcome = Outcome(problems=problems)
    if problems and not skip_unreadable:  # decided before any document is built
        outcome.kept = True
        return outcome
    docs = documents(runs, out, problems)
    out.mkdir(parents=True, exist_ok=True)
    names = {d.name for d in docs}
    for old in generated_files(out):
        if old.name not in names:
            old.unlink()
            outcome.removed.append(old)
    for doc in docs:
        path = out / doc.name
        text = doc.text
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
        outcome.written.append(path)
        if figures:
            for name, draw in sorted(doc.figures.items()):
                draw(out / name)
                outcome.written.append(out / name)
    return outcome


def check(results: Path, out: Path) -> Outcome:
    """What differs between the Markdown on disk and what the results would produce."""
    docs, problems = render(results, out)
    outcome = Outcome(problems=problems)
    names = {d.name for d in docs}
    diffs = []
    for doc in docs:
        path = out / doc.name
        if not path.exists():
            outcome.stale.append(f"{path}: missing")
            continue
        current = path.read_text()
        if current != doc.text:
            outcome.stale.append(f"{path}: differs")
            diffs += difflib.unified_diff(current.splitlines(True), doc.text.splitlines(True),
                                          str(path), f"{path} (from results)")
        for name in sorted(doc.figures):
            if not (out / name).exists():
                outcome.stale.append(f"{out / name}: missing (linked from {doc.name})")
    for old in generated_files(out) if out.is_dir() else []:
        if old.name not in names:
            outcome.stale.append(f"{old}: no longer produced by the results")
    outcome.diff = "".join(diffs)
    return outcome

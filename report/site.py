"""Writing the report: a static site read from the results store, opened offline.

    index.html              the leaderboard (the leaderboard package's documents, sortable)
    task-<slug>.html        per task: scores with intervals, per group, per class, confusion
    samples.html            the sample browser and two-model view (?task=&model=[&b=])
    data/manifest.js        what tasks and models there are (small, loaded by every page)
    data/<slug>/*.js        per task: the samples; per model: answers and per-sample scores
    thumbs/, figures/       thumbnails (made once) and the leaderboard's figures
    assets/                 the project's own CSS and JavaScript
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path

from harness.leaderboards import build as leaderboard_build
from harness.leaderboards.collect import Run, collect
from harness.report import pages
from harness.report.leaderboard import leaderboard_page
from harness.report.sampledata import TaskData, script, write_task
from harness.results import PARTIAL_METRICS, MetricsFile, SchemaError, read_metrics
from harness.store import atomic_write_text

ASSETS = ("report.js", "report.css")


@dataclass
class Written:
    index: Path
    tasks: list[TaskData] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    partial: list[str] = field(default_factory=list)


def slugify(text: str) -> str:
    """A file-name-safe, unique slug: readable part plus a short hash of the original."""
    readable = "".join(c if c.isalnum() or c in "-." else "-" for c in text).strip("-")[:60]
    return f"{readable}-{hashlib.sha1(text.encode()).hexdigest()[:6]}"


def why_partial(m: MetricsFile) -> str:
    why = []
    if m.partial and m.partial.limit is not None:
        why.append(f"--limit {m.partial.limit}")
    if m.partial and m.partial.metrics:
        why.append("metrics " + ", ".join(m.partial.metrics))
    return ", ".join(why) or "partial"


def partial_results(results: Path, runs: list[Run]) -> list[str]:
    """Partial results: in a table when no complete one exists (marked here), else beside the
    complete one (``metrics.partial.json``, never in a table)."""
    out = [f"{r.rel}: in the tables, partial ({why_partial(r.metrics)}): "
           f"{r.metrics.answered} of {r.n} answered" for r in runs if not r.metrics.complete]
    for path in sorted(results.resolve().glob(f"**/{PARTIAL_METRICS}")):
        rel = path.parent.relative_to(results.resolve()).as_posix()
        try:
            m = read_metrics(path)
        except SchemaError as exc:
            out.append(f"{rel}: {exc}")
            continue
        out.append(f"{rel}: beside a complete result, not in the tables "
                   f"({why_partial(m)}): {m.answered} of {m.n} answered")
    return out


def remove_previous(out: Path) -> None:
    """A previous report's pages and data (tasks and models may be gone); thumbnails stay."""
    marker = f'<meta name="generator" content="{pages.GENERATOR}">'
    for page in out.glob("*.html"):
        try:
            ours = marker in page.read_text(encoding="utf-8", errors="replace")[:2000]
        except OSError:
            continue
        if ours:
            page.unlink()
    if (out / "data" / "manifest.js").is_file():
        shutil.rmtree(out / "data")


def write(results: Path, out: Path) -> Written:
    """Write the whole site into ``out``; returns the index and what each task holds."""
    out.mkdir(parents=True, exist_ok=True)
    assets = out / "assets"
    assets.mkdir(exist_ok=True)
    for name in ASSETS:
        source = resources.files("harness.report").joinpath("static", name)
        with resources.as_file(source) as src:
            shutil.copyfile(src, assets / name)
    remove_previous(out)
    runs, problems = collect(results)
    docs = leaderboard_build.documents(runs, out, problems)
    for doc in docs:
        for name, draw in sorted(doc.figures.items()):
            draw(out / name)
    written = Written(index=out / "index.html", problems=list(problems),
                      partial=partial_results(results, runs))
    by_task: dict[str, list[Run]] = {}
    for run in runs:
        by_task.setdefault(run.task_folder, []).append(run)
    manifest: dict[str, object] = {"tasks": {}}
    (out / "data").mkdir(exist_ok=True)
    for task, mine in sorted(by_task.items()):
        slug = slugify(task)
        data = write_task(task, slug, mine, out, slugify)
        written.tasks.append(data)
        manifest["tasks"][slug] = asdict(data)  # type: ignore[index]
        atomic_write_text(out / f"task-{slug}.html", pages.task_page(task, mine, data),
                          fsync=False)
    atomic_write_text(out / "data" / "manifest.js", script("meta", "manifest", manifest),
                      fsync=False)
    atomic_write_text(out / "samples.html", pages.samples_page(), fsync=False)
    atomic_write_text(written.index, leaderboard_page(docs, written), fsync=False)
    return written

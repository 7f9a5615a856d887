"""The report's HTML pages: the leaderboard (the leaderboard package's documents), one page
per task (scores with intervals, per group, per class, confusion matrices, fairness), and the
sample browser's shell. Every value printed here is read from metrics.json (``Scores``)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from harness.leaderboards.collect import Run, higher_is_better
from harness.report.sampledata import TaskData

GENERATOR = "harness report"  # marks the pages a later report may replace or remove
FAIRNESS_FIELDS = {"sex": "sex", "age_band": "age band", "fitzpatrick": "Fitzpatrick skin type"}


def shell(title: str, body: str, page: str = "page", scripts: Sequence[str] = ()) -> str:
    """A whole page: the project's own CSS and JS, relative paths only."""
    extra = "".join(f'<script src="{escape(s)}"></script>' for s in scripts)
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<meta name=\"generator\" content=\"{GENERATOR}\">"
        # No request may leave the machine: the policy forbids any origin but the page's own.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'self' 'unsafe-inline' "
        "file: data:\">"
        f"<title>{escape(title)}</title><link rel=\"stylesheet\" href=\"assets/report.css\">"
        f"</head><body data-page=\"{page}\"><nav><a href=\"index.html\">Leaderboard</a>"
        "<a href=\"index.html#tasks\">Tasks</a></nav><main>"
        f"{body}</main><script src=\"data/manifest.js\"></script>{extra}"
        "<script src=\"assets/report.js\"></script></body></html>\n")


def pct(value: Any) -> str:
    return "-" if value is None else f"{100 * float(value):.2f}"


def value_cell(value: Any, ci: Any = None, best: bool = False) -> str:
    if value is None:
        return '<td class="num missing">-</td>'
    interval = ""
    if ci and ci[0] is not None and ci[1] is not None:
        interval = f' <span class="ci">({pct(ci[0])}–{pct(ci[1])})</span>'
    cls = "num best" if best else "num"
    return (f'<td class="{cls}" data-value="{float(value)!r}">'
            f'<span class="v">{pct(value)}</span>{interval}</td>')


def metric_names(runs: Sequence[Run]) -> list[str]:
    names: list[str] = []
    for run in runs:
        for key, value in run.overall.items():
            if key not in names and isinstance(value, int | float) and not isinstance(value, bool):
                names.append(key)
    return names


def best_of(runs: Sequence[Run], metric: str, get: Any) -> float | None:
    values = [v for r in runs if (v := get(r)) is not None]
    if not values:
        return None
    return max(values) if higher_is_better(runs, metric) else min(values)


def model_label(run: Run) -> str:
    flags = []
    if not run.metrics.complete:
        flags.append('<span class="badge partial">partial</span>')
    if run.coverage is not None and run.coverage < 1:
        flags.append(f'<span class="badge coverage">coverage {100 * run.coverage:.1f}%</span>')
    return f"{escape(run.model)} {' '.join(flags)}".strip()


def scores_table(runs: Sequence[Run]) -> str:
    metrics = metric_names(runs)
    head = "".join(f'<th class="num">{escape(m)}</th>' for m in metrics)
    rows = []
    for run in runs:
        cells = []
        for m in metrics:
            v = run.overall.get(m)
            best = best_of(runs, m, lambda r, m=m: r.overall.get(m))
            cells.append(value_cell(v, run.scores.ci.get(m), v is not None and v == best))
        cov = "-" if run.coverage is None else f"{100 * run.coverage:.1f}%"
        rows.append(f'<tr data-model="{escape(run.model)}"><th>{model_label(run)}</th>'
                    f'<td class="num">{run.n}</td><td class="num">{run.metrics.answered}</td>'
                    f'<td class="num">{run.metrics.failed}</td><td class="num">{cov}</td>'
                    f'{"".join(cells)}</tr>')
    return ('<table class="sortable scores"><thead><tr><th>model</th><th class="num">n</th>'
            '<th class="num">answered</th><th class="num">failed</th><th class="num">coverage'
            f'</th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>')


def group_tables(runs: Sequence[Run], field: str, metrics: Sequence[str]) -> str:
    """One table per metric: models as rows, the field's groups as columns, n beside."""
    values = sorted({g for r in runs for g in r.scores.groups.get(field, {})})
    if not values:
        return ""
    out = []
    for m in metrics:
        head = "".join(f'<th class="num">{escape(v)}</th>' for v in values)
        rows = []
        for run in runs:
            groups = run.scores.groups.get(field) or {}
            cells = []
            scored = {}
            for v in values:
                g = groups.get(v) or {}
                ci = (g.get("ci") or {}).get(m) if isinstance(g.get("ci"), dict) else None
                cells.append(value_cell(g.get(m), ci).replace(
                    "</td>", f' <span class="n">n={g.get("n", "?")}</span></td>')
                    if g.get(m) is not None else value_cell(None))
                if g.get(m) is not None:
                    scored[v] = float(g[m])
            gap = (max(scored.values()) - min(scored.values())) if len(scored) >= 2 else None
            rows.append(f"<tr><th>{model_label(run)}</th>{''.join(cells)}"
                        f"{value_cell(gap)}</tr>")
        out.append(f'<h4>{escape(m)}</h4><table class="sortable groups" data-field='
                   f'"{escape(field)}" data-metric="{escape(m)}"><thead><tr><th>model</th>'
                   f'{head}<th class="num">gap (best − worst)</th></tr></thead><tbody>'
                   f'{"".join(rows)}</tbody></table>')
    return "".join(out)


def per_class_table(runs: Sequence[Run]) -> str:
    """Recall and precision per true class, from each run's confusion matrix."""
    with_conf = [r for r in runs if r.scores.confusion is not None and r.scores.confusion.matrix]
    if not with_conf:
        return ""
    classes = sorted({c for r in with_conf for c in r.scores.confusion.rows})
    head = "".join(f'<th class="num">{escape(r.model)} recall</th>'
                   f'<th class="num">{escape(r.model)} precision</th>' for r in with_conf)
    rows = []
    for c in classes:
        cells = []
        support = None
        for r in with_conf:
            conf = r.scores.confusion
            recall = precision = None
            if c in conf.rows:
                i = conf.rows.index(c)
                total = sum(conf.matrix[i])
                support = total
                if c in conf.columns:
                    j = conf.columns.index(c)
                    recall = conf.matrix[i][j] / total if total else None
                    predicted = sum(row[j] for row in conf.matrix)
                    precision = conf.matrix[i][j] / predicted if predicted else None
            cells.append(value_cell(recall) + value_cell(precision))
        shown = "-" if support is None else str(support)
        rows.append(f'<tr><th>{escape(c)}</th><td class="num">{shown}</td>{"".join(cells)}</tr>')
    return ('<h3>Per class</h3><p>From each run\'s confusion matrix: recall = correct / true '
            'samples of the class, precision = correct / samples predicted as the class.</p>'
            '<table class="sortable perclass"><thead><tr><th>class</th><th class="num">'
            f'support</th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>')


def confusion_tables(runs: Sequence[Run]) -> str:
    out = []
    for run in runs:
        conf = run.scores.confusion
        if conf is None or not conf.matrix:
            continue
        peak = max((v for row in conf.matrix for v in row), default=0) or 1
        head = "".join(f"<th>{escape(c)}</th>" for c in conf.columns)
        body = []
        for name, row in zip(conf.rows, conf.matrix, strict=False):
            cells = "".join(
                f'<td class="num heat" style="--h:{v / peak:.3f}">{v}</td>' for v in row)
            body.append(f"<tr><th>{escape(name)}</th>{cells}</tr>")
        out.append(f'<h4>{escape(run.model)}</h4><table class="confusion" data-model='
                   f'"{escape(run.model)}"><thead><tr><th>true \\ predicted</th>{head}</tr>'
                   f'</thead><tbody>{"".join(body)}</tbody></table>')
    if not out:
        return ""
    return "<h3>Confusion matrices</h3>" + "".join(out)


def task_page(task: str, runs: Sequence[Run], data: TaskData) -> str:
    metrics = metric_names(runs)
    headline = metrics[:1]
    parts = [f"<h1>{escape(task)}</h1>",
             f'<p>{escape(runs[0].kind)} · {data.n} samples · {len(runs)} model(s). Values x100; '
             "95% paired bootstrap intervals in parentheses; the best per column in bold.</p>"]
    parts += [f'<p class="note">{escape(n)}</p>' for n in data.notes]
    parts.append("<h2>Scores</h2>" + scores_table(runs))
    links = "".join(
        f'<li><a class="browse" href="samples.html?task={escape(data.slug)}&amp;model='
        f'{escape(m.slug)}">{escape(m.name)}</a></li>' for m in data.models)
    def options(chosen: int) -> str:
        return "".join(f'<option value="{escape(m.slug)}"{" selected" if i == chosen else ""}>'
                       f"{escape(m.name)}</option>" for i, m in enumerate(data.models))

    parts.append(f"<h2>Samples</h2><ul class=\"models\">{links}</ul>")
    if len(data.models) >= 2:
        parts.append(
            '<form class="compare" action="samples.html" method="get">'
            f'<input type="hidden" name="task" value="{escape(data.slug)}">'
            f'Compare <select name="model">{options(0)}</select> with '
            f'<select name="b">{options(1)}</select> '
            '<button type="submit">two-model view</button></form>')
    if any("modality" in r.scores.groups for r in runs):
        parts.append("<h2>Per modality</h2>" + group_tables(runs, "modality", metrics))
    parts.append(per_class_table(runs))
    parts.append(confusion_tables(runs))
    fair = [f for f in FAIRNESS_FIELDS if any(f in r.scores.groups for r in runs)]
    if fair:
        parts.append("<h2>Fairness</h2><p>Per-group scores by the demographic fields the "
                     "dataset records; the gap is the best group's score minus the worst's.</p>")
        for f in fair:
            parts.append(f"<h3>By {escape(FAIRNESS_FIELDS[f])}</h3>"
                         + group_tables(runs, f, headline))
    return shell(task, "".join(parts), page="task")


SAMPLES_BODY = """<h1 id="title">Samples</h1>
<p id="summary" class="note"></p>
<div id="controls" class="controls"></div>
<div id="pager" class="pager"></div>
<table id="samples" class="samples"><thead></thead><tbody></tbody></table>
<div id="pager2" class="pager"></div>
<noscript>The sample browser needs JavaScript (the project's own, in assets/).</noscript>"""


def samples_page() -> str:
    return shell("Samples", SAMPLES_BODY, page="samples")

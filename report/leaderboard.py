"""The report's front page: the leaderboard package's documents rendered as HTML (the same
tables as the Markdown files, reported rows beside ours), followed by the task index."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING, Any

from harness.leaderboards.markdown import GENERATED
from harness.report import pages

if TYPE_CHECKING:
    from harness.report.site import Written


def markdown_to_html(text: str) -> str:
    """CommonMark with tables and footnotes (markdown-it-py, the parser rich depends on)."""
    from markdown_it import MarkdownIt
    from mdit_py_plugins.footnote import footnote_plugin

    md = MarkdownIt("commonmark", {"html": False}).enable("table").use(footnote_plugin)
    return md.render(text)


def leaderboard_page(docs: Sequence[Any], written: Written) -> str:
    overview = [d for d in docs if d.name == "overview.md"]
    rest = [d for d in docs if d.name != "overview.md"]
    parts = ['<h1>Leaderboard</h1><p class="note">The tables of <code>harness leaderboard'
             '</code>, from the same results; click a column header to sort. Rows marked '
             '"reported" are the paper\'s printed numbers, Δ rows the difference; a '
             '"coverage" mark is a result that did not answer every sample.</p>']
    if written.partial:
        parts.append("<h2>Partial results</h2><ul class=\"partial\">"
                     + "".join(f"<li>{escape(p)}</li>" for p in written.partial) + "</ul>")
    if written.problems:
        parts.append("<h2>Unreadable results (left out)</h2><ul class=\"problems\">"
                     + "".join(f"<li>{escape(p)}</li>" for p in written.problems) + "</ul>")
    for doc in [*overview, *rest]:
        # The Markdown's first line is the generator's marker (an HTML comment): not shown.
        text = doc.text.removeprefix(GENERATED)
        body = markdown_to_html(text)
        for other in docs:  # a link to another document is a link to its section here
            body = body.replace(f'href="{other.name}"', f'href="#doc-{other.name}"')
        parts.append(f'<section class="doc" id="doc-{escape(doc.name)}" '
                     f'data-doc="{escape(doc.name)}">{body}</section>')
    rows = "".join(
        f'<tr><th><a href="task-{escape(t.slug)}.html">{escape(t.task)}</a></th>'
        f'<td>{escape(t.kind)}</td><td class="num">{t.n}</td><td>'
        + ", ".join(f'<a href="samples.html?task={escape(t.slug)}&amp;model={escape(m.slug)}">'
                    f'{escape(m.name)}</a>' for m in t.models)
        + "</td></tr>" for t in written.tasks)
    parts.append('<h2 id="tasks">Tasks</h2><table class="sortable tasks"><thead><tr><th>task'
                 '</th><th>kind</th><th class="num">samples</th><th>models (sample browser)'
                 f'</th></tr></thead><tbody>{rows}</tbody></table>')
    return pages.shell("Leaderboard", "".join(parts), page="index")

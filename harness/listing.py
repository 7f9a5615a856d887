"""`harness list`: what the installed plugins registered, for people and for scripts.

Names are never cut: in a terminal the table gives the name column the width of the
longest name; piped, each row is one plain line of columns padded to their widest
value (so `grep`, `cut` and copying work); ``--format json`` is a list of objects.
"""

from __future__ import annotations

import json
from typing import Any

from harness.plugin_manager import Registries

COLUMNS = {
    "models": ("name", "family", "capabilities", "checkpoint", "plugin"),
    "tasks": ("name", "kind", "dataset", "needs", "headline", "plugin"),
    "metrics": ("name", "kind", "version", "higher is better", "plugin"),
    "datasets": ("name", "modality", "classes", "splits", "plugin"),
}


def records(regs: Registries, what: str) -> list[dict[str, Any]]:
    """One JSON-ready record per registered item, with every value whole."""
    if what == "models":
        return [{"name": m.name, "family": m.family, "capabilities": sorted(m.capabilities),
                 "checkpoint": m.checkpoint, "aliases": list(m.aliases),
                 "description": m.description, "plugin": m.plugin,
                 "options": option_records(m.options)} for m in regs.models]
    if what == "tasks":
        return [{"name": t.name, "kind": t.kind, "dataset": t.dataset, "needs": t.capability,
                 "headline": t.headline, "split": t.split, "aliases": list(t.aliases),
                 "description": t.description, "plugin": t.plugin,
                 "options": option_records(t.options)} for t in regs.tasks]
    if what == "metrics":
        return [{"name": m.name, "kind": m.kind, "version": m.version,
                 "higher_is_better": m.higher_is_better, "description": m.description,
                 "plugin": m.plugin} for m in regs.metrics]
    return [{"name": d.name, "modality": d.modality, "classes": list(d.classes),
             "splits": list(d.splits), "description": d.description, "plugin": d.plugin}
            for d in regs.datasets]


def option_records(cls: Any) -> list[dict[str, Any]]:
    """A plugin's declared options."""
    from harness.options import describe

    return [{"name": i.name, "type": i.type, "default": i.default, "help": i.help,
             "runtime": i.name in cls.runtime} for i in describe(cls)]


def option_lines(records: list[dict[str, Any]], flag: str, indent: str = "  "
                 ) -> list[str]:
    """The options as text: one line per option, its help below it."""
    if not records:
        return [f"{indent}options: none"]
    out = []
    for r in records:
        runtime = " [runtime: never changes an answer]" if r["runtime"] else ""
        out.append(f"{indent}{flag} {r['name']} ({r['type']}, default {r['default']!r}){runtime}")
        if r["help"]:
            out.append(f"{indent}    {r['help']}")
    return out


def cells(what: str, record: dict[str, Any]) -> list[str]:
    """The table's cells of one record, in ``COLUMNS[what]`` order."""
    if what == "models":
        return [record["name"], record["family"], ", ".join(record["capabilities"]),
                record["checkpoint"] or "-", record["plugin"]]
    if what == "tasks":
        return [str(record[k]) for k in COLUMNS["tasks"]]
    if what == "metrics":
        return [record["name"], record["kind"], record["version"],
                "yes" if record["higher_is_better"] else "no", record["plugin"]]
    return [record["name"], record["modality"],
            str(len(record["classes"])) if record["classes"] else "-",
            ", ".join(record["splits"]), record["plugin"]]


def plain_lines(header: tuple[str, ...], rows: list[list[str]]) -> list[str]:
    """Columns padded to their widest value, two spaces apart; nothing is cut."""
    widths = [max(len(str(v)) for v in col) for col in zip(header, *rows, strict=True)]
    return ["  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
            for row in (list(header), *rows)]


def show(regs: Registries, what: str, fmt: str, terminal: bool, verbose: bool = False
         ) -> None:
    recs = records(regs, what)
    if fmt == "json":
        print(json.dumps(recs, indent=1, default=str))
        return
    if verbose and what in ("models", "tasks"):
        flag = "-M" if what == "models" else "-T"
        for r in recs:
            print(f"{r['name']}  ({r['plugin']}): {r['description']}")
            print("\n".join(option_lines(r["options"], flag)))
        return
    header, rows = COLUMNS[what], [cells(what, r) for r in recs]
    if not terminal:
        print("\n".join(plain_lines(header, rows)))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=what)
    widest = max((len(r[0]) for r in rows), default=4)
    for i, col in enumerate(header):
        if i == 0:
            table.add_column(col, no_wrap=True, min_width=widest)
        else:  # narrow terminals wrap the other columns rather than cut them
            table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*row)
    Console().print(table)

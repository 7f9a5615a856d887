"""The leaderboard documents: VQA (paper Table 3), probe (Table 4), zero-shot (Table 5), overview.

Each ``*_document`` function returns the Markdown text of one file and the figures it
links (name -> a callable that draws it). Nothing here computes a model metric: cells
are values read from metrics.json, the paper's printed numbers, their differences, and
baseline rows from label counts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.leaderboards import baselines, reported
from harness.leaderboards.collect import DEFAULT_MATCHER, Run, higher_is_better
from harness.leaderboards.markdown import (
    ALT,
    BASELINE,
    DELTA,
    GENERATED,
    NOT_APPLICABLE,
    REPORTED,
    Cell,
    Column,
    Footnotes,
    Row,
    Table,
    signed,
)
from harness.leaderboards.trace import (
    coverage_suffix,
    link,
    provenance_warnings,
    run_notes,
    runs_index,
)

MODALITY_ORDER = ("pathology", "clinical", "dermoscopy")  # Table 3's order
# harness.metrics.scoring.UNKNOWN (the group of samples without a modality), restated:
# importing harness.metrics would add about 0.17 s to every leaderboard command.
UNKNOWN_MODALITY = "unknown"
DATASET_ORDER = ("patch16", "pad-ufes-20", "isic2019", "hiba", "ham10000", "fitzpatrick17k",
                 "dermnet", "ddi")  # Table 4's order (Table 5's is a subsequence)
# Titles of metrics a kind's table does not declare (the overview, fairness, extra columns).
METRIC_TITLES = {"accuracy": "ACC", "balanced_accuracy": "BACC", "precision_macro": "precision",
                 "precision_macro_union": "precision (with unmatched)",
                 "recall_macro": "recall", "f1_macro": "F1", "auc_ovr": "AUC",
                 "bleu4": "Bleu-4", "meteor": "Meteor", "rougeL": "Rouge-l",
                 "bertscore": "BertScore"}
BERTSCORE_SETTINGS = ("model", "encoder", "model_type", "layer", "num_layers", "idf", "rescale",
                      "rescale_with_baseline", "package", "stat")
PAPER_TABLE_OF_KIND = {"vqa": 3, "probe": 4, "zeroshot": 5}

Figure = Callable[[Path], None]


@dataclass
class Document:
    name: str  # file name, e.g. "vqa.md"
    text: str
    figures: dict[str, Figure] = field(default_factory=dict)  # "figures/x.png" -> draw(path)


def metric_title(runs: Sequence[Run], metric: str) -> str:
    """A metric's column title: as the runs' kind declares it, else the harness's own."""
    for run in runs:
        title = dict(run.layout.columns).get(metric)
        if title:
            return title
    return METRIC_TITLES.get(metric, metric)


def kind_title(runs: Sequence[Run]) -> str:
    return runs[0].layout.title or runs[0].kind


def ordered(keys: Sequence[str], order: Sequence[str]) -> list[str]:
    known = [k for k in order if k in keys]
    return known + sorted(k for k in set(keys) if k not in order)


def slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-." else "-" for c in text).strip("-")


def header(title: str, intro: str) -> list[str]:
    return [GENERATED, "", f"# {title}", "", intro, ""]


LEGEND = (
    "Values are x100 with two decimals, as in the paper; the best reproduced value per column "
    "is in **bold**; `-` marks a missing result and `n/a` a value that does not apply. Each "
    "reproduced number links to the metrics.json it was read from; the runs table at the end "
    "gives each run's commit and task fingerprint. Intervals in parentheses are 95% "
    "bootstrap confidence intervals."
)


# ---------------------------------------------------------------- text metrics (VQA, caption)

def text_metric_columns(runs: Sequence[Run], notes: Footnotes,
                        paper: bool = False) -> list[tuple[str, str, str]]:
    """(column key, metric key, title) for every metric the runs report, paper's first.

    A BERTScore whose recorded configuration is not the paper's gets its own column,
    named by its encoder, and is never compared with the paper.
    """
    declared = dict(runs[0].layout.columns)  # the kind's columns, in order
    found: dict[str, tuple[str, str]] = {}
    for run in runs:
        infos = run.scores.metrics
        for key, value in run.overall.items():
            if not isinstance(value, int | float) or isinstance(value, bool) or key == "n":
                continue
            col, title = key, declared.get(key, key)
            if key.startswith("bertscore"):
                info = infos.get(key)
                params = info.params if info is not None else {}
                setting = ", ".join(f"{k}={params[k]}" for k in sorted(params)
                                    if k in BERTSCORE_SETTINGS)
                if key == "bertscore" and reported.same_bertscore(info):
                    title = "BertScore" + notes.ref(
                        f"BERTScore as the paper computes it ({setting})")
                else:
                    encoder = next((str(params[k]) for k in ("model", "encoder", "model_type")
                                    if params.get(k)), "encoder not recorded")
                    col = f"{key}@{encoder}"
                    title = f"{key}" + notes.ref(
                        f"`{key}`: BERTScore with another encoder or setting than the paper's "
                        f"(bert-base-uncased, layer 9): {setting or 'configuration not recorded'}."
                        " A different metric: never compared with the paper's BertScore.")
            found.setdefault(col, (key, title))
    if paper:  # the paper's columns, even where no run has them
        for key, title in declared.items():
            if key == "bertscore" and "bertscore" not in found:
                title += notes.ref("the paper's BERTScore (bert-base-uncased, layer 9); no run "
                                   "here computed it with that encoder")
            found.setdefault(key, (key, title))
    order = [k for k in declared if k in found]
    rest = sorted(k for k in found if k not in order)
    return [(c, found[c][0], found[c][1]) for c in [*order, *rest]]


def bertscore_column(run: Run, col: str, key: str) -> bool:
    """Whether this run's value of ``key`` belongs in column ``col``."""
    if not key.startswith("bertscore"):
        return True
    info = run.scores.metrics.get(key)
    if col == "bertscore":
        return reported.same_bertscore(info)
    params = info.params if info is not None else {}
    encoder = next((str(params[k]) for k in ("model", "encoder", "model_type") if params.get(k)),
                   "encoder not recorded")
    return col == f"{key}@{encoder}" and not (key == "bertscore" and reported.same_bertscore(info))


def text_section(task: str, runs: Sequence[Run], out: Path, notes: Footnotes) -> tuple[
        list[str], dict[str, Figure]]:
    kind, dataset = runs[0].kind, runs[0].dataset
    paper = reported.table_for(kind, dataset)
    metrics = text_metric_columns(runs, notes, paper is not None)
    found = {m for r in runs for m in (r.scores.groups.get("modality") or {})}
    if paper is not None:
        found |= set(MODALITY_ORDER)
    modalities = ordered(sorted(found), MODALITY_ORDER)
    lines = [f"## `{task}`", ""]
    lines += provenance_warnings(runs)
    if lines[-1] != "":
        lines.append("")

    # Per modality, laid out like Table 3.
    if modalities:
        columns = [Column(f"{m}:{c}", f"{m.capitalize()}<br>{title}",
                          higher_is_better=higher_is_better(runs, key))
                   for m in modalities for c, key, title in metrics]
        table = Table(columns)
        for run in runs:
            groups = run.scores.groups.get("modality") or {}
            row = Row(f"{run.model}{run_notes(run, notes)}{coverage_suffix(run)}")
            for m in modalities:
                for c, key, _ in metrics:
                    value = (groups.get(m) or {}).get(key)
                    if value is not None and bertscore_column(run, c, key):
                        row.cells[f"{m}:{c}"] = Cell(float(value), link=link(run, out))
            table.rows.append(row)
            if paper is not None:
                add_reported(table, paper, run, [(f"{m}:{c}", m, key) for m in modalities
                                                 for c, key, _ in metrics if c == key], notes)
        if paper is not None:
            add_unreproduced(table, paper, runs, [(f"{m}:{c}", m, key) for m in modalities
                                                  for c, key, _ in metrics if c == key], notes)
        suffix = " (the paper's Table 3)" if paper else ""
        lines += [f"### Per modality{suffix}", "", table.render(), ""]

    # Overall, with confidence intervals.
    columns = [Column("n", "n", bold=False), Column("coverage", "coverage", bold=False)]
    columns += [Column(c, title, higher_is_better=higher_is_better(runs, key))
                for c, key, title in metrics]
    table = Table(columns)
    for run in runs:
        ci = run.scores.ci
        row = Row(f"{run.model}{run_notes(run, notes)}")
        row.cells["n"] = Cell(text=str(run.n))
        row.cells["coverage"] = Cell(text="-" if run.coverage is None else
                                     f"{100 * run.coverage:.1f}%")
        for c, key, _ in metrics:
            value = run.overall.get(key)
            if value is not None and bertscore_column(run, c, key):
                bounds = ci.get(key)
                row.cells[c] = Cell(float(value), link=link(run, out),
                                    ci=(float(bounds[0]), float(bounds[1])) if bounds else None)
        table.rows.append(row)
    lines += ["### All samples", "", table.render(), ""]

    figures: dict[str, Figure] = {}
    series = {
        run.model: {m: float(v) for m in modalities
                    if (v := (run.scores.groups.get("modality") or {}).get(
                        m, {}).get(runs[0].headline)) is not None}
        for run in runs
    }
    # Only modalities some run has a value for: the paper's three columns are in the table
    # even without per-modality scores, but a figure of them would be an empty axis.
    plotted = [m for m in modalities if any(m in values for values in series.values())]
    if plotted and set(plotted) != {UNKNOWN_MODALITY}:
        name = f"figures/{slug(task)}-modality.png"
        title = f"{task}: {metric_title(runs, runs[0].headline)} per modality"

        def draw(path: Path, series: dict[str, dict[str, float]] = series,
                 title: str = title, plotted: list[str] = plotted) -> None:
            from harness.leaderboards.plots import modality_bars

            modality_bars(series, plotted, title, path)

        figures[name] = draw
        lines += [f"![{title}]({name})", ""]
    elif modalities:
        lines += ["No per-modality figure: no run has scores per imaging modality (its "
                  "samples carry none; for MM-Skin give `MM-Skin/modality.csv`, see "
                  "docs/datasets.md).", ""]
    return lines, figures


def add_reported(table: Table, paper: int, run: Run, cells: list[tuple[str, str, str]],
                 notes: Footnotes, against: Row | None = None, label: str | None = None) -> None:
    """The paper's row for this run's model and the difference, where the model is in it."""
    name = reported.paper_name_for(paper, run.model)
    if name is None:
        return
    ours = against or table.rows[-1]
    rep = Row(f"↳ reported: {name}" + notes.ref(source_note(paper)), kind=REPORTED)
    delta = Row(label or "↳ Δ reproduced − reported", kind=DELTA)
    fill_not_applicable(table, cells, rep, delta)
    for col, group, metric in cells:
        r = reported.lookup(paper, name, group, metric)
        if r is None:
            continue
        rep.cells[col] = Cell(r.value, raw=True)
        mine = ours.cells.get(col)
        if mine is not None and mine.value is not None and not mine.raw:
            delta.cells[col] = Cell(100 * mine.value - r.value, text=signed(
                100 * mine.value - r.value), raw=True)
    table.rows += [rep, delta]


def add_unreproduced(table: Table, paper: int, runs: Sequence[Run],
                     cells: list[tuple[str, str, str]], notes: Footnotes) -> None:
    ours = {reported.paper_name_for(paper, r.model) for r in runs}
    for name in reported.paper_rows(paper):
        if name in ours:
            continue
        row = Row(f"reported only: {name}" + notes.ref(source_note(paper)), kind=REPORTED)
        fill_not_applicable(table, cells, row)
        for col, group, metric in cells:
            r = reported.lookup(paper, name, group, metric)
            if r is not None:
                row.cells[col] = Cell(r.value, raw=True)
        if row.cells:
            table.rows.append(row)


def fill_not_applicable(table: Table, cells: list[tuple[str, str, str]], *rows: Row) -> None:
    """Columns the paper has no counterpart for say so in its rows."""
    comparable = {c for c, _, _ in cells}
    for col in table.columns:
        if col.key not in comparable:
            for row in rows:
                row.cells[col.key] = Cell(text=NOT_APPLICABLE)


MATCHER_NOTES = {
    "paper": "answers matched to a class with the authors' first-substring rule (`paper` "
             "matcher), scored beside the run's `sound` matcher; the paper's numbers are "
             "compared with the paper matcher's",
    "sound": "answers matched with the harness's `sound` matcher (whole words, synonyms, "
             "negation; two classes named = unmatched), scored beside the run's `paper` matcher",
}
SETTINGS = {3: "its sampling decoding", 4: "its probe protocol",
            5: "its decoding and first-substring answer matching"}


def source_note(paper: int) -> str:
    return (f"as printed in Table {paper} of the {reported.SOURCE}, under the paper's own "
            f"settings ({SETTINGS[paper]}); see leaderboards/reported/README.md")


def dataset_title(dataset: str) -> str:
    """The paper's name for a dataset where it has one (HAM10000), else the harness name."""
    names = {v: k for k, v in reported.GROUP_KEYS.items()}
    return names.get(dataset, dataset)


def text_document(kind: str, runs: Sequence[Run], out: Path) -> Document:
    notes = Footnotes()
    paper = PAPER_TABLE_OF_KIND.get(kind)
    intro = (f"Models as rows, imaging modality x metric as columns, laid out like Table {paper} "
             "of the MM-Skin paper, which is shown beside reproduced rows (`reported`) with the "
             "difference (`Δ`) where the computation is the same. " if paper == 3 else "")
    lines = header(f"{kind_title(runs)} leaderboard", intro + LEGEND)
    figures: dict[str, Figure] = {}
    for task in sorted({r.task_folder for r in runs}):
        section, figs = text_section(task, [r for r in runs if r.task_folder == task], out,
                                     notes)
        lines += section
        figures.update(figs)
    lines += ["## Runs", "", runs_index(runs, out), ""]
    if notes.texts:
        lines += [notes.render(), ""]
    return Document(f"{kind}.md", "\n".join(lines), figures)


# ------------------------------------------------------------ classification (probe, zero-shot)

def class_section(kind: str, variant: str, runs: Sequence[Run], out: Path,
                  notes: Footnotes) -> list[str]:
    metrics = dict(runs[0].layout.columns)
    found = {r.dataset for r in runs}
    paper = PAPER_TABLE_OF_KIND.get(kind) if any(reported.table_for(kind, d) for d in found) \
        else None
    if paper is not None:  # the paper's whole table, with "-" where nothing was run
        found |= {r.group for r in reported.load(paper)}
    datasets = ordered(sorted(found), DATASET_ORDER)
    columns = [Column(f"{d}:{m}", f"{dataset_title(d)}<br>{title}",
                      higher_is_better=higher_is_better(runs, m))
               for d in datasets for m, title in metrics.items()]
    table = Table(columns)
    title = kind_title(runs) + (f", `{variant}`" if variant else "")
    lines = [f"## {title}", ""]
    lines += provenance_warnings(runs)
    if lines[-1] != "":
        lines.append("")

    # Baselines first computed so that cells below chance can be marked.
    chance: dict[str, float] = {}
    baseline_rows: list[Row] = []
    counted: dict[str, Run] = {}
    for d in datasets:
        with_counts = [r for r in runs if r.dataset == d and r.label_counts]
        if with_counts:
            counted[d] = with_counts[0]
            distinct = {tuple(sorted(r.label_counts.items())) for r in with_counts}
            if len(distinct) > 1:
                lines.insert(len(lines) - 1, f"> **Note:** the runs on `{d}` counted different "
                             "test labels (different `--limit`?); baselines use "
                             f"`{with_counts[0].rel}`.")
    for d, run in counted.items():
        for m in metrics:
            value = baselines.baseline("chance", m, run.label_counts)
            if value is not None:
                chance[f"{d}:{m}"] = value
    printed = set(reported.TABLES[paper].columns.values()) if paper is not None else set()
    paper_cells = [(f"{d}:{m}", d, m) for d in datasets for m in metrics if m in printed]
    for model in sorted({r.model for r in runs}):
        mine = [r for r in runs if r.model == model]
        row = Row(model + "".join(dict.fromkeys(run_notes(r, notes) for r in mine)))
        alt_name = next((o[0] for r in mine if (o := r.other_matcher)), "paper")
        alt_row = Row(f"↳ {model}, {alt_name} matcher", kind=ALT)
        paper_cells_row = Row("")  # the paper matcher's values, whichever row shows them
        for run in mine:
            matcher = run.matcher
            if matcher not in (None, DEFAULT_MATCHER) and kind == "zeroshot" \
                    and run.protocol is None:
                row.label += notes.ref(f"matcher `{matcher}` (the default is `sound`)")
            ci = run.scores.ci
            other = run.other_matcher
            for m in metrics:
                col = f"{run.dataset}:{m}"
                value = run.overall.get(m)
                if value is not None:
                    bounds = ci.get(m)
                    below = " ↓" if col in chance and float(value) < chance[col] else ""
                    row.cells[col] = Cell(
                        float(value), link=link(run, out), suffix=below + coverage_suffix(run),
                        ci=(float(bounds[0]), float(bounds[1])) if bounds else None)
                    if matcher == "paper":
                        paper_cells_row.cells[col] = row.cells[col]
                if other is not None and other[1].get(m) is not None:
                    value = float(other[1][m])
                    below = " ↓" if col in chance and value < chance[col] else ""
                    alt_row.cells[col] = Cell(value, link=link(run, out), suffix=below)
                    if other[0] == "paper":
                        paper_cells_row.cells[col] = alt_row.cells[col]
        table.rows.append(row)
        if alt_row.cells:
            alt_row.label += notes.ref(MATCHER_NOTES[alt_name])
            table.rows.append(alt_row)
        if paper is not None:
            add_reported(table, paper, mine[0], paper_cells, notes,
                         against=paper_cells_row if kind == "zeroshot" else row,
                         label="↳ Δ paper matcher − reported" if kind == "zeroshot" else None)
            if kind == "zeroshot" and not paper_cells_row.cells \
                    and table.rows[-1].kind == DELTA:
                table.rows.pop()  # no same-computation row to compare
    if paper is not None:
        add_unreproduced(table, paper, runs, paper_cells, notes)
    for base in baselines.BASELINES:
        row = Row(f"*{baselines.LABELS[base]}*", kind=BASELINE)
        for d, run in counted.items():
            for m in metrics:
                value = baselines.baseline(base, m, run.label_counts)
                if value is None:
                    continue
                suffix = ""
                if base == "majority" and m == "accuracy":
                    suffix = notes.ref(f"`{d}` test split: {baselines.describe(run.label_counts)}"
                                       " (majority and chance rows: arithmetic on these counts,"
                                       " see leaderboards/baselines.py)")
                row.cells[f"{d}:{m}"] = Cell(value, suffix=suffix)
        if row.cells:
            baseline_rows.append(row)

    table.rows += baseline_rows
    text = table.render()
    lines += [text, ""]
    if " ↓" in text:
        lines += ["↓: below the uniform-chance baseline for that dataset.", ""]
    if kind == "zeroshot":
        lines += matching_table(runs, out)
    return lines


def matching_table(runs: Sequence[Run], out: Path) -> list[str]:
    """How answers were matched to classes, per run, with links to the confusion matrices."""
    table = Table([Column("unmatched", "unmatched", higher_is_better=False, bold=False),
                   Column("ambiguous", "ambiguous", higher_is_better=False, bold=False),
                   Column("how", "matches by kind", bold=False),
                   Column("confusion", "confusion matrix", bold=False)],
                  label_title="Run")
    for run in sorted(runs, key=lambda r: (r.dataset, r.model)):
        s = run.scores.extras  # zero-shot's declared extras (docs/results.md)
        row = Row(f"`{run.dataset}` · {run.model}")
        for key, name in (("unmatched", "unmatched_rate"), ("ambiguous", "ambiguous_rate")):
            if isinstance(s.get(name), int | float):
                row.cells[key] = Cell(float(s[name]))
        counts = s.get("match_counts") or {}
        row.cells["how"] = Cell(text=", ".join(f"{k} {counts[k]}" for k in sorted(counts))
                                or NOT_APPLICABLE)
        if confusion_of(run) is not None:
            name = confusion_figure(run)
            row.cells["confusion"] = Cell(text=f"[png]({name})")
        table.rows.append(row)
    return ["### Answer matching", "", "Share of answers (x100) that matched no class or more "
            "than one.", "", table.render(), ""]


def confusion_of(run: Run) -> tuple[list[str], list[str], list[list[float]]] | None:
    """True classes (rows), predicted columns (classes, then "unmatched") and the counts."""
    confusion = run.scores.confusion
    if confusion is None or not confusion.matrix:
        return None
    matrix, rows, columns = confusion.matrix, confusion.rows, confusion.columns
    if len(rows) != len(matrix) or len(columns) != len(matrix[0]):
        return None
    return list(rows), list(columns), [[float(v) for v in row] for row in matrix]


def confusion_figure(run: Run) -> str:
    return f"figures/{slug(run.task_folder)}-{slug(run.model)}-confusion.png"


def class_document(kind: str, runs: Sequence[Run], out: Path) -> Document:
    notes = Footnotes()
    paper = PAPER_TABLE_OF_KIND.get(kind)
    intro = ((f"Models as rows, dataset x metric as columns, laid out like Table {paper} of the "
              "MM-Skin paper; the paper's numbers are shown beside reproduced rows (`reported`) "
              "with the difference (`Δ`). ") if paper else
             "Models as rows, dataset x metric as columns. ") + (
        "Majority-class and uniform-chance rows come from each test split's label counts. ")
    lines = header(f"{kind_title(runs)} leaderboard", intro + LEGEND)
    for variant in sorted({r.variant for r in runs}):
        lines += class_section(kind, variant, [r for r in runs if r.variant == variant], out,
                               notes)
    lines += ["## Runs", "", runs_index(runs, out), ""]
    if notes.texts:
        lines += [notes.render(), ""]
    figures: dict[str, Figure] = {}
    for run in runs:
        conf = confusion_of(run)
        if conf is None:
            continue

        def draw(path: Path, conf: tuple[list[str], list[str], list[list[float]]] = conf,
                 title: str = f"{run.task_folder} · {run.model}") -> None:
            from harness.leaderboards.plots import confusion_matrix

            confusion_matrix(conf[0], conf[1], conf[2], title, path)

        figures[confusion_figure(run)] = draw
    return Document(f"{kind}.md", "\n".join(lines), figures)


# ------------------------------------------------------- any other kind: its declared columns

def judged_keys(runs: Sequence[Run]) -> list[str]:
    """The judged scores (``protocol@judge``, harness/judge) any of the runs holds: a column
    each, so scores by different judges never share one."""
    return sorted({k for r in runs for k in (r.scores.extras.get("judge") or {})
                   if isinstance(r.overall.get(k), int | float)})


def table_document(kind: str, runs: Sequence[Run], out: Path) -> Document:
    """A kind the leaderboard has no paper layout for (a plugin's own kind, closed questions,
    ...): per task, models as rows and the columns the kind declares (its headline metric
    when it declares none), with n, coverage and 95% intervals."""
    notes = Footnotes()
    lines = header(f"{kind_title(runs)} leaderboard", (
        "Models as rows, the metrics the task kind declares as columns. " + LEGEND))
    for task in sorted({r.task_folder for r in runs}):
        mine = [r for r in runs if r.task_folder == task]
        metrics = [m for m, _ in mine[0].layout.columns] or [mine[0].headline]
        metrics += [m for m in judged_keys(mine) if m not in metrics]
        columns = [Column("n", "n", bold=False), Column("coverage", "coverage", bold=False)]
        columns += [Column(m, metric_title(mine, m), higher_is_better=higher_is_better(mine, m))
                    for m in metrics]
        table = Table(columns)
        for run in mine:
            row = Row(f"{run.model}{run_notes(run, notes)}")
            row.cells["n"] = Cell(text=str(run.n))
            row.cells["coverage"] = Cell(text="-" if run.coverage is None else
                                         f"{100 * run.coverage:.1f}%")
            for m in metrics:
                value = run.overall.get(m)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    bounds = run.scores.ci.get(m)
                    row.cells[m] = Cell(float(value), link=link(run, out),
                                        suffix=coverage_suffix(run),
                                        ci=(float(bounds[0]), float(bounds[1])) if bounds
                                        else None)
            table.rows.append(row)
        lines += [f"## `{task}`", ""]
        lines += provenance_warnings(mine)
        if lines[-1] != "":
            lines.append("")
        lines += [table.render(), ""]
    lines += ["## Runs", "", runs_index(runs, out), ""]
    if notes.texts:
        lines += [notes.render(), ""]
    return Document(f"{slug(kind)}.md", "\n".join(lines))


# ----------------------------------------------------------------------------- overview

def overview_document(runs: Sequence[Run], out: Path, problems: Sequence[str],
                      files: Sequence[str]) -> Document:
    notes = Footnotes()
    tasks = ordered(sorted({r.task_folder for r in runs}), ())
    columns = []
    for task in tasks:
        mine = [r for r in runs if r.task_folder == task]
        metric = mine[0].headline
        title = metric_title(mine, metric)
        columns.append(Column(task, f"`{task}`<br>{title}",
                              higher_is_better=higher_is_better(mine, metric)))
    table = Table(columns)
    for model in sorted({r.model for r in runs}):
        row = Row(model)
        for run in (r for r in runs if r.model == model):
            metric = run.headline
            value = run.overall.get(metric)
            if value is None or (metric.startswith("bertscore")):
                continue
            bounds = run.scores.ci.get(metric)
            row.cells[run.task_folder] = Cell(
                float(value), link=link(run, out),
                ci=(float(bounds[0]), float(bounds[1])) if bounds else None,
                suffix=run_notes(run, notes) + coverage_suffix(run))
        table.rows.append(row)
    lines = header("Leaderboard overview", (
        "One headline metric per task, as its kind declares it (BLEU-4 for VQA and "
        "description, accuracy for the probe and zero-shot classification), models as "
        "rows. " + LEGEND))
    lines += provenance_warnings(runs)
    if lines[-1] != "":
        lines.append("")
    if runs:
        lines += [table.render(), ""]
    else:
        lines += ["No results found.", ""]
    if files:
        lines += ["Details: " + ", ".join(f"[{f}]({f})" for f in files) + ".", ""]
    if problems:
        lines += ["Skipped:", ""] + [f"- {p}" for p in problems] + [""]
    if runs:
        lines += ["## Runs", "", runs_index(runs, out), ""]
    if notes.texts:
        lines += [notes.render(), ""]
    return Document("overview.md", "\n".join(lines))

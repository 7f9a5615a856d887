"""The paper's reported numbers (Tables 3, 4, 5), read from ``leaderboards/reported/*.csv``.

Values stay as the paper prints them (x100). Which harness metric each paper column
is, and which harness task each paper table belongs to, is declared here; a harness
metric that is not the same computation has no entry and is never compared.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from harness.results import MetricInfo

FOLDER = Path(__file__).parent / "reported"
SOURCE = "MM-Skin paper (Zeng et al., arXiv:2505.06152)"


@dataclass(frozen=True)
class PaperTable:
    number: int
    file: str
    kind: str  # the harness task kind
    group_column: str  # "Modality" or "Dataset"
    columns: dict[str, str]  # paper column header -> harness metric key


TABLES: dict[int, PaperTable] = {
    3: PaperTable(3, "table3_vqa.csv", "vqa", "Modality", {
        "Bleu-4": "bleu4", "Meteor": "meteor", "Rouge-l": "rougeL", "BertScore": "bertscore",
        "recall": "recall"}),
    4: PaperTable(4, "table4_probe.csv", "probe", "Dataset",
                  {"ACC": "accuracy", "Recall": "recall_macro"}),
    5: PaperTable(5, "table5_zeroshot.csv", "zeroshot", "Dataset",
                  # the authors' precision: over true and predicted labels, unmatched included
                  {"ACC": "accuracy", "precision": "precision_macro_union"}),
}

# The paper's group names -> harness dataset names (Tables 4, 5) or modality names (Table 3).
GROUP_KEYS: dict[str, str] = {
    "Pathology": "pathology", "Clinical": "clinical", "Dermoscopy": "dermoscopy",
    "Patch16": "patch16", "PAD-UFES-20": "pad-ufes-20", "ISIC 2019": "isic2019",
    "HIBA": "hiba", "HAM10000": "ham10000", "Fitzpatrick": "fitzpatrick17k",
    "Dermnet": "dermnet", "DDI": "ddi",
}
# The dataset the paper's VQA table is computed on.
VQA_DATASET = "mm-skin"
# Where the paper's reference BERTScore is defined: bert-base-uncased, layer 9.
PAPER_BERTSCORE = {"model": "bert-base-uncased", "layer": 9}


@dataclass(frozen=True)
class Reported:
    table: int
    paper_name: str  # the row as printed
    model: str | None  # the harness model name, from models.csv
    group: str  # harness dataset or modality key
    paper_group: str
    metric: str  # harness metric key
    paper_metric: str
    text: str  # the value as printed, x100

    @property
    def value(self) -> float:
        return float(self.text)


@cache
def model_names() -> dict[tuple[int, str], str]:
    with open(FOLDER / "models.csv", newline="") as f:
        return {(int(r["table"]), r["paper_name"]): r["harness_model"] for r in csv.DictReader(f)}


@cache
def load(number: int) -> tuple[Reported, ...]:
    table = TABLES[number]
    names = model_names()
    out: list[Reported] = []
    with open(FOLDER / table.file, newline="") as f:
        for row in csv.DictReader(f):
            group = row[table.group_column]
            for column, metric in table.columns.items():
                out.append(Reported(
                    table=number, paper_name=row["Methods"], model=names.get((number, row[
                        "Methods"])), group=GROUP_KEYS[group], paper_group=group, metric=metric,
                    paper_metric=column, text=row[column]))
    return tuple(out)


def table_for(kind: str, dataset: str) -> int | None:
    """The paper table a harness task belongs to (None: the paper reports nothing for it)."""
    if kind == "vqa" and dataset == VQA_DATASET:
        return 3
    for number in (4, 5):
        if TABLES[number].kind == kind and any(r.group == dataset for r in load(number)):
            return number
    return None


def paper_rows(number: int) -> list[str]:
    """The table's row names in the paper's order."""
    return list(dict.fromkeys(r.paper_name for r in load(number)))


def lookup(number: int, paper_name: str, group: str, metric: str) -> Reported | None:
    for r in load(number):
        if r.paper_name == paper_name and r.group == group and r.metric == metric:
            return r
    return None


def paper_name_for(number: int, model: str) -> str | None:
    for (table, paper_name), harness_model in model_names().items():
        if table == number and harness_model == model:
            return paper_name
    return None


def same_bertscore(info: MetricInfo | None) -> bool:
    """Whether a recorded BERTScore configuration is the paper's (unknown counts as not)."""
    params = info.params if info is not None else {}
    model = next((str(params[k]) for k in ("model", "encoder", "model_type") if params.get(k)),
                 None)
    layer = next((params[k] for k in ("layer", "num_layers") if params.get(k) is not None), None)
    if model is None or not model.rstrip("/").endswith(PAPER_BERTSCORE["model"]):
        return False
    if layer is not None and int(layer) != PAPER_BERTSCORE["layer"]:
        return False
    for key, default in (("idf", False), ("rescale_with_baseline", False), ("rescale", False)):
        if key in params and bool(params[key]) != default:
            return False
    return True

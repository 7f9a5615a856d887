"""The paper's reported numbers (leaderboards/reported/*.csv) against a second transcription.

The cells below were typed separately from the CSV files, reading the paper's Tables 3, 4
and 5 (and, where marked, the sentences of sections 4.2-4.4 that quote the same numbers)
in ../shared/paper/MM-Skin-paper.md cell by cell.
"""

from __future__ import annotations

import csv
import re

import pytest

from harness.leaderboards import reported
from harness.results import MetricInfo

# (table, row as printed, group as printed, column as printed, value as printed)
SECOND_TRANSCRIPTION = [
    (3, "Gemini Flash2.0", "Dermoscopy", "Meteor", "22.88"),
    (3, "InternVL 2.5-8B", "Clinical", "BertScore", "58.27"),
    (3, "Qwen2.5-VL-7B", "Dermoscopy", "recall", "47.47"),
    (3, "HuatuoGPT-7B", "Pathology", "Rouge-l", "21.99"),
    (3, "HuatuoGPT-7B", "Dermoscopy", "recall", "49.92"),
    (3, "SkinVL-Pub", "Clinical", "Bleu-4", "6.94"),
    (3, "SkinVL-Pub", "Dermoscopy", "BertScore", "60.94"),
    (3, "doubao-1-5-vision-pro-32k", "Pathology", "Bleu-4", "2.16"),  # also section 4.2
    (3, "LLaVA-v1.6-7B", "Pathology", "Bleu-4", "2.14"),  # also section 4.2
    (3, "LLaVA-Med-7B", "Pathology", "Bleu-4", "7.70"),  # also section 4.2
    (3, "SkinVL-MM", "Pathology", "Bleu-4", "22.04"),  # also section 4.2
    (4, "LLaVA-med", "Patch16", "ACC", "95.37"),
    (4, "LLaVA-med", "DDI", "Recall", "72.96"),
    (4, "SkinVL-Pub", "Fitzpatrick", "Recall", "67.33"),
    (4, "SkinVL-Pub", "Dermnet", "ACC", "57.62"),  # also section 4.3
    (4, "SkinVL-Pub", "DDI", "Recall", "74.88"),  # also section 4.3
    (4, "SkinVL-PubMM", "HIBA", "ACC", "81.65"),  # also section 4.3
    (4, "SkinVL-PubMM", "ISIC 2019", "Recall", "57.33"),  # also section 4.3
    (4, "SkinVL-MM", "Patch16", "Recall", "94.47"),  # also section 4.3
    (4, "SkinVL-MM", "HAM10000", "ACC", "79.15"),  # also section 4.3
    (5, "InternVL 2.5-8B", "PAD-UFES-20", "precision", "21.76"),
    (5, "LLava-1.6", "Patch16", "precision", "23.03"),
    (5, "LLava-1.6", "HAM10000", "ACC", "3.18"),  # also section 4.4
    (5, "HuatuoGPT-7B", "HAM10000", "precision", "18.65"),
    (5, "SkinVL-Pub", "PAD-UFES-20", "ACC", "31.96"),
    (5, "SkinVL-PubMM", "Patch16", "ACC", "82.34"),  # also section 4.4
    (5, "SkinVL-PubMM", "Patch16", "precision", "86.65"),  # also section 4.4
    (5, "Qwen2.5-VL-7B", "Patch16", "ACC", "66.29"),  # also section 4.4
]


def csv_rows(number: int) -> list[dict[str, str]]:
    with open(reported.FOLDER / reported.TABLES[number].file, newline="") as f:
        return list(csv.DictReader(f))


def test_second_transcription_covers_all_three_tables() -> None:
    assert len(SECOND_TRANSCRIPTION) >= 20
    assert {t for t, *_ in SECOND_TRANSCRIPTION} == {3, 4, 5}


@pytest.mark.parametrize("table,row,group,column,value", SECOND_TRANSCRIPTION)
def test_csv_cell_equals_second_transcription(table: int, row: str, group: str, column: str,
                                              value: str) -> None:
    group_column = reported.TABLES[table].group_column
    found = [r[column] for r in csv_rows(table) if r["Methods"] == row and r[group_column] == group]
    assert found == [value]
    # and through the loader, under harness names
    cell = reported.lookup(table, row, reported.GROUP_KEYS[group],
                           reported.TABLES[table].columns[column])
    assert cell is not None and cell.text == value


def test_tables_are_complete_and_printed_with_two_decimals() -> None:
    shapes = {3: (10, 3, 5), 4: (4, 8, 2), 5: (8, 3, 2)}
    for number, (models, groups, metrics) in shapes.items():
        rows = csv_rows(number)
        assert len(rows) == models * groups
        assert len({r["Methods"] for r in rows}) == models
        cells = reported.load(number)
        assert len(cells) == models * groups * metrics
        assert all(re.fullmatch(r"\d{1,2}\.\d\d", c.text) for c in cells)


def test_every_paper_row_maps_to_a_harness_model() -> None:
    for number in (3, 4, 5):
        for r in reported.load(number):
            assert r.model, f"Table {number}: {r.paper_name} has no harness model in models.csv"


def test_bertscore_comparability() -> None:
    def info(**params: object) -> MetricInfo:
        return MetricInfo(params=params)

    assert reported.same_bertscore(info(model="bert-base-uncased", layer=9, idf=False))
    assert not reported.same_bertscore(info(model="all-MiniLM-L6-v2", layer=5))
    assert not reported.same_bertscore(info(model="bert-base-uncased", layer=8))
    assert not reported.same_bertscore(info(model="bert-base-uncased",
                                            rescale_with_baseline=True))
    assert not reported.same_bertscore(None)  # unknown configuration: never compared

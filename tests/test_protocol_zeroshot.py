"""`--protocol paper` end to end: the model is asked with the authors' decoding and prompt, and
answers are scored as their ZS_classification.py scores them.

The expected labels are written by hand; a five-line restatement of the authors' rules
(ZwQ803/MM-Skin@31d105c ZS_classification.py:242-251) double-checks them, and their
metrics are recomputed with scikit-learn, the library their utils/eval_help.py calls. The
model is a recording plugin registered through the real hooks; the data are the paper's
split files and the publishers' metadata (stand-in pictures).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from datasets_helpers import linked_root
from PIL import Image
from sklearn.metrics import accuracy_score, precision_score

from harness import hookimpl
from harness.model import Model
from harness.plugin_manager import collect, make_plugin_manager
from harness.runner import RunOptions, run
from harness.specs import ModelSpec
from harness.tasks.matching import match
from harness.types import Request

HAM = ("Actinic Keratoses", "Basal Cell Carcinoma", "Benign Keratosis", "Dermatofibroma",
       "Melanoma", "Nevus", "Vascular lesions")
PAD = ("Actinic Keratosis", "Basal Cell Carcinoma", "Melanoma", "Nevus", "Seborrheic Keratosis",
       "Squamous Cell Carcinoma")
DDI = ("Non-Malignant", "Malignant")
PATCH16 = ("nontumor", "tumor")

# (candidates, answer, the label the authors' script gives it; None = their -1)
TABLE: list[tuple[tuple[str, ...], str, str | None]] = [
    (HAM, "actinic keratosis", "Actinic Keratoses"),  # rewritten to the HAM label
    (HAM, "Actinic Keratosis", None),  # the rewrite is case-sensitive: not rewritten
    (HAM, "Actinic Keratoses", "Actinic Keratoses"),
    (HAM, "The diagnosis is actinic keratosis.", "Actinic Keratoses"),
    (HAM, "Melanoma", "Melanoma"),
    (HAM, "not melanoma", "Melanoma"),  # a substring, negated or not
    (HAM, "This is not melanoma; it is a nevus.", "Melanoma"),  # two classes: list order
    (HAM, "Nevus or melanoma", "Melanoma"),
    (HAM, "Basal cell carcinoma, possibly a dermatofibroma", "Basal Cell Carcinoma"),
    (HAM, "melanocytic nevus", "Nevus"),
    (HAM, "benign keratosis-like lesion", "Benign Keratosis"),
    (HAM, "seborrheic keratosis", None),
    (HAM, "vascular lesion", None),  # the candidate is plural
    (HAM, "Vascular lesions", "Vascular lesions"),
    (HAM, "I cannot tell from this image.", None),
    (HAM, "", None),
    (HAM, "ACTINIC KERATOSES with a dermatofibroma", "Actinic Keratoses"),
    (HAM, "dermatofibroma vs actinic keratosis", "Actinic Keratoses"),
    (HAM, "Nevi", None),
    (HAM, "Melanoma in situ or actinic keratosis", "Actinic Keratoses"),
    (PAD, "actinic keratosis", None),  # rewritten to 'keratoses', which PAD does not list
    (PAD, "Actinic Keratosis", "Actinic Keratosis"),
    (PAD, "Actinic Keratoses", None),
    (PAD, "squamous cell carcinoma", "Squamous Cell Carcinoma"),
    (PAD, "basal cell carcinoma or melanoma", "Basal Cell Carcinoma"),
    (PAD, "seborrheic keratosis, not melanoma", "Melanoma"),
    (PAD, "Nevus", "Nevus"),
    (PAD, "actinic keratosis or squamous cell carcinoma", "Squamous Cell Carcinoma"),
    (DDI, "non-malignant", "Non-Malignant"),
    (DDI, "Malignant", "Malignant"),
    (DDI, "This lesion is not malignant.", "Malignant"),
    (DDI, "Non-Malignant", "Non-Malignant"),
    (DDI, "benign", None),
    (DDI, "malignant or non-malignant", "Non-Malignant"),  # Non-Malignant is tried first
    (PATCH16, "tumor", "tumor"),
    (PATCH16, "nontumor", "nontumor"),
    (PATCH16, "non-tumor tissue", "tumor"),
    (PATCH16, "no tumor present", "tumor"),
]


def authors_label(answer: str, candidates: tuple[str, ...]) -> str | None:
    """The authors' rule, restated: one case-sensitive rewrite, then the first candidate whose
    lower-cased name is in the lower-cased answer."""
    answer = answer.replace("actinic keratosis", "actinic keratoses")
    return next((c for c in candidates if c.lower() in answer.lower()), None)


@pytest.mark.parametrize(("candidates", "answer", "expected"), TABLE)
def test_paper_matcher_labels_as_the_authors(candidates: tuple[str, ...], answer: str,
                                             expected: str | None) -> None:
    assert authors_label(answer, candidates) == expected  # the hand-written label
    assert match(answer, candidates, "paper").label == expected


# ---------------------------------------------------------------- the end-to-end runs


class Recorder(Model):
    """Answers the k-th request with ``answers[k]``; keeps every request and its options."""

    name = "recorder"
    capabilities = frozenset({"generate"})

    def __init__(self, answers: list[str], log: dict[str, Any]) -> None:
        self.answers, self.log = answers, log

    def generate(self, requests: list[Request]) -> list[str]:
        start = len(self.log["requests"])
        self.log["requests"] += list(requests)
        return [self.answers[start + i] for i in range(len(requests))]


class RecorderPlugin:
    def __init__(self, answers: list[str]) -> None:
        self.answers = answers
        self.log: dict[str, Any] = {"requests": [], "factory": []}

    @hookimpl
    def register_models(self, register):  # noqa: ANN001
        def make(spec: Any, context: Any, options: Any) -> Recorder:
            self.log["factory"].append({"protocol": context.protocol})
            return Recorder(self.answers, self.log)

        register(ModelSpec(name="recorder", factory=make, capabilities=frozenset({"generate"})))


def harness_run(plugin: RecorderPlugin, task: str, root: Path, out: Path, n: int,
                protocol: str = "paper") -> Any:
    pm, warnings = make_plugin_manager(entry_points=False)
    pm.register(plugin, name="recorder-plugin")
    regs = collect(pm, warnings)
    [outcome] = run(regs, RunOptions(model="recorder", tasks=[task], output=out, data_root=root,
                                     limit=n, batch_size=7, protocol=protocol,
                                     task_options={"bootstrap": "0"}))
    return outcome


def stand_ins(root: Path, rels: list[str]) -> None:
    for i, rel in enumerate(rels):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), (i % 256, 90, 90)).save(path, format="PNG")


def split_rows(root: Path, name: str) -> list[dict[str, str]]:
    with open(root / "mmskin-splits" / "classification" / name, newline="",
              encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


AUTHORS_ZS_DECODING = {"do_sample": True, "temperature": 0.5, "top_p": 0.9, "num_beams": 5,
                       "min_new_tokens": 1, "max_new_tokens": 256}


def authors_scores(truth: list[str], answers: list[str],
                   candidates: tuple[str, ...]) -> dict[str, float]:
    """Their binary_metrics on their integer labels (-1 unmatched), with scikit-learn."""
    y = [candidates.index(t) for t in truth]
    p = [candidates.index(a) if (a := authors_label(x, candidates)) else -1 for x in answers]
    return {"accuracy": accuracy_score(y, p),
            "precision_macro_union": precision_score(y, p, average="macro", zero_division=0.0),
            # ours, beside it: over the true labels' classes only
            "precision_macro": precision_score(y, p, labels=sorted(set(y)), average="macro",
                                               zero_division=0.0)}


@pytest.mark.parametrize(("task", "file", "candidates"), [
    ("zeroshot/ham10000", "HAM10000_test.csv", HAM),
    ("zeroshot/ddi", "DDI_2class_test.csv", DDI),
])
def test_a_paper_run_asks_and_scores_as_the_authors(tmp_path: Path, task: str, file: str,
                                                    candidates: tuple[str, ...]) -> None:
    root = linked_root(tmp_path / "data")
    answers = [a for c, a, _ in TABLE if c == candidates]
    rows = split_rows(root, file)[: len(answers)]
    stand_ins(root, [r["image"] for r in rows])
    plugin = RecorderPlugin(answers)
    outcome = harness_run(plugin, task, root, tmp_path / "results", len(answers))

    assert plugin.log["factory"][0]["protocol"] == "paper"
    requests = plugin.log["requests"]
    assert [Path(r.images[0]).name for r in requests] == [Path(r["image"]).name for r in rows]
    question = ("This is a skin lesion image. From the following categories: "
                f"{', '.join(candidates)}, which one is the diagnosis?")
    for r in requests:
        assert r.prompt == question and r.choices == candidates
        assert {k: v for k, v in r.decoding.generate_kwargs().items()} == AUTHORS_ZS_DECODING
        assert r.decoding.seed == 0  # sampling is seeded with --seed

    folder = tmp_path / "results" / task / "recorder"
    assert outcome.folder == folder
    metrics = json.loads((folder / "metrics.json").read_text())
    run_json = json.loads((folder / "run.json").read_text())
    assert metrics["protocol"] == run_json["protocol"] == "paper"
    assert run_json["generation"] == {**AUTHORS_ZS_DECODING, "seed": 0}
    assert metrics["scores"]["scoring"]["matcher"] == "paper"
    truth = [json.loads(r["categories"].replace("'", '"'))[0] for r in rows]
    expected = authors_scores(truth, answers, candidates)
    overall = metrics["scores"]["overall"]
    for key, value in expected.items():
        assert overall[key] == pytest.approx(value, abs=1e-12), key
    assert metrics["scores"]["extras"]["unmatched"] == sum(
        authors_label(a, candidates) is None for a in answers)


PAD_CODES = {"ACK": "Actinic Keratosis", "BCC": "Basal Cell Carcinoma", "MEL": "Melanoma",
             "NEV": "Nevus", "SEK": "Seborrheic Keratosis", "SCC": "Squamous Cell Carcinoma"}


def test_pad_ufes_20_lower_case_actinic_keratosis_matches_nothing(tmp_path: Path) -> None:
    root = linked_root(tmp_path / "data")
    with open(root / "PAD-UFES-20" / "metadata.csv", newline="", encoding="utf-8") as fh:
        meta = {r["img_id"]: r for r in csv.DictReader(fh)}
    stand_ins(root, [f"PAD-UFES-20/images/{name}" for name in meta])
    answers = [a for c, a, _ in TABLE if c == PAD]
    plugin = RecorderPlugin(answers)
    harness_run(plugin, "zeroshot/pad-ufes-20", root, tmp_path / "results", len(answers))
    asked = [Path(r.images[0]).name for r in plugin.log["requests"]]
    truth = [PAD_CODES[meta[name]["diagnostic"]] for name in asked]
    metrics = json.loads((tmp_path / "results/zeroshot/pad-ufes-20/recorder/metrics.json")
                         .read_text())
    expected = authors_scores(truth, answers, PAD)
    for key, value in expected.items():
        assert metrics["scores"]["overall"][key] == pytest.approx(value, abs=1e-12), key
    assert plugin.log["requests"][0].choices == PAD


def test_the_sound_protocol_runs_apart_with_its_own_settings(tmp_path: Path) -> None:
    root = linked_root(tmp_path / "data")
    answers = [a for c, a, _ in TABLE if c == DDI]
    rows = split_rows(root, "DDI_2class_test.csv")[: len(answers)]
    stand_ins(root, [r["image"] for r in rows])
    paper, sound = RecorderPlugin(answers), RecorderPlugin(answers)
    harness_run(paper, "zeroshot/ddi", root, tmp_path / "results", len(answers))
    outcome = harness_run(sound, "zeroshot/ddi", root, tmp_path / "results", len(answers),
                          protocol="sound")
    assert outcome.folder == tmp_path / "results" / "zeroshot/ddi+protocol=sound" / "recorder"
    assert len(sound.log["requests"]) == len(answers)  # nothing reused from the paper run
    r = sound.log["requests"][0]
    assert r.choices == ("Malignant", "Non-Malignant")  # the dataset's own vocabulary
    assert r.decoding.generate_kwargs() == {"do_sample": False, "num_beams": 1,
                                            "min_new_tokens": 0, "max_new_tokens": 64,
                                            "temperature": None, "top_p": None, "top_k": None}
    metrics = json.loads((outcome.folder / "metrics.json").read_text())
    assert metrics["protocol"] == "sound"
    assert metrics["scores"]["scoring"]["matcher"] == "sound"
    assert "paper-matcher" in metrics["scores"]["alternatives"]


def test_vqa_paper_run_asks_with_the_authors_vqa_decoding(tmp_path: Path) -> None:
    root = linked_root(tmp_path / "data")
    with open(root / "mmskin-splits" / "vqa" / "MM-Skin_test.csv", newline="",
              encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))[:3]
    stand_ins(root, [f"MM-Skin/{r['image']}" for r in rows])
    plugin = RecorderPlugin(["a lesion"] * 3)
    pm, warnings = make_plugin_manager(entry_points=False)
    pm.register(plugin, name="recorder-plugin")
    run(collect(pm, warnings), RunOptions(
        model="recorder", tasks=["vqa/mm-skin"], output=tmp_path / "results", data_root=root,
        limit=3, task_options={"bootstrap": "0", "metrics": "recall"}))
    assert [r.prompt for r in plugin.log["requests"]] == [r["question"] for r in rows]
    for r in plugin.log["requests"]:
        assert r.decoding.generate_kwargs() == {"do_sample": True, "temperature": 0.2,
                                                "top_p": 0.9, "num_beams": 5,
                                                "min_new_tokens": 20, "max_new_tokens": 256}

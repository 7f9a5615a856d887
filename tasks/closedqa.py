"""Closed questions (multiple choice): the kind ``closedqa``, and MEDIQA-MAGIC 2025's task.

Each question goes to the model with the encounter's images and clinical text and its
options lettered A, B, ...; the answer is parsed to one option and the parser says how:
``exact`` (the answer is an option's text), ``letter`` (it is an option's letter, or
starts with one set off by ")", "." or ":"), ``text`` (exactly one option's text occurs
in it, options inside a longer occurring option set aside), ``none`` (no option: scored as
a wrong answer).

Scored as the organisers' ``evaluation/score_cvqa.py`` (wyim/ImageCLEF-MAGIC-2025 @ 6d60a81)
does: the repeated questions of one type (``CQID011-001`` .. ``-006``) are grouped per
encounter, and the group scores |gold ∩ answered| / max(|gold|, |answered|) over the sets
of option indices; accuracy per question type is the mean over encounters, overall the
mean over every (encounter, type) group.
"""

from __future__ import annotations

import re
import string
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from harness import hookimpl
from harness.errors import DataError
from harness.options import Options
from harness.specs import TaskContext, TaskKind, TaskSpec
from harness.task import Task
from harness.tasks.common import DataReport, decoding_for, decoding_variant, load_split
from harness.types import Prediction, Request, Sample

KIND = "closedqa"
PROMPT_VERSION = 1
# The organisers fix no decoding, and the MM-Skin authors' sampling (--protocol paper) is not
# theirs: greedy under every protocol unless -T decoding= says otherwise, so reruns agree.
DECODING_PROTOCOL = "sound"
SCORER = "wyim/ImageCLEF-MAGIC-2025@6d60a81 evaluation/score_cvqa.py"
INSTRUCTION = "Answer with the letter of one option."
MAX_NEW_TOKENS = 32
MATCHES = ("exact", "letter", "text", "none")
# An option letter: alone ("B", "(B)", "B."), or set off by ")" "." ":" before more text
# ("B. limited area"); upper case only, so the article in "A limited area" is not a letter.
_LETTER = re.compile(r"^\s*(?:(?i:answer)\s*[:：]\s*)?\(?([A-Z])(?:\)?[.:：]?\s*$|[).:：]\s)")


def letters(n: int) -> str:
    return string.ascii_uppercase[:n]


def _norm(text: str) -> str:
    return " ".join(text.casefold().strip().rstrip(".。").split())


def parse_answer(output: str, options: Sequence[str]) -> tuple[int | None, str]:
    """(option index or None, how it was matched: exact | letter | text | none)."""
    said = _norm(output)
    normed = [_norm(o) for o in options]
    if said in normed:
        return normed.index(said), "exact"
    m = _LETTER.match(output)
    if m and m.group(1).upper() in letters(len(options)):
        return letters(len(options)).index(m.group(1).upper()), "letter"
    found = [i for i, o in enumerate(normed) if o and o in said]
    found = [i for i in found if not any(i != j and normed[i] in normed[j] for j in found)]
    if len(found) == 1:
        return found[0], "text"
    return None, "none"


def group_accuracy(gold: dict[tuple[str, str], set[int]],
                   answered: dict[tuple[str, str], set[int]]) -> dict[str, Any]:
    """The challenge's rule over (encounter, question type) groups of option-index sets."""
    per_type: dict[str, list[float]] = defaultdict(list)
    for key, g in gold.items():
        s = answered.get(key, set())
        per_type[key[1]].append(len(g & s) / max(len(g), len(s), 1))
    every = [v for vals in per_type.values() for v in vals]
    return {"overall": sum(every) / len(every) if every else None,
            "per_type": {t: {"accuracy": sum(v) / len(v), "n": len(v)}
                         for t, v in sorted(per_type.items())}}


class ClosedQaOptions(Options):
    """The ``-T`` options of the closed-question tasks."""

    split: str = Field("valid", description="valid or train (the test answers are not "
                       "released)")
    images: Literal["all", "first"] = Field("all", description="send every image of the "
                                            "encounter, or only the first")
    decoding: str | None = Field(None, description="decoding preset; default: greedy")


class ClosedQaTask(Task):
    capability = "generate"
    kind = KIND

    def __init__(self, spec: TaskSpec, context: TaskContext, options: ClosedQaOptions) -> None:
        super().__init__(spec, context, options)
        opts = options
        self.split, self.images = opts.split, opts.images
        self.decoding = decoding_for("vqa", DECODING_PROTOCOL, opts.decoding, MAX_NEW_TOKENS)

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "dataset": self.dataset,
                "split": self.split, "images": self.images,
                "decoding": self.decoding.to_dict(), "instruction": INSTRUCTION,
                "prompt_version": PROMPT_VERSION}

    def variant(self) -> str:
        parts = [] if self.split == "valid" else [f"split={self.split}"]
        parts += [] if self.images == "all" else [f"images={self.images}"]
        natural = decoding_for("vqa", DECODING_PROTOCOL, None, MAX_NEW_TOKENS)
        parts += [] if self.decoding == natural else decoding_variant(
            "vqa", DECODING_PROTOCOL, self.decoding)
        return ",".join(parts)

    def scoring_config(self) -> dict[str, Any]:
        return {"scorer": SCORER, "parser": "exact > letter > text > none",
                "repeated_questions": "grouped per encounter and type: |G∩S|/max(|G|,|S|)"}

    def load_samples(self, data_root: Path | None) -> list[Sample]:
        self.data_report = DataReport()
        samples = load_split(self.dataset_spec(), data_root, self.split, self.data_report)
        lacking = sorted({s.meta["encounter_id"] for s in samples if s.meta.get("query") is None})
        if lacking:
            raise DataError(f"task '{self.name}': {len(lacking)} encounters have no clinical text "
                            f"(first: {lacking[0]}); put the query file {self.split}.json beside "
                            "the answers (see docs/datasets.md)")
        return samples

    def prompt(self, sample: Sample) -> str:
        query = sample.meta["query"]
        lines = [t for t in (query["title"], query["content"]) if t.strip()]
        lines += ["", f"Question: {sample.question}", "Options:"]
        lines += [f"{letter}. {option}"
                  for letter, option in zip(letters(len(sample.meta["options"])),
                                            sample.meta["options"], strict=True)]
        return "\n".join([*lines, INSTRUCTION])

    def build_request(self, sample: Sample) -> Request:
        images = tuple(Path(p) for p in sample.meta["images"])
        return Request(sample_id=sample.id, prompt=self.prompt(sample),
                       images=images[:1] if self.images == "first" else images,
                       decoding=self.decoding, choices=tuple(sample.meta["options"]))

    def postprocess(self, sample: Sample, output: Any) -> dict[str, Any]:
        index, how = parse_answer("" if output is None else str(output), sample.meta["options"])
        return {"option_index": index, "option": None if index is None else
                sample.meta["options"][index], "match": how}

    def score(self, samples: Sequence[Sample], predictions: dict[str, Prediction]
              ) -> dict[str, Any]:
        gold: dict[tuple[str, str], set[int]] = defaultdict(set)
        answered: dict[tuple[str, str], set[int]] = defaultdict(set)
        matches: Counter[str] = Counter()
        types: dict[str, str] = {}
        unanswered = 0
        encounters = {s.meta["encounter_id"] for s in samples if s.id in predictions}
        for s in samples:
            enc, parent = s.meta["encounter_id"], s.meta["qid_parent"]
            if enc not in encounters:
                continue
            key = (enc, parent)
            types[parent] = s.meta["question_type"]
            gold[key].add(int(s.meta["gold"]))
            if s.id not in predictions:
                unanswered += 1
                answered[key].add(-1)  # no answer: a value no gold holds
                continue
            output = predictions[s.id].output
            index, how = parse_answer("" if output is None else str(output), s.meta["options"])
            matches[how] += 1
            answered[key].add(-1 if index is None else index)
        acc = group_accuracy(gold, answered)
        notes = []
        if matches["none"]:
            notes.append(f"{matches['none']} answers matched no option (scored wrong)")
        if unanswered:
            notes.append(f"{unanswered} questions of answered encounters have no answer "
                         "(scored wrong, as the challenge requires every question)")
        return {
            "overall": {"accuracy": acc["overall"]},
            "groups": {"question_type": {f"{qid} {types[qid]}": {**v} for qid, v in
                                         acc["per_type"].items()}},
            "n": sum(v["n"] for v in acc["per_type"].values()),
            "metrics": {"accuracy": {
                "version": "1", "higher_is_better": True,
                "params": {"reference": SCORER, "unit": "(encounter, question type) group",
                           "repeated": "|G∩S|/max(|G|,|S|)"},
                "description": "MEDIQA-MAGIC 2025 closed-question accuracy"}},
            "match_counts": {m: matches[m] for m in MATCHES},
            "encounters": len(encounters),
            "notes": notes,
            "scoring": self.scoring_config(),
        }


TASK_KIND = TaskKind(
    name=KIND, factory=ClosedQaTask, options=ClosedQaOptions, capability="generate",
    headline="accuracy", layout="table", title="Closed questions",
    columns=(("accuracy", "accuracy"),),
    description="multiple-choice questions: options given, the answer read as one option")


@hookimpl
def register_task_kinds(register: Callable[[TaskKind], None]) -> None:
    register(TASK_KIND)


@hookimpl
def register_tasks(register: Callable[[TaskSpec], None]) -> None:
    register(TaskSpec(
        name="closedqa/dermavqa", kind=KIND, dataset="mediqa-magic-2025",
        aliases=("closedqa/mediqa-magic-2025",), split="valid",
        description="MEDIQA-MAGIC 2025 closed questions (27, options given) on DermaVQA iiyi",
    ))

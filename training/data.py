"""The training mixture: registered datasets -> question/answer examples in LLaVA format.

Two kinds of source, as in the paper (section 3.3):

- ``qa``: a dataset whose Samples already hold a question and an answer (MM-Skin).
- ``label``: a classification dataset whose diagnosis labels are reformulated as
  question/answer pairs, "What is the diagnosis?" -> "Melanoma" (SkinVL-Pub).

The mixture is written as LLaVA conversation records (``data/train.jsonl``) and
a manifest that names every source, split, count and example-id digest, and what
the train/test leakage check found.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import UsageError

IMAGE_TOKEN = "<image>"
# The paper's phrasing. More templates (chosen per example by a seeded draw) are
# configurable through ``Source.templates`` or a recipe's ``label_templates``.
PAPER_LABEL_TEMPLATES: tuple[str, ...] = ("What is the diagnosis?",)
VARIED_LABEL_TEMPLATES: tuple[str, ...] = (
    "What is the diagnosis?",
    "What is the most likely diagnosis of this skin lesion?",
    "Which skin disease is shown in the image?",
)


@dataclass(frozen=True)
class Source:
    """One dataset in a mixture. ``kind`` is ``qa`` or ``label``; ``split`` the split to train
    on, or several joined by ``+`` (``train+val``: every image but the test split's)."""

    dataset: str
    kind: str = "qa"
    split: str = "train"
    templates: tuple[str, ...] = PAPER_LABEL_TEMPLATES

    def __post_init__(self) -> None:
        if self.kind not in ("qa", "label"):
            raise UsageError(f"source '{self.dataset}': kind must be 'qa' or 'label', "
                             f"got {self.kind!r}")
        if self.kind == "label" and not self.templates:
            raise UsageError(f"source '{self.dataset}': a label source needs a question template")


@dataclass(frozen=True)
class Example:
    """One training pair: an image, a question about it, the answer to learn."""

    id: str
    image: Path
    question: str
    answer: str
    dataset: str
    modality: str | None = None

    def to_llava(self) -> dict[str, Any]:
        """The LLaVA conversation record (the format of LLaVA's and LLaVA-Med's training json)."""
        return {
            "id": self.id,
            "image": str(self.image),
            "dataset": self.dataset,
            "modality": self.modality,
            "conversations": [
                {"from": "human", "value": f"{IMAGE_TOKEN}\n{self.question}"},
                {"from": "gpt", "value": self.answer},
            ],
        }


@dataclass
class Mixture:
    examples: list[Example]
    sources: list[dict[str, Any]]
    leakage: dict[str, Any] = field(default_factory=dict)


def label_to_example(sample: Any, source: Source, rng: random.Random) -> Example | None:
    """A labelled Sample as a question/answer pair; None when it has no label or no image."""
    if not sample.label or sample.image is None:
        return None
    question = source.templates[0] if len(source.templates) == 1 else rng.choice(source.templates)
    return Example(id=f"{source.dataset}/{sample.id}", image=Path(sample.image),
                   question=question, answer=str(sample.label), dataset=source.dataset,
                   modality=sample.modality)


def qa_to_example(sample: Any, source: Source) -> Example | None:
    if not sample.question or not sample.answer or sample.image is None:
        return None
    return Example(id=f"{source.dataset}/{sample.id}", image=Path(sample.image),
                   question=str(sample.question), answer=str(sample.answer),
                   dataset=source.dataset, modality=sample.modality)


def load_source(registries: Any, source: Source, data_root: Path | None,
                rng: random.Random) -> tuple[list[Example], dict[str, Any]]:
    """Examples of one source, and its manifest entry."""
    spec = registries.datasets.get(source.dataset)
    splits = source.split.split("+")
    absent = [sp for sp in splits if sp not in spec.splits]
    if absent:
        # The paper trains on BCN20000 and MSKCC; an adapter that registers only their test
        # split cannot supply them. Recorded, said, and the rest of the mixture goes on.
        return [], {"dataset": spec.name, "kind": source.kind, "split": source.split,
                    "examples": 0, "skipped_reason": f"no '{absent[0]}' split registered "
                                                      f"(it has {', '.join(spec.splits)})"}
    if spec.needs_data_root and data_root is None:
        raise UsageError(f"dataset '{spec.name}' is read from disk: pass --data-root DIR")
    samples = [s for sp in splits for s in spec.load(data_root, sp)]
    if source.kind == "label":
        made = [label_to_example(s, source, rng) for s in samples]
    else:
        made = [qa_to_example(s, source) for s in samples]
    examples = [e for e in made if e is not None]
    if not examples:
        what = "labelled images" if source.kind == "label" else "question/answer pairs with images"
        raise UsageError(f"dataset '{spec.name}' split '{source.split}' holds no {what}")
    entry = {
        "dataset": spec.name,
        "kind": source.kind,
        "split": source.split,
        "samples": len(samples),
        "examples": len(examples),
        "skipped": len(samples) - len(examples),
        "templates": list(source.templates) if source.kind == "label" else None,
        "ids_sha256": digest_ids(e.id for e in examples),
    }
    return examples, entry


def digest_ids(ids: Iterable[str]) -> str:
    h = hashlib.sha256()
    for i in sorted(ids):
        h.update(i.encode() + b"\n")
    return h.hexdigest()


def build_mixture(registries: Any, sources: Sequence[Source], data_root: Path | None,
                  seed: int = 0, leakage: str = "full") -> Mixture:
    """All sources' examples, shuffled with ``seed``, with the leakage check's findings."""
    if not sources:
        raise UsageError("the training mixture names no dataset")
    rng = random.Random(seed)
    examples: list[Example] = []
    entries: list[dict[str, Any]] = []
    for source in sources:
        made, entry = load_source(registries, source, data_root, rng)
        examples.extend(made)
        entries.append(entry)
    if not examples:
        raise UsageError("no dataset of the mixture has a split to train on: "
                         + "; ".join(f"{e['dataset']}: {e['skipped_reason']}" for e in entries))
    rng.shuffle(examples)
    mixture = Mixture(examples=examples, sources=entries)
    mixture.leakage = leakage_check(registries, examples, data_root, leakage)
    return mixture


def leakage_check(registries: Any, examples: Sequence[Example], data_root: Path | None,
                  mode: str = "full") -> dict[str, Any]:
    """Training images against every registered test split that can be read (the audit of
    ``harness.datasets.overlap``): shared file bytes or decoded pixels are leaks; a shared
    id or a perceptual near-duplicate is reported as suspected. ``mode``: ``full``
    (all signals), ``exact`` (ids, bytes, pixels; no perceptual hashes) or ``off``.
    """
    if mode == "off":
        return {"run": False, "reason": "turned off (--leakage-check off)", "leaked": 0}
    try:
        from harness.datasets import overlap
    except ImportError as exc:
        return {"run": False, "reason": f"the contamination audit is not installed ({exc})",
                "leaked": 0}
    train_items = [overlap.Item(id=e.id.split("/", 1)[1].split("#")[0], image=e.image)
                   for e in _distinct_images(examples)]
    test_items: dict[Path, Any] = {}
    checked: list[str] = []
    not_checked: dict[str, str] = {}
    for spec in registries.datasets:
        if "test" not in spec.splits:
            continue
        if spec.needs_data_root and data_root is None:
            not_checked[spec.name] = "no --data-root"
            continue
        try:
            samples = list(spec.load(data_root, "test"))
        except Exception as exc:  # a dataset not downloaded: record it, check the others
            not_checked[spec.name] = str(exc).split("\n")[0][:200]
            continue
        for item in overlap.items_from_samples(samples):
            if item.image is not None:
                item.id = item.id.split("#")[0]
                test_items.setdefault(Path(item.image), item)
        checked.append(spec.name)
    tests = list(test_items.values())
    if mode == "full":
        overlap.hash_items(train_items)
        overlap.hash_items(tests)
        result = overlap.audit("train", train_items, "test", tests)
    else:
        _exact_hashes(train_items)
        _exact_hashes(tests)
        result = overlap.audit("train", train_items, "test", tests, phash_max=-1, dhash_max=-1)
    leaks = [p for p in result.pairs if {"file", "pixels"} & set(p.methods)]
    suspected = [p for p in result.pairs if not {"file", "pixels"} & set(p.methods)]
    return {
        "run": True,
        "mode": mode,
        "audit": "harness.datasets.overlap.audit",
        "train_images": len(train_items),
        "test_images": len(tests),
        "test_splits_checked": checked,
        "test_splits_not_checked": not_checked,
        "counts": result.counts(),
        "leaked": len({p.a.image for p in leaks}),
        "leaked_examples": [[str(p.a.image), str(p.b.image), "+".join(p.methods)]
                            for p in leaks[:50]],
        "suspected": len({p.a.image for p in suspected}),
        "suspected_examples": [[str(p.a.image), str(p.b.image), "+".join(p.methods)]
                               for p in suspected[:50]],
    }


def _distinct_images(examples: Sequence[Example]) -> list[Example]:
    seen: dict[Path, Example] = {}
    for e in examples:
        seen.setdefault(e.image, e)
    return list(seen.values())


def _exact_hashes(items: Sequence[Any]) -> None:
    for item in items:
        if item.image is None or not Path(item.image).is_file():
            item.error = f"{item.image}: missing"
            continue
        item.file_sha = _file_hash(Path(item.image))


def _file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except TypeError:
        if hasattr(value, "__dataclass_fields__"):
            return _jsonable(asdict(value))
        return repr(value)


def write_mixture(mixture: Mixture, folder: Path, extra: dict[str, Any] | None = None) -> Path:
    """``folder/train.jsonl`` (LLaVA records) and ``folder/manifest.json``; returns the manifest."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "train.jsonl", "w") as f:
        for e in mixture.examples:
            f.write(json.dumps(e.to_llava()) + "\n")
    manifest = {
        "examples": len(mixture.examples),
        "ids_sha256": digest_ids(e.id for e in mixture.examples),
        "sources": mixture.sources,
        "leakage": mixture.leakage,
        **(extra or {}),
    }
    path = folder / "manifest.json"
    path.write_text(json.dumps(manifest, indent=1))
    return path


def leaked_count(leakage: dict[str, Any]) -> int:
    return int(leakage.get("leaked", 0))

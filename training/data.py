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
    """One dataset in a mixture. ``kind`` is ``qa`` or ``label``; ``split`` the one to train on."""

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
    if spec.needs_data_root and data_root is None:
        raise UsageError(f"dataset '{spec.name}' is read from disk: pass --data-root DIR")
    if source.split not in spec.splits:
        raise UsageError(f"dataset '{spec.name}' has no '{source.split}' split to train on "
                         f"(it has {', '.join(spec.splits)})")
    samples = list(spec.load(data_root, source.split))
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
                  seed: int = 0, check_leakage: bool = True) -> Mixture:
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
    rng.shuffle(examples)
    mixture = Mixture(examples=examples, sources=entries)
    if check_leakage:
        mixture.leakage = leakage_check(registries, examples, data_root)
    else:
        mixture.leakage = {"run": False, "reason": "disabled by the caller"}
    return mixture


def leakage_check(registries: Any, examples: Sequence[Example],
                  data_root: Path | None) -> dict[str, Any]:
    """Train/test leakage: the dataset contamination audit if installed, else a recorded skip.

    Also compares training image files with every registered test split of the
    same datasets (same resolved path or same bytes), which is cheap and catches
    the commonest mistake: a training split that contains test images.
    """
    result: dict[str, Any] = {"overlap": exact_overlap(registries, examples, data_root)}
    audit = _find_audit()
    if audit is None:
        result.update(run=False, reason="harness.datasets has no contamination audit function "
                                        "in this install; only the exact-file check ran")
        return result
    name, fn = audit
    try:
        report = fn([e.image for e in examples], data_root)
    except TypeError as exc:
        result.update(run=False, reason=f"{name} has an unexpected signature ({exc})")
        return result
    result.update(run=True, audit=name, report=_jsonable(report))
    return result


def _find_audit() -> tuple[str, Any] | None:
    import importlib

    for module, attr in (("harness.datasets.contamination", "audit_images"),
                         ("harness.datasets.audit", "audit_images")):
        try:
            fn = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError):
            continue
        return f"{module}.{attr}", fn
    return None


def exact_overlap(registries: Any, examples: Sequence[Example],
                  data_root: Path | None) -> dict[str, Any]:
    """Training images that are also test images of the same dataset (by path or by bytes)."""
    by_dataset: dict[str, list[Example]] = {}
    for e in examples:
        by_dataset.setdefault(e.dataset, []).append(e)
    found: dict[str, Any] = {}
    for name, items in by_dataset.items():
        spec = registries.datasets.get(name)
        if "test" not in spec.splits:
            found[name] = {"checked": False, "reason": "no test split"}
            continue
        test_images = {Path(s.image) for s in spec.load(data_root, "test") if s.image is not None}
        train_images = {e.image for e in items}
        same_path = {str(p) for p in train_images & test_images}
        same_bytes = {str(p) for p in _same_bytes(train_images - test_images, test_images)}
        found[name] = {"checked": True, "train_images": len(train_images),
                       "test_images": len(test_images), "same_path": sorted(same_path)[:20],
                       "same_bytes": sorted(same_bytes)[:20],
                       "leaked": len(same_path | same_bytes)}
    return found


def _same_bytes(train: set[Path], test: set[Path]) -> list[Path]:
    """Training files whose bytes equal a test file's; only files of equal size are hashed."""
    def size(p: Path) -> int:
        return p.stat().st_size if p.is_file() else -1

    test_by_size: dict[int, list[Path]] = {}
    for p in test:
        test_by_size.setdefault(size(p), []).append(p)
    test_by_size.pop(-1, None)
    hashes: dict[Path, str] = {}

    def hashed(p: Path) -> str:
        if p not in hashes:
            hashes[p] = _file_hash(p)
        return hashes[p]

    out = []
    for p in train:
        candidates = test_by_size.get(size(p), [])
        if candidates and any(hashed(p) == hashed(q) for q in candidates):
            out.append(p)
    return out


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
    return sum(int(v.get("leaked", 0)) for v in leakage.get("overlap", {}).values())

"""Honest CPU baselines, registered like any other model plugin.

None of them sees a test answer. The retrieval and frequency baselines look
only at a *training* split (``-M vqa_index=...``, ``-M label_index=...``), the
way a nearest-neighbour captioning baseline does; chance draws from the
candidates it is offered. Without those options the index is the demo's, and a
request the demo cannot answer (another dataset's labels or questions) fails with
a sentence naming the option, rather than being answered from the demo.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from harness import hookimpl
from harness.errors import UsageError
from harness.model import Model
from harness.options import Options
from harness.specs import LoadContext, ModelSpec
from harness.types import Request, Sample

DEFAULT_VQA_INDEX = "demo-vqa"
DEFAULT_LABEL_INDEX = "demo"
INDEX_EXAMPLES = {"vqa_index": "mm-skin", "label_index": "ham10000"}


class TrainingIndex:
    """The training split of a registered dataset, loaded on first use.

    ``given`` is False for the default (the demo's): that index answers only requests it
    knows (the demo's questions and labels); anything else is a sentence saying which
    ``-M`` option names the task's own training split, never an answer drawn from the demo.
    """

    def __init__(self, datasets: Any, dataset: str, root: str | None, split: str = "train",
                 option: str = "label_index", given: bool = True) -> None:
        self.datasets = datasets  # the registry the harness handed the factory
        self.dataset, self.root, self.split = dataset, root, split
        self.option, self.given = option, given
        self._samples: list[Sample] | None = None
        self._features: np.ndarray | None = None
        self._known: set[str | None] | None = None  # its labels and questions
        self._label_counts: Counter[str | None] | None = None
        self._offering: dict[tuple[str, ...], np.ndarray] = {}

    @classmethod
    def from_file(cls, path: Path, kind: str, option: str) -> TrainingIndex:
        """The training rows of a bring-your-own-data file (``-T data=FILE``)."""
        from harness.datasets import custom

        index = cls(None, str(path), None, option=option)
        samples, _ = custom.load(path, kind)
        index._samples = [s for s in samples if s.split == "train"]
        if not index._samples:
            raise UsageError(f"{path} has no rows with split=train for a baseline to answer "
                             f"from (or pass -M {option}=DATASET)")
        return index

    @property
    def samples(self) -> list[Sample]:
        if self._samples is None:
            spec = self.datasets.get(self.dataset)
            root = Path(self.root) if self.root else None
            if spec.needs_data_root and root is None:
                raise UsageError(
                    f"baseline index dataset '{self.dataset}' needs -M index_root=DIR"
                )
            self._samples = list(spec.load(root, self.split))
            if not self._samples:
                raise UsageError(f"dataset '{self.dataset}' has no '{self.split}' samples")
        return self._samples

    def unfit(self, model: str, request: Request) -> UsageError | None:
        """Why the default index cannot answer ``request`` (None when it can, or was given)."""
        if self.given:
            return None
        if self._known is None:
            self._known = {s.label for s in self.samples} | {s.question for s in self.samples}
        if request.choices:
            missing = sorted(set(request.choices) - self._known)
            if not missing:
                return None
            lacks = f"no training image labelled {', '.join(missing[:3])}" + (
                f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        elif request.prompt in self._known:
            return None
        else:
            lacks = "no answer to this task's questions"
        return UsageError(
            f"model '{model}' answers from a training split and none was given for this task "
            f"(the default, the demo's '{self.dataset}', has {lacks}): pass "
            f"-M {self.option}=DATASET -M index_root=DIR, e.g. -M {self.option}="
            f"{INDEX_EXAMPLES[self.option]}"
        )

    @property
    def features(self) -> np.ndarray:
        if self._features is None:

            feats = unique_features([s.image for s in self.samples])
            self._features = feats / np.linalg.norm(feats, axis=1, keepdims=True)
        return self._features

    def offering(self, choices: tuple[str, ...]) -> np.ndarray:
        """Which samples carry one of ``choices`` (kept per choice list: tasks repeat them)."""
        if choices not in self._offering:
            self._offering[choices] = np.array([s.label in choices for s in self.samples])
        return self._offering[choices]

    @property
    def label_counts(self) -> Counter[str | None]:
        """How often each label occurs, in the order labels first occur (most_common's ties)."""
        if self._label_counts is None:
            self._label_counts = Counter(s.label for s in self.samples)
        return self._label_counts


def unique_features(paths: Sequence[Path]) -> np.ndarray:
    """Features of each path, each distinct file read once (the closed questions of one
    encounter share its images: 27 samples, one picture)."""
    from harness.image_features import features_for_files

    distinct = list(dict.fromkeys(paths))
    feats = features_for_files(distinct)
    row = {p: i for i, p in enumerate(distinct)}
    return feats[[row[p] for p in paths]]


def index_split(index: TrainingIndex) -> dict[str, str]:
    """The index's split, in an identity only when it is not the default ``train``."""
    return {} if index.split == "train" else {"index_split": index.split}


class IndexOptions(Options):
    """The ``-M`` options of the baselines that answer from a training split."""

    vqa_index: str | None = Field(
        None, description="dataset whose training split answers VQA (default: the demo's)")
    label_index: str | None = Field(
        None, description="dataset whose training labels answer classification (default: the "
        "demo's)")
    index_root: str | None = Field(None, description="data root of that dataset")
    index_split: str = Field("train", description="the split of that dataset answers come "
                             "from (a benchmark without a released training split: another "
                             "split than the one evaluated)")


class ColourLBPEncoder(Model):
    """Colour-histogram + LBP image features: the paper's modality features, as a probe encoder."""

    name = "colour-lbp"
    capabilities = frozenset({"encode_images"})

    def identity(self) -> dict[str, Any]:
        from harness import image_features as f

        return {"name": self.name, "hist_bins": f.HIST_BINS, "lbp": f.LBP_SETTINGS,
                "working_size": f.WORKING_SIZE}

    def encode_images(self, images: Sequence[Path]) -> np.ndarray:
        from harness.image_features import features_for_files

        return features_for_files(images)



class RetrievalBaseline(Model):
    """Answers with the answer of the most similar training image (cosine over colour+LBP).

    VQA: among training pairs with the same question, else among all pairs.
    Classification (a request with ``choices``): the label of the nearest
    training image whose label is one of the choices.

    It does not offer ``encode_images``: its features are colour-lbp's, and a probe of
    them is colour-lbp's row (the demo once showed the same probe row twice).
    """

    name = "knn-retrieval"
    capabilities = frozenset({"generate"})

    def __init__(self, vqa: TrainingIndex, labels: TrainingIndex) -> None:
        self.vqa, self.labels = vqa, labels
        self._files: dict[tuple[Path, bool], TrainingIndex] = {}

    def identity(self) -> dict[str, Any]:
        return {**ColourLBPEncoder().identity(), "name": self.name,
                "vqa_index": self.vqa.dataset, "label_index": self.labels.dataset,
                **index_split(self.vqa)}

    def generate(self, requests: Sequence[Request]) -> list[str | Exception]:

        # Requests the index cannot answer are told so before any image is opened.
        answers: list[str | Exception | None] = []
        for r in requests:
            try:
                answers.append(index_for(self, r).unfit(self.name, r))
            except UsageError as exc:
                answers.append(exc)
        todo = [i for i, a in enumerate(answers) if a is None]
        if todo:
            query = unique_features([requests[i].images[0] for i in todo])
            query /= np.linalg.norm(query, axis=1, keepdims=True)
            for i, q in zip(todo, query, strict=True):
                answers[i] = self._nearest(requests[i], q)
        return [a for a in answers if a is not None]

    def _nearest(self, req: Request, q: np.ndarray) -> str | Exception:
        index = index_for(self, req)
        sims = index.features @ q
        if req.choices:
            allowed = index.offering(req.choices)
        else:
            allowed = np.array([s.question == req.prompt for s in index.samples])
            if not allowed.any():
                allowed[:] = True
        if not allowed.any():
            return UsageError("no training image carries any of the offered labels")
        hit = index.samples[int(np.argmax(np.where(allowed, sims, -np.inf)))]
        return str(hit.label if req.choices else hit.answer)


class FrequencyBaseline(Model):
    """``majority``: the most frequent training answer (or label); ``chance``: a uniform draw."""

    capabilities = frozenset({"generate"})

    def __init__(self, name: str, vqa: TrainingIndex, labels: TrainingIndex, seed: int) -> None:
        self.name = name
        self.seed = seed
        self.vqa, self.labels = vqa, labels
        self._files: dict[tuple[Path, bool], TrainingIndex] = {}

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "vqa_index": self.vqa.dataset,
                "label_index": self.labels.dataset, "seed": self.seed, **index_split(self.vqa)}

    def _rng(self, req: Request) -> np.random.Generator:
        h = hashlib.sha256(f"{self.seed}:{req.sample_id}".encode()).digest()
        return np.random.default_rng(int.from_bytes(h[:8], "little"))

    def generate(self, requests: Sequence[Request]) -> list[str | Exception]:
        out: list[str | Exception] = []
        for req in requests:
            if req.choices and self.name == "chance":  # the offered choices are its only input
                out.append(str(req.choices[self._rng(req).integers(len(req.choices))]))
                continue
            try:
                index = index_for(self, req)
            except UsageError as exc:
                out.append(exc)
                continue
            unfit = index.unfit(self.name, req)
            if unfit is not None:
                out.append(unfit)
                continue
            if req.choices:  # majority (chance drew above): the commonest offered label
                counts = index.label_counts
                offered = [label for label in counts if label in req.choices]
                out.append(str(max(offered, key=lambda label: counts[label])) if offered else
                           UsageError("the training index has nothing to answer from"))
                continue
            pool = [s.answer for s in index.samples if s.question == req.prompt]
            pool = pool or [s.answer for s in index.samples]
            if not pool:
                out.append(UsageError("the training index has nothing to answer from"))
            elif self.name == "chance":
                out.append(str(pool[self._rng(req).integers(len(pool))]))
            else:
                out.append(str(Counter(pool).most_common(1)[0][0]))
        return out


def index_for(model: Any, req: Request) -> TrainingIndex:
    """The training split that answers ``req``: the one ``-M`` named, else the training rows
    of the task's own data file (``*/custom`` tasks), else the demo's."""
    index = model.labels if req.choices else model.vqa
    if index.given or req.train_data is None:
        return index
    key = (Path(req.train_data), bool(req.choices))
    if key not in model._files:
        model._files[key] = TrainingIndex.from_file(
            key[0], "zeroshot" if req.choices else "vqa", index.option)
    return model._files[key]


def _indexes(context: LoadContext, opts: IndexOptions) -> dict[str, TrainingIndex]:
    datasets, root = context.datasets, opts.index_root
    return {
        "vqa": TrainingIndex(datasets, opts.vqa_index or DEFAULT_VQA_INDEX, root,
                             split=opts.index_split, option="vqa_index",
                             given=opts.vqa_index is not None),
        "labels": TrainingIndex(datasets, opts.label_index or DEFAULT_LABEL_INDEX, root,
                                split=opts.index_split, option="label_index",
                                given=opts.label_index is not None),
    }


def make_encoder(spec: ModelSpec, context: LoadContext, opts: Options) -> ColourLBPEncoder:
    return ColourLBPEncoder()


def make_retrieval(spec: ModelSpec, context: LoadContext, opts: IndexOptions
                   ) -> RetrievalBaseline:
    return RetrievalBaseline(**_indexes(context, opts))


def make_frequency(spec: ModelSpec, context: LoadContext, opts: IndexOptions
                   ) -> FrequencyBaseline:
    return FrequencyBaseline(spec.name, seed=context.seed, **_indexes(context, opts))


@hookimpl
def register_models(register: Callable[[ModelSpec], None]) -> None:
    register(ModelSpec(
        name="colour-lbp", factory=make_encoder, family="baseline",
        capabilities=frozenset({"encode_images"}), options=Options,
        description="colour histogram + LBP features (probe baseline)",
    ))
    register(ModelSpec(
        name="knn-retrieval", factory=make_retrieval, family="baseline",
        capabilities=frozenset({"generate"}), options=IndexOptions,
        description="answer of the most similar training image (colour + LBP)",
    ))
    register(ModelSpec(
        name="majority", factory=make_frequency, family="baseline",
        capabilities=frozenset({"generate"}), options=IndexOptions,
        description="most frequent training answer / label",
    ))
    register(ModelSpec(
        name="chance", factory=make_frequency, family="baseline",
        capabilities=frozenset({"generate"}), options=IndexOptions,
        description="uniform draw among the candidates / training answers",
    ))

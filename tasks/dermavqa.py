"""DermaVQA / MEDIQA-M3G 2024: answer a consumer's dermatology query from its text and images.

The prompt is the query title and content, one per line, as the challenge gives them
(``query_title_{lang}``, ``query_content_{lang}``), with every image of the encounter in
one Request (``-T images=first`` sends only the first, and the run records it). Scored as
the organisers' ``scoring_multilingresp.py`` scores one language: deltaBLEU with each
reference weighted by its author's profile (iiyi; reddit's weigh 1) and BERTScore as the
maximum over the references (see harness.metrics.deltableu / multiref). MEDCON needs UMLS
(licensed) and an unreleased assertion model, so it is not computed (docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, NonNegativeInt, PositiveInt

from harness import hookimpl
from harness.errors import UsageError
from harness.judge.config import JudgeConfig, JudgeOptions
from harness.specs import TaskContext, TaskKind, TaskSpec
from harness.task import Task
from harness.tasks.common import DataReport, decoding_for, decoding_variant, load_split
from harness.types import Prediction, Request, Sample

PROMPT_VERSION = 1
# The organisers fix no decoding, and the MM-Skin authors' sampling (--protocol paper) is not
# theirs: greedy under every protocol unless -T decoding= says otherwise, so reruns agree.
DECODING_PROTOCOL = "sound"
KIND = "vqa-multiref"  # free text against several weighted references
METRICS = ("deltableu", "bertscore")
SCORER = "wyim/MEDIQA-M3G-2024@0a0aba8 evaluation/nlg/scoring_multilingresp.py"


class DermaVqaOptions(JudgeOptions):
    """The ``-T`` options of the DermaVQA tasks."""

    split: str = Field("test", description="test (the challenge's), test-corrected (iiyi's "
                       "corrected Spanish), valid or train")
    lang: Literal["zh", "en", "es"] = Field("en", description="query and reference language "
                                            "(iiyi: zh, en, es; reddit: en)")
    images: Literal["all", "first"] = Field("all", description="send every image of the "
                                            "encounter, or only the first")
    decoding: str | None = Field(None, description="decoding preset; default: the protocol's")
    max_new_tokens: PositiveInt | None = Field(None, description="longest answer in tokens")
    bertscore_model: str | None = Field(
        None, description="local folder of the organisers' BERTScore encoder (roberta-large "
        "for en/es, bert-base-multilingual-cased for zh); default: the offline MiniLM-L6")
    bertscore_layer: PositiveInt | None = Field(None, description="its layer (17 / 9)")
    bootstrap: NonNegativeInt = Field(1000, description="bootstrap resamples (0: none)")
    metrics: str = Field(",".join(METRICS), description="comma-separated: deltableu, bertscore "
                         "(a subset is a partial result, written beside the complete one)")


class DermaVqaTask(Task):
    capability = "generate"
    kind = KIND

    def __init__(self, spec: TaskSpec, context: TaskContext, options: DermaVqaOptions) -> None:
        super().__init__(spec, context, options)
        opts, name = options, spec.name
        subset = spec.dataset.split("-")[-1]
        if subset == "reddit" and opts.lang != "en":
            raise UsageError(f"task '{name}': the reddit subset is English only (lang=en)")
        self.subset = subset
        self.split, self.lang, self.images = opts.split, opts.lang, opts.images
        self.decoding = decoding_for("vqa", DECODING_PROTOCOL, opts.decoding,
                                     opts.max_new_tokens)
        self.bertscore_model, self.bertscore_layer = opts.bertscore_model, opts.bertscore_layer
        self.bootstrap = int(opts.bootstrap)
        self.metric_names = [m.strip() for m in opts.metrics.split(",") if m.strip()]
        unknown = sorted(set(self.metric_names) - set(METRICS))
        if unknown or not self.metric_names:
            raise UsageError(f"task '{name}': metrics={opts.metrics!r}: choose from "
                             f"{', '.join(METRICS)}")
        self.judge = JudgeConfig.for_task(spec, options, context)

    def judge_reference(self, sample: Sample) -> str:
        """The judge compares the answer with the encounter's first response, in the
        language asked (the organisers' scorers take the best of all of them; a judge call
        per reference would multiply its cost)."""
        return str(sample.meta["responses"][0]["content"].get(self.lang) or "")

    def metric_subset(self) -> list[str] | None:
        return None if set(METRICS) <= set(self.metric_names) else list(self.metric_names)

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "dataset": self.dataset,
                "split": self.split, "lang": self.lang, "images": self.images,
                "decoding": self.decoding.to_dict(),
                "prompt_version": PROMPT_VERSION}

    def variant(self) -> str:
        parts = [] if self.split == "test" else [f"split={self.split}"]
        parts += [] if self.lang == "en" else [f"lang={self.lang}"]
        parts += [] if self.images == "all" else [f"images={self.images}"]
        parts += decoding_variant("vqa", DECODING_PROTOCOL, self.decoding)
        return ",".join(parts)

    def scoring_config(self) -> dict[str, Any]:
        return {"scorer": SCORER, "metrics": self.metric_names, "lang": self.lang,
                "bertscore_model": self.bertscore_model,
                "bertscore_layer": self.bertscore_layer, "bootstrap": self.bootstrap,
                "reference_weights": "author profile" if self.subset == "iiyi" else "all 1"}

    def load_samples(self, data_root: Path | None) -> list[Sample]:
        self.data_report = DataReport()
        samples = load_split(self.dataset_spec(), data_root, self.split, self.data_report)
        if self.images == "first":
            self.data_report.notes.append("images=first: only each encounter's first image is "
                                          "sent (the challenge gives all of them)")
        return samples

    def prompt(self, sample: Sample) -> str:
        query = sample.meta["query"][self.lang]
        return "\n".join(t for t in (query["title"], query["content"]) if t.strip())

    def build_request(self, sample: Sample) -> Request:
        images = tuple(Path(p) for p in sample.meta["images"])
        return Request(sample_id=sample.id, prompt=self.prompt(sample),
                       images=images[:1] if self.images == "first" else images,
                       decoding=self.decoding)

    def postprocess(self, sample: Sample, output: Any) -> dict[str, Any]:
        return {"images_sent": 1 if self.images == "first" else len(sample.meta["images"])}

    def score(self, samples: Sequence[Sample], predictions: dict[str, Prediction]
              ) -> dict[str, Any]:
        from harness.metrics.deltableu import deltableu, reference_weight
        from harness.metrics.multiref import bertscore_max_for
        from harness.metrics.scoring import _clean, _intervals

        answered = [s for s in samples if s.id in predictions]
        outputs = ["" if predictions[s.id].output is None else str(predictions[s.id].output)
                   for s in answered]
        refs = [[r["content"][self.lang] for r in s.meta["responses"]] for s in answered]
        weights = [[reference_weight(r) if self.subset == "iiyi" else 1.0
                    for r in s.meta["responses"]] for s in answered]
        stats: dict[str, Any] = {}
        if "deltableu" in self.metric_names:
            stats["deltableu"] = deltableu(outputs, refs, weights, self.lang)
        if "bertscore" in self.metric_names:
            options = {"bertscore_model": self.bertscore_model,
                       "bertscore_layer": self.bertscore_layer}
            bert_name, bert = bertscore_max_for(outputs, refs, self.lang, options)
            stats[bert_name] = bert
        result: dict[str, Any] = {"overall": {m: st.score() for m, st in stats.items()},
                                  "n": len(answered)}
        if self.bootstrap and answered:
            result["ci"] = _intervals(list(stats), lambda w: {m: st.resampled(w)
                                                              for m, st in stats.items()},
                                      len(answered), self.bootstrap, 0, None)
            result["bootstrap"] = {"resamples": self.bootstrap, "seed": 0, "confidence": 0.95}
        result["metrics"] = {m: info for m, info in self.metric_info(stats).items()
                             if m in stats}
        result["notes"] = [n for st in stats.values() for n in st.notes]
        result["empty_answers"] = sum(1 for o in outputs if not o.strip())
        result["scoring"] = self.scoring_config()
        return _clean(result)

    def metric_info(self, stats: dict[str, Any]) -> dict[str, Any]:
        """What each score means, as the results schema's MetricInfo holds it."""
        def params(name: str) -> dict[str, Any]:
            return stats[name].params if name in stats else {}

        return {
            "deltableu": {"version": "1", "higher_is_better": True,
                          "params": {**params("deltableu"), "scale": "0-100",
                                     "lowercase": "hypothesis only (as the scorer)",
                                     "smoothing": "exp", "effective_order": True,
                                     "reference": SCORER},
                          "description": "deltaBLEU, references weighted by author profile"},
            **{name: {"version": "1", "higher_is_better": True,
                      "params": {**params(name), "stat": "max F1 over references",
                                 "reference": SCORER},
                      "description": "BERTScore F1, the best reference per encounter" + (
                          "" if name == "bertscore-max" else
                          " (offline MiniLM-L6 encoder: not the organisers' numbers)")}
               for name in ("bertscore-max", "bertscore-max-minilm-l6")},
        }


TASK_KIND = TaskKind(
    name=KIND, factory=DermaVqaTask, options=DermaVqaOptions, capability="generate",
    headline="deltableu", layout="table", title="DermaVQA (MEDIQA-M3G 2024)",
    columns=(("deltableu", "deltaBLEU"), ("bertscore-max", "BERTScore (max over references)"),
             ("bertscore-max-minilm-l6", "BERTScore (max, MiniLM-L6 substitute)")),
    description="free text against several weighted references, scored as the organisers do")


@hookimpl
def register_task_kinds(register: Callable[[TaskKind], None]) -> None:
    register(TASK_KIND)


TASKS = (
    ("vqa/dermavqa-iiyi", "dermavqa-iiyi",
     "DermaVQA iiyi (MEDIQA-M3G 2024): zh/en/es query + images, deltaBLEU and BERTScore"),
    ("vqa/dermavqa-reddit", "dermavqa-reddit",
     "DermaVQA reddit (MEDIQA-M3G 2024): English query + image, deltaBLEU and BERTScore"),
)


@hookimpl
def register_tasks(register: Callable[[TaskSpec], None]) -> None:
    for name, dataset, description in TASKS:
        register(TaskSpec(name=name, kind=KIND, dataset=dataset, description=description))

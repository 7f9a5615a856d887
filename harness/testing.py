"""Contract checks for model and task plugins, for plugin authors' own test suites.

    from harness.testing import check_model, check_task, make_images

    def test_my_model_keeps_the_contract(tmp_path):
        model = my_plugin.make_model(...)
        check_model(model, make_images(tmp_path))

    def test_my_task_keeps_the_contract():
        check_task("vqa/my-dataset", data_root=...)

Each check runs the model for real and raises ``AssertionError`` with a sentence saying
which part of the contract (``harness/model.py``) was broken. They need no test framework;
pytest shows the sentence.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harness.specs import CAPABILITIES, ModelSpec
from harness.types import Decoding, Request

PROMPTS = (
    "What is the diagnosis?",
    "Describe the image.",
    "This is a skin lesion image. From the following categories: melanoma, nevus, "
    "which one is the diagnosis?",
    "What colour is the lesion on the arm?",
)
CHOICES = ("melanoma", "nevus", "basal cell carcinoma", "psoriasis")


def make_images(folder: Path, sizes: Sequence[tuple[int, int]] = ((64, 48), (48, 64), (56, 56)),
                seed: int = 0) -> list[Path]:
    """A few small RGB images of different shapes (wide, tall, square), written as PNG."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i, (w, h) in enumerate(sizes):
        pixels = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
        path = folder / f"contract-{i}.png"
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


def requests(images: Sequence[Path], max_new_tokens: int = 8) -> list[Request]:
    """Greedy requests with prompts of different lengths (batching must not change answers)."""
    return [Request(sample_id=str(i), prompt=PROMPTS[i % len(PROMPTS)],
                    images=(images[i % len(images)],),
                    decoding=Decoding(max_new_tokens=max_new_tokens))
            for i in range(len(PROMPTS))]


def check_spec(spec: ModelSpec) -> None:
    """A registration record the harness can use."""
    assert spec.name and spec.name == spec.name.strip(), "a model needs a non-blank name"
    assert callable(spec.factory), f"model '{spec.name}': factory is not callable"
    unknown = set(spec.capabilities) - set(CAPABILITIES)
    assert not unknown, f"model '{spec.name}': unknown capabilities {sorted(unknown)}"


def check_generate(model: Any, images: Sequence[Path]) -> list[str | Exception]:
    """One output per request, text or an Exception, and the same alone as in a batch."""
    reqs = requests(images)
    batched = list(model.generate(reqs))
    assert len(batched) == len(reqs), (
        f"generate returned {len(batched)} outputs for {len(reqs)} requests")
    for out in batched:
        assert isinstance(out, str | Exception), (
            f"generate returned a {type(out).__name__}; each output must be a str (or an "
            "Exception for a request that failed)")
    alone = [model.generate([r])[0] for r in reqs]
    assert [str(x) for x in batched] == [str(x) for x in alone], (
        "greedy answers differ between a batch and one request at a time "
        f"(batched {batched!r}, alone {alone!r}): check padding side and attention masks")
    return batched


def check_encode_images(model: Any, images: Sequence[Path]) -> np.ndarray:
    """A float32 [n, d] array of finite numbers, the same alone as in a batch."""
    feats = np.asarray(model.encode_images(list(images)))
    assert feats.ndim == 2 and feats.shape[0] == len(images), (
        f"encode_images returned shape {feats.shape} for {len(images)} images; expected [n, d]")
    assert np.isfinite(feats).all(), "encode_images returned NaN or infinite values"
    one = np.concatenate([np.asarray(model.encode_images([p])) for p in images])
    np.testing.assert_allclose(feats, one, rtol=1e-4, atol=1e-5,
                               err_msg="features differ between a batch and one image at a time")
    return feats


def check_score_choices(model: Any, images: Sequence[Path]) -> list[float]:
    """One finite log-likelihood (<= 0) per candidate."""
    request = requests(images)[2]
    scores = [float(s) for s in model.score_choices(request, list(CHOICES))]
    assert len(scores) == len(CHOICES), (
        f"score_choices returned {len(scores)} scores for {len(CHOICES)} choices")
    assert all(np.isfinite(s) and s <= 0 for s in scores), (
        f"score_choices must return log-likelihoods (finite, <= 0), got {scores}")
    return scores


def check_identity(model: Any) -> dict[str, Any]:
    """A JSON-serialisable, stable description of what makes the outputs what they are."""
    ident = model.identity()
    assert isinstance(ident, dict), "identity() must return a dict"
    json.dumps(ident)
    assert ident == model.identity(), "identity() must return the same thing twice"
    return ident


def check_model(model: Any, images: Sequence[Path], spec: ModelSpec | None = None
                ) -> dict[str, Any]:
    """Every check that the model's declared capabilities call for; returns what it saw.

    With its ``spec``, the capabilities are the spec's (the one place they are declared),
    and a model object that declares others fails."""
    caps = set(getattr(model, "capabilities", ()) or ())
    if spec is not None:
        assert not caps or caps == set(spec.capabilities), (
            f"model '{spec.name}': the model object declares {sorted(caps)} but its ModelSpec "
            f"{sorted(spec.capabilities)}: declare them once, in the ModelSpec")
        caps = set(spec.capabilities)
    assert caps, "the model declares no capabilities"
    assert caps <= set(CAPABILITIES), f"unknown capabilities {sorted(caps - set(CAPABILITIES))}"
    seen: dict[str, Any] = {"identity": check_identity(model)}
    if "generate" in caps:
        seen["generate"] = check_generate(model, images)
    if "encode_images" in caps:
        seen["encode_images"] = check_encode_images(model, images)
    if "score_choices" in caps:
        seen["score_choices"] = check_score_choices(model, images)
    return seen


# ------------------------------------------------------------------------------- tasks

def check_task(name: str, options: dict[str, str] | None = None, *, registries: Any = None,
               data_root: Path | None = None, protocol: str = "paper", limit: int = 8,
               seed: int = 0) -> dict[str, Any]:
    """Build the task exactly as ``harness run`` does and check the task contract on up to
    ``limit`` of its samples, without a model: samples with unique ids; one ``Request`` per
    sample with a text prompt and existing images; a JSON configuration whose fingerprint
    is the same when the task is built again; a folder-safe variant; scores from stored
    predictions (each sample answered with its own choices' first, its reference, or random
    features) that the results schema accepts, with the headline metric the task declares;
    a failed prediction left out of the scores. Returns what it saw (plan, samples,
    requests, scores)."""
    from dataclasses import replace

    from harness.plan import safe_name
    from harness.plugin_manager import get_registries
    from harness.results import scores_from_task
    from harness.runner import RunOptions, build_task, plan_for
    from harness.types import Prediction

    regs = registries or get_registries()
    opts = RunOptions(model="check", tasks=[name], protocol=protocol, seed=seed,
                      data_root=data_root, limit=limit)
    task = build_task(regs, name, dict(options or {}), opts)
    spec = regs.tasks.get(name)
    key = {"name": "check", "model": "check", "checkpoint": None, "options": {}}
    plan = plan_for(task, key, opts)
    json.dumps(plan.model_dump(mode="json"))  # raises on a value that is not JSON
    again = plan_for(build_task(regs, name, dict(options or {}), opts), key, opts)
    assert plan.fingerprint == again.fingerprint, (
        f"task '{name}': config() differs between two builds of the same task (a set, a "
        "random value or an object in it?): stored answers could never be reused")
    assert safe_name(plan.folder) == plan.folder, (
        f"task '{name}': variant() gives the folder '{plan.folder}', which is not folder-safe")
    samples = task.select(task.load_samples(data_root), limit)
    assert samples, f"task '{name}': load_samples returned no sample"
    ids = [s.id for s in samples]
    assert len(set(ids)) == len(ids), f"task '{name}': sample ids repeat"
    requests = [task.build_request(s) for s in samples]
    for sample, req in zip(samples, requests, strict=True):
        assert isinstance(req, Request), (
            f"task '{name}': build_request returned {type(req).__name__}, not a Request")
        assert req.sample_id == sample.id, f"task '{name}': a request names another sample"
        assert isinstance(req.prompt, str), f"task '{name}': a prompt is not text"
        assert all(Path(i).is_file() for i in req.images), (
            f"task '{name}': sample {sample.id} names an image that does not exist "
            "(give data_root=...)")
    outputs = _stand_in_outputs(task, samples, requests, seed)
    preds = {}
    for sample, out in zip(samples, outputs, strict=True):
        pred = Prediction(id=sample.id, fingerprint=sample.id, output=out)
        if task.capability == "generate":
            pred.extra = task.postprocess(sample, out)
        preds[sample.id] = pred
    scores = scores_from_task(task.score(samples, preds))
    assert spec.headline in scores.overall, (
        f"task '{name}': its scores have no '{spec.headline}', the headline metric it "
        f"declares (they have: {', '.join(scores.overall) or 'none'})")
    for metric, value in scores.overall.items():
        assert value is None or np.isfinite(value), f"task '{name}': {metric} = {value}"
    if task.capability == "generate" and len(samples) > 2:
        dropped = {k: v for k, v in preds.items() if k != samples[0].id}
        fewer = scores_from_task(task.score(samples, dropped))
        assert fewer.n in (None, len(samples) - 1), (
            f"task '{name}': scored {fewer.n} samples when {len(samples) - 1} were answered "
            "(a failed sample must be left out of the scores)")
    return {"plan": plan, "samples": samples, "requests": [replace(r) for r in requests],
            "scores": scores}


def _stand_in_outputs(task: Any, samples: Sequence[Any], requests: Sequence[Request],
                      seed: int) -> list[Any]:
    """Answers a model could give: its choices' first, the reference, or random features."""
    if task.capability == "encode_images":
        rng = np.random.default_rng(seed)
        return [rng.normal(size=8).astype(np.float32) for _ in samples]
    if task.capability == "score_choices":
        return [[float(-i) for i in range(len(r.choices))] for r in requests]
    return [r.choices[0] if r.choices else (s.answer or "an answer")
            for s, r in zip(samples, requests, strict=True)]

"""The runner: samples -> requests -> model (batched, resumable) -> predictions -> metrics.

One call of ``run`` evaluates one model on one or more tasks. The model is
built at most once, and only if some task still has unanswered samples.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from harness import __version__, results
from harness.datasets import splitfiles
from harness.errors import CapabilityError, HarnessError, UsageError
from harness.fingerprint import CACHE_VERSION, digest, file_stamp
from harness.plugin_manager import Registries
from harness.progress import Progress
from harness.provenance import environment, now
from harness.specs import ModelSpec
from harness.store import ResultStore
from harness.task import Task
from harness.types import Prediction, Request, Sample

MAX_ERROR_CHARS = 500
MAX_LISTED_FAILURES = 50


@dataclass
class RunOptions:
    model: str
    tasks: Sequence[str]
    name: str | None = None  # results are filed under this name (default: the model name)
    output: Path = Path("results")
    data_root: Path | None = None
    model_path: str | None = None
    device: str = "auto"
    model_options: dict[str, str] = field(default_factory=dict)
    task_options: dict[str, str] = field(default_factory=dict)
    batch_size: int | None = None
    limit: int | None = None
    seed: int = 0
    dry_run: bool = False
    allow_modified_splits: bool = False  # read split files that differ from their pinned SHA-256


@dataclass
class TaskRun:
    """A task prepared for one model: its samples, requests and what is still to ask."""

    task: Task
    samples: list[Sample]
    requests: list[Request]
    fingerprints: list[str]
    store: ResultStore
    pending: list[int]  # indices into samples
    cached: int


@dataclass
class TaskOutcome:
    task: str
    folder: Path
    metrics: results.MetricsFile | None
    asked: int
    cached: int
    failed: int


def safe_name(name: str) -> str:
    """A model or task name as a folder name (``openai:gpt-4o`` -> ``openai_gpt-4o``)."""
    return re.sub(r"[^A-Za-z0-9._/+=,-]+", "_", name).strip("/")


def results_folder(output: Path, task: str, model: str) -> Path:
    return output / safe_name(task) / safe_name(model).replace("/", "_")


def task_folder(task: Task) -> str:
    """The task's results folder name: its name, plus any request-shaping non-default option."""
    variant = getattr(task, "variant", lambda: "")()
    return f"{task.name}+{variant}" if variant else task.name


def model_key(spec: ModelSpec, opts: RunOptions) -> dict[str, Any]:
    """The requested model configuration; part of every request fingerprint."""
    return {
        "name": opts.name or spec.name,
        "model": spec.name,
        "checkpoint": opts.model_path or spec.checkpoint,
        "options": {k: v for k, v in sorted(opts.model_options.items())
                    if k not in spec.runtime_options},
    }


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    import sys

    if "torch" in sys.modules:  # never import torch just to seed it
        sys.modules["torch"].manual_seed(seed)


def build_task(registries: Registries, name: str, options: dict[str, str]) -> Task:
    spec = registries.tasks.get(name)
    try:
        return spec.factory(**options)
    except TypeError as exc:
        raise UsageError(f"task '{name}' does not accept these options ({exc})") from None


def request_identity(request: Request, data_root: Path | None) -> dict[str, Any]:
    """A request as fingerprinted: images by their path under the data root and their size.

    Moving the data root, or copying it to another machine, keeps the stored
    answers valid; replacing an image with another file changes its size and
    re-asks that sample.
    """
    out = request.to_dict()
    images = []
    for path in request.images:
        p = Path(path)
        try:
            name = str(p.resolve().relative_to(data_root.resolve())) if data_root else p.name
        except ValueError:
            name = str(p)
        stamp = file_stamp(p)
        images.append({"path": name, "size": stamp.get("size")})
    out["images"] = images
    return out


def prepare(task: Task, key: dict[str, Any], opts: RunOptions, shard: str | None = None) -> TaskRun:
    with splitfiles.allowing_modified(opts.allow_modified_splits):
        samples = task.load_samples(opts.data_root)
    if opts.limit is not None:
        samples = task.select(samples, opts.limit)
    seen: set[str] = set()
    for s in samples:
        if s.id in seen:
            raise HarnessError(f"task '{task.name}': sample id '{s.id}' occurs twice")
        seen.add(s.id)
    task_fp = digest(task.config())
    requests = [task.build_request(s) for s in samples]
    # Sampling presets draw with the run's seed, so a rerun with the same seed asks the same.
    requests = [
        replace(r, decoding=r.decoding.with_seed(opts.seed))
        if r.decoding.do_sample and r.decoding.seed is None else r
        for r in requests
    ]
    fps = [
        digest({"v": CACHE_VERSION, "task": task_fp, "model": key,
                "request": request_identity(r, opts.data_root)})
        for r in requests
    ]
    store = ResultStore(results_folder(opts.output, task_folder(task), key["name"]), shard=shard)
    stored = store.load()
    pending = [i for i, fp in enumerate(fps) if fp not in stored or not stored[fp].ok]
    return TaskRun(task, samples, requests, fps, store, pending, len(samples) - len(pending))


def run(registries: Registries, opts: RunOptions, console: Any = None) -> list[TaskOutcome]:
    spec = registries.models.get(opts.model)
    task_names: list[str] = []
    for pattern in opts.tasks:
        task_names += [t.name for t in registries.tasks.match(pattern)]
    tasks = [build_task(registries, n, opts.task_options) for n in dict.fromkeys(task_names)]
    for task in tasks:
        if task.capability not in spec.capabilities:
            raise CapabilityError(
                f"task '{task.name}' needs a model that can {task.capability}, and model "
                f"'{spec.name}' can only {', '.join(sorted(spec.capabilities)) or 'nothing'}"
            )
    key = model_key(spec, opts)
    seed_everything(opts.seed)
    if opts.dry_run:
        return [_dry_run(prepare(t, key, opts), console) for t in tasks]

    dist = detect_distributed()
    if dist is not None:
        opts = RunOptions(**{**opts.__dict__, "device": dist.device(opts.device)})
        if dist.rank != 0:
            console = None  # one progress display, from rank 0
    model = None
    outcomes: list[TaskOutcome] = []
    started = now()
    try:
        for task in tasks:
            tr = prepare(task, key, opts, shard=dist.shard if dist else None)
            tr.store.lock()
            if dist is None:  # shards left by a data-parallel run that was stopped
                from harness.distributed import merge_shards

                merge_shards(tr.store.folder)
            refresh_pending(tr, dist)
            if dist is not None:
                dist.barrier()  # every rank has read the same missing set before anyone writes
            if tr.pending and model is None:
                model = _build_model(spec, opts)
            asked = _ask(model, tr, opts, console) if tr.pending else 0
            tr.store.close()
            if dist is not None:
                dist.barrier()  # every rank's share is on disk
                if dist.rank != 0:
                    outcomes.append(TaskOutcome(task.name, tr.store.folder, None, asked, 0, 0))
                    continue
                from harness.distributed import merge_shards

                cached = tr.cached
                tr = prepare(task, key, opts)
                tr.store.lock()
                merge_shards(tr.store.folder)
                refresh_pending(tr, None)
                tr.cached = cached  # what was stored before this run, not after the merge
                tr.store.close()
            outcome = finalize(tr, key, opts, model, started)
            outcome.asked = asked
            outcomes.append(outcome)
    finally:
        if model is not None and hasattr(model, "close"):
            model.close()
        if dist is not None:
            dist.close()
    return outcomes


def detect_distributed() -> Any:
    from harness.distributed import detect

    return detect()


def refresh_pending(tr: TaskRun, dist: Any) -> None:
    """What is still to ask, read under the lock (cutting a torn last line first).

    In a data-parallel run every rank sees the same missing set and takes every
    world-th item of it, so shares never overlap and any process count resumes.
    """
    stored = tr.store.load(repair=True)
    pending = [i for i, fp in enumerate(tr.fingerprints)
               if fp not in stored or not stored[fp].ok]
    tr.cached = len(tr.samples) - len(pending)
    tr.pending = pending[dist.rank :: dist.world] if dist is not None else pending


def _build_model(spec: ModelSpec, opts: RunOptions) -> Any:
    try:
        return spec.factory(
            model_path=opts.model_path, device=opts.device, seed=opts.seed, **opts.model_options
        )
    except TypeError as exc:
        raise UsageError(f"model '{spec.name}' does not accept these options ({exc})") from None
    except HarnessError:
        raise
    except Exception as exc:  # the plugin's own failure: name it, not the harness
        raise HarnessError(
            f"model '{spec.name}' (plugin '{spec.plugin}') failed to load: "
            f"{type(exc).__name__}: {exc}"
        ) from None


def _ask(model: Any, tr: TaskRun, opts: RunOptions, console: Any) -> int:
    batch_size = opts.batch_size or int(getattr(model, "batch_size_hint", 0) or 1)
    if batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    label = f"{tr.task.name} · {getattr(model, 'name', '')}"
    with Progress(console, label, total=len(tr.pending)) as bar:
        for start in range(0, len(tr.pending), batch_size):
            idx = tr.pending[start : start + batch_size]
            preds = _ask_batch(model, tr, idx)
            tr.store.append(preds)
            bar.advance(len(idx), failed=sum(not p.ok for p in preds))
    return len(tr.pending)


def _ask_batch(model: Any, tr: TaskRun, idx: list[int]) -> list[Prediction]:
    requests = [tr.requests[i] for i in idx]
    t0 = time.perf_counter()
    try:
        outputs = tr.task.call(model, requests)
        if len(outputs) != len(requests):
            raise HarnessError(
                f"model returned {len(outputs)} outputs for {len(requests)} requests"
            )
    except Exception as exc:
        if len(idx) == 1:
            outputs = [exc]
        else:  # isolate the sample that broke the batch
            return [p for i in idx for p in _ask_batch(model, tr, [i])]
    per = (time.perf_counter() - t0) / len(idx)
    if isinstance(outputs, np.ndarray):
        ref = tr.store.save_array(tr.fingerprints[idx[0]], np.asarray(outputs, dtype=np.float32))
        outputs = [{"array_file": ref, "row": r} for r in range(len(idx))]
    preds = []
    for i, out in zip(idx, outputs, strict=True):
        sample = tr.samples[i]
        pred = Prediction(id=sample.id, fingerprint=tr.fingerprints[i], seconds=per)
        if isinstance(out, BaseException):
            pred.error = f"{type(out).__name__}: {out}"[:MAX_ERROR_CHARS]
        elif tr.task.capability == "generate" and not isinstance(out, str):
            # Only text is an answer: anything else is the model's failure, never scored.
            pred.error = f"model returned {type(out).__name__}, not a string of text"
        else:
            pred.output = out
            try:
                pred.extra = tr.task.postprocess(sample, out)
            except Exception as exc:
                pred.error = f"postprocess failed: {type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
        preds.append(pred)
    return preds


def finalize(
    tr: TaskRun,
    key: dict[str, Any],
    opts: RunOptions,
    model: Any,
    started: str,
    write_run: bool = True,
) -> TaskOutcome:
    """Score the stored predictions of this run's samples; write metrics.json and run.json.

    A partial result (``--limit``, a metric subset) never replaces a complete one: when the
    folder already holds complete metrics, it is written beside them as
    ``metrics.partial.json`` (and ``run.partial.json``).
    """
    stored = tr.store.load()
    by_id: dict[str, Prediction] = {}
    for s, fp in zip(tr.samples, tr.fingerprints, strict=True):
        if fp in stored:
            pred = stored[fp]
            if isinstance(pred.output, dict) and "array_file" in pred.output:
                pred.output = tr.store.load_array_row(pred.output)
            by_id[s.id] = pred
    answered = [p for p in by_id.values() if p.ok]
    failures = [{"id": p.id, "error": p.error} for p in by_id.values() if not p.ok]
    scores = results.scores_from_task(
        tr.task.score(tr.samples, {i: p for i, p in by_id.items() if p.ok}))
    task_fp = digest(tr.task.config())
    subset = tr.task.metric_subset() if hasattr(tr.task, "metric_subset") else None
    partial = (results.Partial(limit=opts.limit, metrics=subset)
               if opts.limit is not None or subset else None)
    record = results.MetricsFile(
        task=tr.task.name, kind=tr.task.kind, dataset=tr.task.dataset, model=key["name"],
        n=len(tr.samples), answered=len(answered), failed=len(failures),
        missing=len(tr.samples) - len(by_id),
        coverage=len(answered) / len(tr.samples) if tr.samples else 0.0,
        scores=scores, partial=partial, failures=failures[:MAX_LISTED_FAILURES],
        data=_data_summary(tr.task), task_fingerprint=task_fp, model_key=key,
        harness_version=__version__,
    )
    metrics_path, run_path = _result_paths(tr.store.folder, partial is not None)
    if not write_run:
        results.write(metrics_path, record)
        return TaskOutcome(tr.task.name, tr.store.folder, record, 0, tr.cached, len(failures))
    previous = _previous_run(run_path)
    old_identity = previous.model.identity if previous is not None else None
    identity = _identity(model) if model is not None else old_identity
    if old_identity is not None and identity != old_identity and tr.cached:
        # Stored answers came from a model that identifies differently (other weights at
        # the same path, another revision): say so where the numbers are read.
        record.warnings.append(
            "stored predictions were made by a model whose identity differs from this run's; "
            f"see {run_path.name} model.previous_identity"
        )
    results.write(metrics_path, record)
    run_info = results.RunFile(
        environment=environment(),
        seed=opts.seed,
        task=results.TaskRecord(name=tr.task.name, config=tr.task.config(), fingerprint=task_fp,
                                folder=task_folder(tr.task)),
        decoding=tr.task.config().get("decoding"),
        model=results.ModelRecord(
            **key, model_path=opts.model_path, device=opts.device, identity=identity,
            previous_identity=old_identity if old_identity != identity else None,
        ),
        data_root=str(opts.data_root) if opts.data_root else None,
        batch_size=opts.batch_size,
        limit=opts.limit,
        started=started,
        ended=now(),
        counts={"samples": len(tr.samples), "cached": tr.cached, "asked": len(tr.pending)},
        store={"repaired_torn_lines": tr.store.repaired_lines, "bad_lines": tr.store.bad_lines},
        data=tr.task.data_report.to_dict() if tr.task.data_report is not None else None,
    )
    results.write(run_path, run_info)
    return TaskOutcome(tr.task.name, tr.store.folder, record, 0, tr.cached, len(failures))


def _result_paths(folder: Path, partial: bool) -> tuple[Path, Path]:
    """Where this result goes: beside a complete result when it is partial, else the main files."""
    main = folder / results.METRICS
    if partial and main.exists():
        try:
            if results.read_metrics(main).complete:
                return folder / "metrics.partial.json", folder / "run.partial.json"
        except results.SchemaError:
            pass  # an unreadable file is not a complete result worth keeping
    return main, folder / results.RUN


def _previous_run(path: Path) -> results.RunFile | None:
    if not path.exists():
        return None
    try:
        return results.read_run(path)
    except results.SchemaError:
        return None  # provenance of the last run only: an unreadable one is replaced


def _data_summary(task: Task) -> dict[str, Any] | None:
    report = task.data_report
    if report is None:
        return None
    return {"skipped": len(report.skipped), "notes": report.notes[:20]}


def _identity(model: Any) -> Any:
    try:
        return model.identity()
    except Exception as exc:  # identity is provenance; never lose the scores over it
        return {"error": f"identity() failed: {exc}"}


def _dry_run(tr: TaskRun, console: Any) -> TaskOutcome:
    if console is not None:
        console.print(
            f"[bold]{tr.task.name}[/]: {len(tr.samples)} samples, {tr.cached} stored, "
            f"{len(tr.pending)} to ask -> {tr.store.folder}"
        )
        if tr.requests:
            console.print(f"  first prompt: {tr.requests[0].prompt!r}")
    return TaskOutcome(tr.task.name, tr.store.folder, None, 0, tr.cached, 0)


def rescore(registries: Registries, opts: RunOptions) -> list[TaskOutcome]:
    """Re-score stored predictions without building the model (``harness score``).

    The model is looked up by the name its results are filed under, so a run
    named with ``--name`` is re-scored by that name and no plugin is needed.
    """
    name = opts.name or opts.model
    outcomes = []
    for pattern in opts.tasks:
        for tspec in registries.tasks.match(pattern):
            task = build_task(registries, tspec.name, opts.task_options)
            folder = results_folder(opts.output, task_folder(task), name)
            if not (folder / results.RUN).exists():
                raise UsageError(
                    f"no stored run of model '{name}' on task '{task.name}' in {folder}"
                )
            previous = results.read_run(folder / results.RUN)
            key = {"name": previous.model.name, "model": previous.model.model,
                   "checkpoint": previous.model.checkpoint, "options": previous.model.options}
            data_root = opts.data_root or (
                Path(previous.data_root) if previous.data_root else None
            )
            run_opts = RunOptions(
                **{**opts.__dict__, "limit": previous.limit, "data_root": data_root}
            )
            tr = prepare(task, key, run_opts)
            tr.store.lock()  # never score beside a run that is still writing
            try:
                outcomes.append(finalize(tr, key, run_opts, None, previous.started,
                                         write_run=False))
            finally:
                tr.store.close()
    return outcomes


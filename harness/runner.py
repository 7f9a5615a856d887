"""The runner: samples -> requests -> model (batched, resumable) -> predictions -> metrics.

One call of ``run`` evaluates one model on one or more tasks. The model is
built at most once, and only if some task still has unanswered samples.
"""

from __future__ import annotations

import random
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from harness import failures, results
from harness.datasets import splitfiles
from harness.errors import CapabilityError, HarnessError, UsageError
from harness.finalize import finalize
from harness.fingerprint import CACHE_VERSION, digest, file_stamp
from harness.options import Options
from harness.options import parse as parse_options
from harness.plan import TaskPlan, folder_of, model_folder
from harness.plan import resolve as resolve_plan
from harness.plugin_manager import Registries
from harness.preflight import image_problems, problem_count, record_image_problems
from harness.progress import Progress
from harness.protocol import check as check_protocol
from harness.provenance import now
from harness.runstate import (
    MAX_ERROR_CHARS,
    RunOptions,
    TaskOutcome,
    TaskRun,
    load_context,
    model_key,
    results_folder,
)
from harness.specs import ModelSpec, TaskContext
from harness.store import ResultStore
from harness.task import Task
from harness.types import Prediction, Request

__all__ = ["RunOptions", "TaskOutcome", "build_task", "load_model", "model_key", "model_options",
           "plan_for", "prepare", "rescore", "run"]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    import sys

    if "torch" in sys.modules:  # never import torch just to seed it
        sys.modules["torch"].manual_seed(seed)


def build_task(registries: Registries, name: str, options: dict[str, str],
               opts: RunOptions | None = None) -> Task:
    """The task, its ``-T`` options parsed and checked before any work."""
    spec = registries.tasks.get(name)
    opts = opts or RunOptions(model="", tasks=[name])
    if "protocol" in options:
        raise UsageError("the protocol is chosen with --protocol, not -T protocol=...")
    parsed = parse_options(spec.options or Options, options, f"task '{name}'", "-T")
    kind = registries.kinds.get(spec.kind) if spec.kind in registries.kinds else None
    context = TaskContext(datasets=registries.datasets, metrics=registries.metrics,
                          protocol=opts.protocol, seed=opts.seed, kind=kind,
                          models=registries.models)
    if spec.factory is None:
        raise HarnessError(f"task '{name}' (plugin '{spec.plugin}') has no factory")
    return spec.factory(spec, context, parsed)


def model_options(spec: ModelSpec, opts: RunOptions) -> Options:
    """The user's ``-M`` options parsed into the model's options class."""
    return parse_options(spec.options, opts.model_options, f"model '{spec.name}'", "-M")


def plan_for(task: Task, key: dict[str, Any], opts: RunOptions) -> TaskPlan:
    """The task's plan for this model configuration and run: resolved once, then read."""
    given = task.options.given() if isinstance(task.options, Options) else {}
    return resolve_plan(task, getattr(task, "task_spec", None), key, protocol=opts.protocol,
                        seed=opts.seed, options=given, limit=opts.limit,
                        kind=getattr(task.context, "kind", None))


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
        except (ValueError, OSError, RuntimeError):  # outside the root, or a symlink loop
            name = str(p)
        stamp = file_stamp(p)
        images.append({"path": name, "size": stamp.get("size")})
    out["images"] = images
    return out


def prepare(task: Task, key: dict[str, Any], opts: RunOptions, shard: str | None = None
            ) -> TaskRun:
    """The task's plan, samples, requests and their fingerprints; what is still to ask is
    read afterwards, under the folder's lock (``refresh_pending``)."""
    plan = plan_for(task, key, opts)
    with splitfiles.allowing_modified(opts.allow_modified_splits):
        samples = task.load_samples(opts.data_root)
    if opts.limit is not None:
        samples = task.select(samples, opts.limit)
    seen: set[str] = set()
    for s in samples:
        if s.id in seen:
            raise HarnessError(f"task '{task.name}': sample id '{s.id}' occurs twice")
        seen.add(s.id)
    requests = [task.build_request(s) for s in samples]
    # Sampling presets draw with the run's seed, so a rerun with the same seed asks the same.
    requests = [
        replace(r, decoding=r.decoding.with_seed(opts.seed))
        if r.decoding.do_sample and r.decoding.seed is None else r
        for r in requests
    ]
    fps = [
        digest({"v": CACHE_VERSION, "task": plan.fingerprint, "model": key,
                "protocol": plan.protocol, "request": request_identity(r, opts.data_root)})
        for r in requests
    ]
    store = ResultStore(results_folder(opts.output, plan), shard=shard)
    return TaskRun(task, plan, samples, requests, fps, store, pending=[], cached=0)


def run(registries: Registries, opts: RunOptions, console: Any = None) -> list[TaskOutcome]:
    spec = registries.models.get(opts.model)
    task_names: list[str] = []
    for pattern in opts.tasks:
        task_names += [t.name for t in registries.tasks.match(pattern)]
    tasks = [build_task(registries, n, opts.task_options, opts)
             for n in dict.fromkeys(task_names)]
    for task in tasks:  # the capability the task needs as its options resolved it
        if task.capability not in spec.capabilities:
            raise CapabilityError(
                f"task '{task.name}' needs a model that can {task.capability}, and model "
                f"'{spec.name}' can only {', '.join(sorted(spec.capabilities)) or 'nothing'}"
            )
    check_protocol(opts.protocol)
    if "protocol" in opts.model_options:
        raise UsageError("the protocol is chosen with --protocol, not -M protocol=...")
    options = model_options(spec, opts)
    key = model_key(spec, opts, options)
    seed_everything(opts.seed)
    if opts.dry_run:
        outcomes = []
        for t in tasks:
            tr = prepare(t, key, opts)
            refresh_pending(tr, None, repair=False)
            outcomes.append(_dry_run(tr, console))
        return outcomes

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
            record_image_problems(tr, console)
            if tr.pending and model is None:
                model = _build_model(spec, opts, options, registries)
            asked = tr.asked = _ask(model, tr, opts, console) if tr.pending else 0
            tr.store.close()
            if dist is not None:
                dist.barrier()  # every rank's share is on disk
                if dist.rank != 0:
                    outcomes.append(TaskOutcome(task.name, tr.store.folder, None, asked, 0, 0))
                    continue
                from harness.distributed import merge_shards

                cached, stopped = tr.cached, tr.stopped
                tr = prepare(task, key, opts)
                tr.stopped, tr.asked = stopped, asked
                tr.store.lock()
                merge_shards(tr.store.folder)
                refresh_pending(tr, None)
                tr.cached = cached  # what was stored before this run, not after the merge
                tr.store.close()
            outcome = finalize(tr, opts, model, started,
                               metric_versions=metric_versions(registries), console=console)
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


def refresh_pending(tr: TaskRun, dist: Any, repair: bool = True) -> None:
    """What is still to ask, read under the lock (cutting a torn last line first).

    In a data-parallel run every rank sees the same missing set and takes every
    world-th item of it, so shares never overlap and any process count resumes.
    """
    stored = tr.store.load(repair=repair)
    pending = [i for i, fp in enumerate(tr.fingerprints)
               if fp not in stored or not stored[fp].ok]
    tr.cached = len(tr.samples) - len(pending)
    tr.pending = pending[dist.rank :: dist.world] if dist is not None else pending


def load_model(registries: Registries, name: str, options: dict[str, Any] | None = None,
               **settings: Any) -> Any:
    """A model built exactly as ``harness run`` builds it, for notebooks and tests:
    ``load_model(regs, "llava-med-7b", {"dtype": "bf16"}, model_path=..., device="cuda")``.
    ``settings`` are ``RunOptions`` fields (model_path, device, seed, protocol, ...)."""
    opts = RunOptions(model=name, tasks=[], model_options=dict(options or {}), **settings)
    spec = registries.models.get(name)
    return _build_model(spec, opts, model_options(spec, opts), registries)


def _build_model(spec: ModelSpec, opts: RunOptions, options: Options,
                 registries: Registries) -> Any:
    try:
        model = spec.factory(spec, load_context(opts, registries.datasets), options)
    except HarnessError:
        raise
    except Exception as exc:  # the plugin's own failure: name it, not the harness
        raise HarnessError(
            f"model '{spec.name}' (plugin '{spec.plugin}') failed to load: "
            f"{type(exc).__name__}: {exc}"
        ) from None
    declared = getattr(model, "capabilities", None)
    if not declared:  # the spec is the one place a model's capabilities are declared
        try:
            model.capabilities = frozenset(spec.capabilities)
        except AttributeError:
            pass
    elif frozenset(declared) != frozenset(spec.capabilities):
        raise HarnessError(
            f"model '{spec.name}' (plugin '{spec.plugin}') declares the capabilities "
            f"{', '.join(sorted(spec.capabilities))} in its ModelSpec but its model object says "
            f"{', '.join(sorted(declared))}: declare them once, in the ModelSpec")
    return model


def _ask(model: Any, tr: TaskRun, opts: RunOptions, console: Any) -> int:
    """Ask the pending samples in batches; returns how many were asked.

    A run of ``opts.max_consecutive_failures`` failures in a row for one reason (a server
    that is down, a plugin that always breaks) stops the task early: the rest stay unasked,
    so a rerun asks them once the cause is fixed, instead of failing them all slowly.
    """
    # Subclassing Model is optional (the duck type is the contract): the hint may be absent.
    batch_size = opts.batch_size or int(getattr(model, "batch_size_hint", None) or 1)
    if batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    label = f"{tr.task.name} · {getattr(model, 'name', '')}"
    # The latest failures in a row: how many, and how many of them end with one reason.
    in_row, same, last = 0, 0, ""
    asked = 0
    with Progress(console, label, total=len(tr.pending)) as bar:
        for start in range(0, len(tr.pending), batch_size):
            idx = tr.pending[start : start + batch_size]
            preds = _ask_batch(model, tr, idx)
            tr.store.append(preds)
            asked += len(idx)
            bar.advance(len(idx), failed=sum(not p.ok for p in preds))
            for p in preds:
                if p.ok:
                    in_row = same = 0
                    continue
                reason = p.reason or failures.OTHER
                same = same + 1 if in_row and reason == last else 1
                in_row, last = in_row + 1, reason
            limit = opts.max_consecutive_failures
            if limit and same >= limit:
                tr.stopped = (f"stopped after {in_row} consecutive failures "
                              f"({last}); {len(tr.pending) - asked} samples were not "
                              "asked: fix the cause and rerun to ask them")
                break
    return asked


def _ask_batch(model: Any, tr: TaskRun, idx: list[int]) -> list[Prediction]:
    requests = [tr.requests[i] for i in idx]
    t0 = time.perf_counter()
    try:
        outputs = tr.task.call(model, requests)
        if len(outputs) != len(requests):
            raise failures.Failure(
                f"model returned {len(outputs)} outputs for {len(requests)} requests",
                failures.WRONG_COUNT)
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
            pred.fail(f"{type(out).__name__}: {out}"[:MAX_ERROR_CHARS], failures.reason_of(out))
        elif tr.task.capability == "generate" and not isinstance(out, str):
            # Only text is an answer: anything else is the model's failure, never scored.
            pred.fail(f"model returned {type(out).__name__}, not a string of text",
                      failures.NOT_TEXT)
        else:
            pred.output = out
            try:
                pred.extra = tr.task.postprocess(sample, out)
            except Exception as exc:
                pred.output = None
                pred.fail(f"postprocess failed: {type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS],
                          failures.POSTPROCESS)
        preds.append(pred)
    return preds


def _dry_run(tr: TaskRun, console: Any) -> TaskOutcome:
    problems = image_problems(tr)
    if console is not None:
        console.print(
            f"[bold]{tr.task.name}[/]: {len(tr.samples)} samples, {tr.cached} stored, "
            f"{len(tr.pending)} to ask -> {tr.store.folder}"
        )
        if problems:
            console.print(f"  [yellow]{problem_count(problems, len(tr.pending))}[/]")
        if tr.requests:
            console.print(f"  first prompt: {tr.requests[0].prompt!r}")
    return TaskOutcome(tr.task.name, tr.store.folder, None, 0, tr.cached, 0)


def metric_versions(registries: Registries) -> list[tuple[str, str, str]]:
    """Each registered metric's name, version and parameters: scores depend on them."""
    return [(m.name, m.version, repr(sorted(m.params.items()))) for m in registries.metrics]


def rescore(registries: Registries, opts: RunOptions, console: Any = None
            ) -> list[TaskOutcome]:
    """Re-score stored predictions without building the model (``harness score``).

    The model is looked up by the name its results are filed under, so a run
    named with ``--name`` is re-scored by that name and no plugin is needed; the model
    configuration is the one the stored plan recorded.
    """
    name = opts.name or opts.model
    outcomes = []
    for pattern in opts.tasks:
        for tspec in registries.tasks.match(pattern):
            task = build_task(registries, tspec.name, opts.task_options, opts)
            folder = opts.output / folder_of(task, opts.protocol) / model_folder(name)
            if folder.is_dir():  # a run still writing here: refuse now, with its pid
                probe = ResultStore(folder)
                probe.lock()
                probe.close()
            if not (folder / results.RUN).exists():
                raise UsageError(
                    f"no stored run of model '{name}' on task '{task.name}' in {folder}"
                )
            previous = results.read_run(folder / results.RUN)
            key = previous.model_key()
            data_root = opts.data_root or (
                Path(previous.data_root) if previous.data_root else None
            )
            run_opts = RunOptions(
                **{**opts.__dict__, "limit": previous.limit, "data_root": data_root}
            )
            tr = prepare(task, key, run_opts)
            tr.store.lock()  # never score beside a run that is still writing
            try:
                refresh_pending(tr, None, repair=False)
                outcomes.append(finalize(tr, run_opts, None, previous.started,
                                         write_run=False,
                                         metric_versions=metric_versions(registries),
                                         console=console))
            finally:
                tr.store.close()
    return outcomes

"""Scoring a task's stored predictions and writing metrics.json and run.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness import __version__, failures, results, samples
from harness.fingerprint import digest, file_stamp
from harness.progress import Status
from harness.provenance import environment, now
from harness.runstate import MAX_LISTED_FAILURES, RunOptions, TaskOutcome, TaskRun
from harness.task import Task
from harness.types import Prediction


def finalize(
    tr: TaskRun,
    opts: RunOptions,
    model: Any,
    started: str,
    write_run: bool = True,
    metric_versions: Any = None,
    console: Any = None,
) -> TaskOutcome:
    """Score the stored predictions of this run's samples; write metrics.json and run.json.

    A partial result (``--limit``, a metric subset) never replaces a complete one: when the
    folder already holds complete metrics, it is written beside them as
    ``metrics.partial.json`` (and ``run.partial.json``). Scores are reused when nothing
    that shapes them changed (see ``scores_key``), so an unchanged re-score is instant.
    """
    stored = tr.store.load()
    by_id = {s.id: stored[fp] for s, fp in zip(tr.samples, tr.fingerprints, strict=True)
             if fp in stored}
    answered = [p for p in by_id.values() if p.ok]
    failed = [{"id": p.id, "error": p.error or "no answer", "reason": p.reason}
              for p in by_id.values() if not p.ok]
    subset = tr.task.metric_subset()
    partial = (results.Partial(limit=opts.limit, metrics=subset)
               if opts.limit is not None or subset else None)
    metrics_path, run_path = _result_paths(tr.store.folder, partial is not None)
    cache_key = scores_key(tr, opts, by_id, metric_versions)
    samples_path = samples.path_for(metrics_path)
    # The per-sample sidecar is made with the scores: without it they are computed again.
    scores = _cached_scores(metrics_path, cache_key) if samples_path.exists() else None
    fresh, per_sample = scores is None, None
    if scores is not None:
        from harness.judge.judging import reused

        reused(scores)  # judged scores reused: this pass asked the judge nothing
    if scores is None and answered:
        for pred in answered:
            if isinstance(pred.output, dict) and "array_file" in pred.output:
                pred.output = tr.store.load_array_row(pred.output)
        with Status(console, f"scoring {tr.task.name} ({len(answered)} answers)"):
            computed = tr.task.score(tr.samples, {p.id: p for p in answered})
            if isinstance(computed, dict):
                per_sample = computed.pop("per_sample", None)
            scores = results.scores_from_task(computed)
            from harness.judge.judging import judge_task_run

            # a re-score (no model) never calls the judge about calls that failed before
            verdicts = judge_task_run(tr, {p.id: p for p in answered}, scores,
                                      model is not None, console)
            per_sample = samples.merge(per_sample, verdicts)
    elif scores is None:  # nothing to score: the failures say why
        scores = results.Scores(n=0, notes=["no sample was answered: nothing to score"])
    plan = tr.plan
    key = plan.model_key
    record = results.MetricsFile(
        plan=plan, task=plan.task, kind=plan.kind, dataset=plan.dataset, model=plan.model,
        n=len(tr.samples), answered=len(answered), failed=len(failed),
        missing=len(tr.samples) - len(by_id),
        coverage=len(answered) / len(tr.samples) if tr.samples else 0.0,
        scores=scores, partial=partial, failures=failed[:MAX_LISTED_FAILURES],
        failure_summary=failures.summarize((f["id"], f["error"], f["reason"]) for f in failed),
        data=_data_summary(tr.task), task_fingerprint=plan.fingerprint, model_key=key,
        harness_version=__version__, scores_key=cache_key, protocol=plan.protocol,
    )
    if tr.stopped:
        record.warnings.append(tr.stopped)
    if fresh:
        samples.write(samples_path, samples.records(tr.samples, tr.requests, tr.fingerprints,
                                                    per_sample))
    if not write_run:
        results.write(metrics_path, record)
        return TaskOutcome(tr.task.name, tr.store.folder, record, tr.asked, tr.cached, len(failed))
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
        plan=plan,
        environment=environment(),
        seed=plan.seed,
        protocol=plan.protocol,
        task=results.TaskRecord(name=plan.task, config=plan.config, fingerprint=plan.fingerprint,
                                folder=plan.folder, scoring=plan.scoring,
                                options=dict(opts.task_options)),
        decoding=plan.decoding,
        generation=_generation(tr),
        model=results.ModelRecord(
            **key, model_path=opts.model_path, device=opts.device, identity=identity,
            previous_identity=old_identity if old_identity != identity else None,
        ),
        data_root=str(opts.data_root) if opts.data_root else None,
        batch_size=opts.batch_size,
        limit=opts.limit,
        started=started,
        ended=now(),
        counts={"samples": len(tr.samples), "cached": tr.cached, "asked": tr.asked},
        store={"repaired_torn_lines": tr.store.repaired_lines, "bad_lines": tr.store.bad_lines},
        data=tr.task.data_report.to_dict() if tr.task.data_report is not None else None,
    )
    results.write(run_path, run_info)
    return TaskOutcome(tr.task.name, tr.store.folder, record, tr.asked, tr.cached, len(failed))


def scores_key(tr: TaskRun, opts: RunOptions, by_id: dict[str, Prediction],
               metric_versions: Any) -> str:
    """Everything the scores depend on: the task's configuration and options, the samples'
    references, the stored predictions (feature files by size and time), the metrics'
    versions and the harness's version."""
    preds = []
    for p in by_id.values():
        out = p.output
        if isinstance(out, dict) and "array_file" in out:
            out = {**out, "stamp": file_stamp(tr.store.folder / str(out["array_file"]))}
        preds.append((p.id, p.fingerprint, p.error, digest(out, 32)))
    references = [(s.id, s.split, s.label, s.answer, s.modality, repr(sorted(s.meta.items())))
                  for s in tr.samples]
    judge = getattr(tr.task, "judge", None)  # its identity and protocol version (harness/judge)
    return digest({"task": tr.plan.config, "options": opts.task_options,
                   "references": references, "predictions": preds,
                   "metrics": metric_versions, "harness": __version__,
                   **({"judge": judge.digest} if judge is not None else {})}, 32)


def _cached_scores(path: Path, key: str) -> results.Scores | None:
    if not path.exists():
        return None
    try:
        previous = results.read_metrics(path)
    except results.SchemaError:
        return None
    return previous.scores if previous.scores_key == key else None


def _result_paths(folder: Path, partial: bool) -> tuple[Path, Path]:
    """Where this result goes: beside a complete result when it is partial, else the main files."""
    main = folder / results.METRICS
    if partial and main.exists():
        try:
            if results.read_metrics(main).complete:
                return folder / results.PARTIAL_METRICS, folder / results.PARTIAL_RUN
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


def _generation(tr: TaskRun) -> dict[str, Any] | None:
    """The arguments generate() receives, under transformers' names (seed: torch's)."""
    if tr.plan.capability != "generate" or not tr.requests:
        return None
    decoding = tr.requests[0].decoding
    return {**decoding.generate_kwargs(), "seed": decoding.seed}


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

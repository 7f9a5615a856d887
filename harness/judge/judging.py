"""Judging a task's stored answers: ask what the store lacks, parse, score.

The judge model's own ``generate`` does the batching and concurrency (an API judge keeps
its ``concurrency`` requests in flight, with its own retries and rate limit); each batch's
calls are appended to ``judgements.jsonl`` as soon as it returns, so a killed run loses at
most the batch in flight, and the next run asks only what is not stored. A re-score finds
every verdict stored and never builds the judge.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.judge.config import JudgeConfig
from harness.judge.protocols import Call, Pair, ParseError
from harness.judge.store import Judgement, JudgeStore
from harness.plan import safe_name
from harness.progress import Progress
from harness.results import FailureGroup, MetricInfo, Scores
from harness.types import Request

MAX_ERROR_CHARS = 300
MAX_REASON_CHARS = 2000  # of a reply shown per sample in samples.jsonl
UNPARSEABLE = "judge reply unparseable"
CALL_FAILED = "judge call failed"
NOT_JUDGED = "not judged"
HINTS = {
    UNPARSEABLE: "the judge answered outside the protocol's format; its replies are in "
                 "judgements.jsonl. A stronger judge, or a protocol it follows, fixes it",
    CALL_FAILED: "the judge (its server) failed or refused; `harness run` asks failed calls "
                 "again (`harness score` never calls the judge for them)",
    NOT_JUDGED: "judging stopped before these were asked: rerun to ask them",
}


@dataclass
class Judged:
    values: dict[str, dict[str, float]]  # sample id -> the protocol's per-sample values
    failures: list[tuple[str, str, str]]  # (sample id, reason group, message)
    asked: int = 0  # judge calls made by this pass
    stored: int = 0  # calls found in the store
    usage: dict[str, float] = field(default_factory=dict)  # behind the verdicts used
    replies: dict[str, str] = field(default_factory=dict)  # sample id -> the judge's reply


def call_key(config: JudgeConfig, call: Call) -> str:
    """(judge identity, protocol and version, prompt with the pair's inputs)."""
    # config.digest holds the judge's key and the protocol's name and version; the role
    # too: when answer and reference are one text, both orders read alike. Fields joined by
    # NUL (in no prompt) and hashed directly: a re-score computes one key per stored call.
    text = "\0".join((config.digest, call.role, call.system or "", call.prompt))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def judge_pairs(config: JudgeConfig, pairs: Sequence[Pair], folder: Path,
                retry_failed: bool = True, console: Any = None,
                batch_size: int | None = None) -> Judged:
    """Verdicts for ``pairs``: stored ones reused, missing ones asked (failed ones too, with
    ``retry_failed``), each reply parsed by the protocol."""
    protocol = config.protocol
    planned = [(pair, call, call_key(config, call)) for pair in pairs
               for call in protocol.calls(pair)]
    store = JudgeStore(folder)
    store.lock()
    try:
        stored = store.load(repair=True)
        todo = [(pair, call, key) for pair, call, key in planned
                if key not in stored or (retry_failed and not stored[key].ok)]
        asked = _ask(config, todo, store, stored, console, batch_size) if todo else 0
    finally:
        store.close()
    judged = Judged(values={}, failures=[], asked=asked, stored=len(planned) - len(todo))
    by_pair: dict[str, list[tuple[Call, str]]] = {}
    for pair, call, key in planned:
        by_pair.setdefault(pair.sample_id, []).append((call, key))
    for pair in pairs:
        parsed: dict[str, dict[str, float]] = {}
        failure: tuple[str, str] | None = None
        for call, key in by_pair[pair.sample_id]:
            j = stored.get(key)
            if j is None:
                failure = (NOT_JUDGED, f"{NOT_JUDGED}: the {call.role} call was never asked")
                break
            for k, v in j.usage.items():
                judged.usage[k] = judged.usage.get(k, 0.0) + float(v)
            if not j.ok:
                failure = (CALL_FAILED, f"{CALL_FAILED} ({call.role}): {j.error}")
                break
            try:
                parsed[call.role] = protocol.parse(call.role, str(j.reply))
            except ParseError as exc:
                failure = (UNPARSEABLE, f"{UNPARSEABLE} ({call.role}): {exc}")
                break
        if failure is None:
            judged.values[pair.sample_id] = protocol.combine(parsed)
            calls = by_pair[pair.sample_id]  # a reply per call, named by role when several
            judged.replies[pair.sample_id] = "\n".join(
                f"[{call.role}] {stored[key].reply}" if len(calls) > 1 else str(stored[key].reply)
                for call, key in calls)
        else:
            judged.failures.append((pair.sample_id, *failure))
    return judged


IDENTITIES = "judges.json"  # judge digest -> the built judge's identity(), beside the verdicts


def remember_identity(folder: Path, config: JudgeConfig) -> None:
    """The built judge's identity (served model id, SDK, ...) is known only when it is built:
    kept beside its verdicts, so a re-score that never builds it still reports it."""
    from harness.store import atomic_write_json

    path = folder / IDENTITIES
    known = _identities(folder)
    known[config.digest] = config.identity
    atomic_write_json(path, known)


def _identities(folder: Path) -> dict[str, Any]:
    import json

    try:
        data = json.loads((folder / IDENTITIES).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # none yet, or unreadable: provenance only, rewritten on the next build
    return data if isinstance(data, dict) else {}


def _ask(config: JudgeConfig, todo: list[tuple[Pair, Call, str]], store: JudgeStore,
         stored: dict[str, Judgement], console: Any, batch_size: int | None) -> int:
    model = config.build()
    remember_identity(store.folder, config)
    try:
        size = batch_size or int(getattr(model, "batch_size_hint", None) or 32)
        label = f"judging · {config.name} · {config.protocol.name}"
        with Progress(console, label, total=len(todo)) as bar:
            for start in range(0, len(todo), size):
                batch = todo[start : start + size]
                lines = _ask_batch(config, model, batch)
                store.append(lines)
                stored.update((j.key, j) for j in lines)
                bar.advance(len(batch), failed=sum(not j.ok for j in lines))
    finally:
        if hasattr(model, "close"):
            model.close()
    return len(todo)


def _ask_batch(config: JudgeConfig, model: Any, batch: list[tuple[Pair, Call, str]]
               ) -> list[Judgement]:
    requests = [Request(sample_id=f"{pair.sample_id}#{call.role}", prompt=call.prompt,
                        system=call.system, decoding=config.decoding)
                for pair, call, _ in batch]
    before = _usage(model)
    t0 = time.perf_counter()
    try:
        outputs: list[Any] = list(model.generate(requests))
        if len(outputs) != len(requests):
            raise RuntimeError(f"judge returned {len(outputs)} outputs for {len(requests)} "
                               "requests")
    except Exception as exc:  # the whole batch failed: each call records why
        outputs = [exc] * len(requests)
    per = (time.perf_counter() - t0) / len(batch)
    after = _usage(model)
    share = {k: (after.get(k, 0.0) - before.get(k, 0.0)) / len(batch) for k in after}
    lines = []
    protocol = f"{config.protocol.name}@{config.protocol.version}"
    for (pair, call, key), out in zip(batch, outputs, strict=True):
        j = Judgement(key=key, sample_id=pair.sample_id, role=call.role, judge=config.digest,
                      protocol=protocol, judge_name=config.name, seconds=round(per, 6),
                      usage=share)
        if isinstance(out, BaseException):
            j.error = f"{type(out).__name__}: {out}"[:MAX_ERROR_CHARS]
        elif not isinstance(out, str):
            j.error = f"judge returned {type(out).__name__}, not text"
        else:
            j.reply = out
        lines.append(j)
    return lines


def _usage(model: Any) -> dict[str, float]:
    """The judge's running token counts, where it keeps them (``usage``: name -> count)."""
    usage = getattr(model, "usage", None)
    return {str(k): float(v) for k, v in usage.items()} if isinstance(usage, dict) else {}


# ----------------------------------------------------------------------- into the Scores

def judged_key(config: JudgeConfig) -> str:
    """The judged score's name in ``Scores.overall``: protocol and judge, e.g.
    ``llava-med@rule-judge`` (a leaderboard column of its own per judge)."""
    return f"{config.protocol.name}@{config.name}"


def add_to_scores(config: JudgeConfig, judged: Judged, scores: Scores, n_samples: int,
                  modality: dict[str, str] | None = None) -> dict[str, Any]:
    """The judged headline into ``scores.overall`` (per modality into ``groups``), the rest
    into ``scores.extras["judge"]``; returns that extras entry."""
    protocol = config.protocol
    key = judged_key(config)
    values = list(judged.values.values())
    summary = protocol.summarize(values)
    headline = summary.get(protocol.headline)
    scores.overall[key] = None if headline is None else headline * protocol.to_fraction
    scores.metrics[key] = MetricInfo(
        version=f"{protocol.name}@{protocol.version}", higher_is_better=True,
        params={"judge": config.key(), "protocol": protocol.record()},
        description=f"judged by {config.name}: {protocol.description} ({protocol.scale})")
    if modality is not None and "modality" in scores.groups:
        groups: dict[str, list[float]] = {}
        for sample_id, v in judged.values.items():
            groups.setdefault(modality.get(sample_id, "unknown"), []).append(v[protocol.headline])
        for name, vals in groups.items():
            scores.groups["modality"].setdefault(name, {})[key] = (
                sum(vals) / len(vals) * protocol.to_fraction)
    tokens = {k: round(v, 3) for k, v in judged.usage.items()}
    cost = None
    if config.prices is not None:
        p_in, p_out = config.prices
        cost = (tokens.get("prompt_tokens", 0.0) * p_in
                + tokens.get("completion_tokens", 0.0) * p_out) / 1e6
    entry = {
        "key": key, "judge": config.record(), "identity": config.identity,
        "samples": n_samples,
        "answered": len(values) + len(judged.failures), "judged": len(values),
        "failed": len(judged.failures),
        "coverage": len(values) / n_samples if n_samples else 0.0,
        "overall": summary,
        "failure_summary": [g.model_dump() for g in _groups(judged.failures)],
        "failures": [{"id": i, "error": m} for i, _, m in judged.failures[:50]],
        "calls": {"asked": judged.asked, "stored": judged.stored},
        "tokens": tokens, "cost_usd": cost,
        # each sample's headline value (the rest of its values: `harness judge agreement`)
        "per_sample": {i: round(v[protocol.headline], 6) for i, v in judged.values.items()},
    }
    scores.extras.setdefault("judge", {})[key] = entry
    return entry


def sample_fields(config: JudgeConfig, judged: Judged) -> dict[str, dict[str, Any]]:
    """Each judged sample's verdict (the protocol's per-sample headline) and the reason (the
    judge's reply, or why there is no verdict), for samples.jsonl: the report shows them."""
    key = judged_key(config)
    headline = config.protocol.headline
    out: dict[str, dict[str, Any]] = {}
    for sample_id, values in judged.values.items():
        out[sample_id] = {"scores": {key: values[headline]},
                          "fields": {f"{key} verdict": _verdict(values[headline], headline),
                                     f"{key} reason": judged.replies.get(sample_id, "")
                                     [:MAX_REASON_CHARS]}}
    for sample_id, _reason, message in judged.failures:
        out[sample_id] = {"scores": {key: None},
                          "fields": {f"{key} verdict": "failed",
                                     f"{key} reason": message[:MAX_REASON_CHARS]}}
    return out


def _verdict(value: float, headline: str) -> str:
    if headline == "correct":  # the binary protocol: 1 or 0
        return "correct" if value >= 0.5 else "wrong"
    return f"{value:.4g}"


def reused(scores: Scores) -> None:
    """Scores reused unchanged by a re-score: their judged entries made no call this time."""
    for entry in (scores.extras.get("judge") or {}).values():
        calls = entry.get("calls") or {}
        entry["calls"] = {"asked": 0,
                          "stored": int(calls.get("asked", 0)) + int(calls.get("stored", 0))}


def _groups(failures: list[tuple[str, str, str]]) -> list[FailureGroup]:
    groups: dict[str, FailureGroup] = {}
    for sample_id, reason, message in failures:
        if reason in groups:
            groups[reason].count += 1
        else:
            groups[reason] = FailureGroup(reason=reason, count=1, example_id=sample_id,
                                          example_error=message[:300], hint=HINTS[reason])
    return sorted(groups.values(), key=lambda g: (-g.count, g.reason))


def pair_of(sample: Any, question: str, output: Any, reference: str | None = None) -> Pair:
    """What the judge is shown of one answered sample (the image as its caption, where the
    dataset has one, else its modality: LLaVA-Med's judge reads no image). The reference is
    the sample's answer unless the task gives another (``judge_reference``)."""
    ref = sample.answer or "" if reference is None else reference
    return Pair(sample.id, question, ref, "" if output is None else str(output),
                caption=str(sample.meta.get("caption") or sample.modality or ""))


def judge_task_run(tr: Any, answered: dict[str, Any], scores: Scores, retry_failed: bool,
                   console: Any = None) -> dict[str, dict[str, Any]]:
    """finalize's hook: judge the answered samples of a task that has a judge configured
    (``task.judge``, a JudgeConfig), and add the judged scores to ``scores``; returns each
    sample's verdict and reason for samples.jsonl (empty without a judge)."""
    config = getattr(tr.task, "judge", None)
    if config is None:
        return {}
    pairs = []
    modality = {}
    # a task with several references (DermaVQA) says which one the judge compares against
    reference_of = getattr(tr.task, "judge_reference", None)
    for sample, request in zip(tr.samples, tr.requests, strict=True):
        pred = answered.get(sample.id)
        if pred is None:
            continue
        reference = reference_of(sample) if reference_of is not None else None
        pairs.append(pair_of(sample, request.prompt, pred.output, reference))
        modality[sample.id] = sample.modality or "unknown"
    judged = judge_pairs(config, pairs, tr.store.folder, retry_failed, console)
    if config.identity is None:  # not built now: the identity it had when it was
        config.identity = _identities(tr.store.folder).get(config.digest)
    entry = add_to_scores(config, judged, scores, len(tr.samples), modality)
    if tr.store.folder.name == safe_name(config.name).replace("/", "_"):
        note = (f"{entry['key']}: the judge is the model judged; judges rate their own "
                "answers higher (self-preference), so this score flatters it")
        scores.notes.append(note)
        entry["self_judged"] = True
    return sample_fields(config, judged)

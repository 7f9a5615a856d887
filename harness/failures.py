"""Why samples failed, grouped, with what to do about each reason.

Every failed sample keeps its own error in ``predictions.jsonl``; this module sorts those
errors into a handful of reasons a user can act on, for the console summary and
``metrics.json``'s ``failure_summary``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from harness.results import FailureGroup

# Reasons the harness gives itself, when it captures the failure.
IMAGE_MISSING = "image missing"
IMAGE_UNREADABLE = "image unreadable"
SERVER_UNREACHABLE = "model server unreachable"
SERVER_ERROR = "model server answered with an error"
SERVER_REFUSED = "model server refused the request"
WRONG_COUNT = "plugin returned the wrong number of outputs"
NOT_TEXT = "plugin returned something other than text"
POSTPROCESS = "task could not read the answer"
OUT_OF_MEMORY = "out of memory"
OTHER = "other error"


class Failure(Exception):
    """An error that knows its reason (one of the names above, or a plugin's own).

    A plugin may raise it, or give any exception a ``failure_reason`` attribute, to say
    why a sample failed; the harness reads the reason when it captures the failure."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.failure_reason = reason


def reason_of(exc: BaseException) -> str:
    """Why a sample failed, from the exception itself (never from its message's wording):
    a declared ``failure_reason``, an HTTP ``status``, or the exception's type."""
    declared = getattr(exc, "failure_reason", None)
    if isinstance(declared, str) and declared:
        return declared
    status = getattr(exc, "status", None) or getattr(exc, "status_code", None)
    if isinstance(status, int):
        if status >= 500:
            return SERVER_ERROR
        if status in (401, 403, 404, 429):
            return SERVER_REFUSED
    names = {c.__name__ for c in type(exc).__mro__}
    if isinstance(exc, MemoryError) or "OutOfMemoryError" in names:
        return OUT_OF_MEMORY
    if names & {"UnidentifiedImageError", "DecompressionBombError"}:  # PIL's, by type
        return IMAGE_UNREADABLE
    if isinstance(exc, ConnectionError | TimeoutError):
        return SERVER_UNREACHABLE
    return type(exc).__name__


@dataclass(frozen=True)
class Reason:
    name: str
    hint: str
    pattern: re.Pattern[str]


REASONS = (
    Reason(IMAGE_MISSING, "check --data-root and run `harness data check --data-root DIR "
           "DATASET`; the model was not asked about these samples",
           re.compile(rf"^{IMAGE_MISSING}\b|FileNotFoundError|No such file")),
    Reason(IMAGE_UNREADABLE, "the file exists but is not an image the harness can read "
           "(permissions, a symlink loop, a truncated or foreign file)",
           re.compile(rf"^{IMAGE_UNREADABLE}\b|UnidentifiedImageError|PermissionError|"
                      r"Symlink loop|Too many levels of symbolic links|truncated")),
    Reason("model server unreachable", "is the server running and is -M base_url right? "
           "Rerun once it answers: only failed samples are asked again",
           re.compile(r"Connection|connect|Timeout|timed out|unreachable|Name or service",
                      re.I)),
    Reason("model server answered with an error", "server errors that pass are retried by "
           "rerunning the same command; lasting ones are in the server's log",
           re.compile(r"HTTP 5\d\d|\b50[0-4]\b.*(error|unavailable)|Internal Server Error",
                      re.I)),
    Reason("model server refused the request", "check the API key (-M api_key_env), the "
           "model id and the account's quota",
           re.compile(r"\b(401|403|404|429)\b|Unauthorized|Forbidden|quota|rate limit", re.I)),
    Reason("plugin returned the wrong number of outputs", "a bug in the model plugin: report "
           "it to the plugin's author", re.compile(r"outputs for \d+ requests")),
    Reason("plugin returned something other than text", "a bug in the model plugin: "
           "generate() must return one str (or Exception) per request",
           re.compile(r"not a string of text")),
    Reason("task could not read the answer", "a bug in the task's postprocessing: report it",
           re.compile(r"^postprocess failed")),
    Reason("out of memory", "lower --batch-size, or use a smaller dtype (-M dtype=...)",
           re.compile(r"out of memory|OutOfMemoryError|MemoryError", re.I)),
)
OTHER_HINT = "each sample's full error is in predictions.jsonl"


HINTS = {r.name: r.hint for r in REASONS}


def hint_for(reason: str) -> str:
    return HINTS.get(reason, OTHER_HINT)


def classify(error: str) -> tuple[str, str]:
    """(reason, hint) guessed from an error message: only for lines stored before failures
    carried their reason (``Prediction.reason``)."""
    for reason in REASONS:
        if reason.pattern.search(error):
            return reason.name, reason.hint
    kind = error.split(":", 1)[0].strip() or "error"
    return (kind if re.fullmatch(r"[A-Za-z_][\w.]*", kind) else "other error"), OTHER_HINT


def summarize(failures: Iterable[tuple[str, str, str | None]]) -> list[FailureGroup]:
    """Failures as (sample id, error, stored reason) grouped by reason, largest group first."""
    groups: dict[str, FailureGroup] = {}
    for sample_id, error, reason in failures:
        name, hint = (reason, hint_for(reason)) if reason else classify(error)
        group = groups.get(name)
        if group is None:
            groups[name] = FailureGroup(reason=name, count=1, example_id=sample_id,
                                        example_error=error[:300], hint=hint)
        else:
            group.count += 1
    return sorted(groups.values(), key=lambda g: (-g.count, g.reason))


def summary_lines(task: str, n: int, groups: list[FailureGroup], missing: int = 0) -> list[str]:
    """The console's account of one task's failures (and of samples never asked)."""
    failed = sum(g.count for g in groups)
    lines = [f"{task}: {failed} of {n} samples failed"
             + (f", {missing} not asked" if missing else "")]
    for g in groups:
        lines.append(f"  {g.count} × {g.reason} (first: {g.example_id}: {g.example_error})")
        lines.append(f"      -> {g.hint}")
    return lines

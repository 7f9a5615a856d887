"""Checks made before a model is asked: every image a request names must be readable.

Samples whose images cannot be read fail at once with the reason, and are never sent to
the model; a task none of whose images exist is a usage error (a wrong --data-root).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from harness import failures
from harness.errors import UsageError
from harness.runstate import MAX_ERROR_CHARS, TaskRun
from harness.types import Prediction


def image_problem(path: Path) -> str | None:
    """Why an image cannot be given to a model, checked without decoding it (cheap)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return f"{failures.IMAGE_MISSING}: {path}"
    except (OSError, RuntimeError) as exc:  # ELOOP, EACCES on a parent, ...
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return f"{failures.IMAGE_UNREADABLE}: {path} ({reason})"
    if not stat.S_ISREG(st.st_mode):
        return f"{failures.IMAGE_UNREADABLE}: {path} (not a file)"
    if st.st_size == 0:
        return f"{failures.IMAGE_UNREADABLE}: {path} (empty file)"
    if not os.access(path, os.R_OK):
        return f"{failures.IMAGE_UNREADABLE}: {path} (permission denied)"
    return None


def image_problems(tr: TaskRun) -> dict[int, str]:
    """The pending samples whose images cannot be read, with why."""
    out: dict[int, str] = {}
    for i in tr.pending:
        for image in tr.requests[i].images:
            problem = image_problem(Path(image))
            if problem is not None:
                out[i] = problem
                break
    return out


def problem_count(problems: dict[int, str], pending: int) -> str:
    first = next(iter(problems.values()))
    return (f"{len(problems)} of {pending} samples to ask have an image that is missing or "
            f"unreadable (first: {first}); they are recorded as failures, not asked")


def record_image_problems(tr: TaskRun, console: Any) -> None:
    """Samples whose images cannot be read fail at once, with the reason: never asked."""
    problems = image_problems(tr)
    if not problems:
        return
    missing = [e for e in problems.values() if e.startswith(failures.IMAGE_MISSING)]
    if len(missing) == len(tr.pending) and tr.cached == 0 and tr.task.data_file is not None:
        raise UsageError(
            f"task '{tr.task.name}': none of its {len(missing)} images exist (first: "
            f"{missing[0].partition(': ')[2]}); image paths in {tr.task.data_file} are read "
            "relative to its folder")
    if len(missing) == len(tr.pending) and tr.cached == 0:
        raise UsageError(
            f"task '{tr.task.name}': none of its {len(missing)} images exist (first: "
            f"{missing[0].partition(': ')[2]}); check --data-root (`harness data check "
            f"--data-root DIR {tr.task.dataset}` lists what is found)"
        )
    if console is not None:
        console.print(f"[yellow]warning[/]: {tr.task.name}: "
                      f"{problem_count(problems, len(tr.pending))}")
    tr.store.append([Prediction(id=tr.samples[i].id, fingerprint=tr.fingerprints[i],
                                error=error[:MAX_ERROR_CHARS], reason=error.partition(":")[0])
                     for i, error in problems.items()])
    tr.pending = [i for i in tr.pending if i not in problems]

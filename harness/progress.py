"""Progress for long work: a rich bar on a terminal, plain lines in a log file, silence without
a console (tests, libraries).

A run redirected to a file (``harness run ... 2> run.log``, a batch job) writes a line at
least every ``PLAIN_EVERY`` seconds and at each tenth of the work (no closer than
``PLAIN_MIN_GAP``), so the log shows how far it got.
"""

from __future__ import annotations

import time
from typing import Any

PLAIN_EVERY = 30.0  # seconds between plain progress lines at the most
PLAIN_MIN_GAP = 5.0  # ... and at the least (a short task: its start and end lines only)


class Progress:
    def __init__(self, console: Any, label: str, total: int) -> None:
        self.console = console
        self.label = label
        self.total = total
        self.done = 0
        self.failed = 0
        self._bar: Any = None
        self._task: Any = None
        self._plain = console is not None and not getattr(console, "is_terminal", False)
        self._start = self._last = time.monotonic()
        self._last_tenth = 0
        self._printed = -1  # the count of the latest plain line

    def __enter__(self) -> Progress:
        if self.console is None:
            return self
        if self._plain:
            self._line("started")
            return self
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as RichProgress

        self._bar = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failed]} failed"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self._bar.__enter__()
        self._task = self._bar.add_task(self.label, total=self.total, failed=0)
        return self

    def advance(self, n: int, failed: int = 0) -> None:
        self.done += n
        self.failed += failed
        if self._bar is not None:
            self._bar.update(self._task, advance=n, failed=self.failed)
        elif self._plain:
            now = time.monotonic()
            tenth = 10 * self.done // max(self.total, 1)
            if now - self._last >= PLAIN_EVERY or (
                    tenth > self._last_tenth and now - self._last >= PLAIN_MIN_GAP):
                self._last, self._last_tenth = now, tenth
                self._line("")

    def _line(self, word: str) -> None:
        elapsed = time.monotonic() - self._start
        pct = 100 * self.done / self.total if self.total else 100.0
        left = ""
        if 0 < self.done < self.total:
            left = f", about {_duration(elapsed * (self.total - self.done) / self.done)} left"
        text = (f"{self.label}: {self.done}/{self.total} ({pct:.0f}%), {self.failed} failed, "
                f"{_duration(elapsed)} elapsed{left}")
        self.console.print(f"{text} {word}".rstrip(), markup=False, highlight=False,
                           soft_wrap=True)
        self._printed = self.done

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
        elif self._plain and (self._printed != self.done or exc[0] is not None):
            self._line("done" if exc[0] is None else "stopped")


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class Status:
    """A one-line account of a step without a count (scoring): start and end lines."""

    def __init__(self, console: Any, text: str) -> None:
        self.console, self.text = console, text
        self._start = 0.0

    def __enter__(self) -> Status:
        self._start = time.monotonic()
        if self.console is not None:
            self.console.print(f"{self.text} ...", markup=False, highlight=False, soft_wrap=True)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.console is not None and exc[0] is None:
            took = _duration(time.monotonic() - self._start)
            self.console.print(f"{self.text}: done in {took}", markup=False, highlight=False,
                               soft_wrap=True)

"""A rich progress bar for long work, silent when there is no console (tests, libraries)."""

from __future__ import annotations

from typing import Any


class Progress:
    def __init__(self, console: Any, label: str, total: int) -> None:
        self.console = console
        self.label = label
        self.total = total
        self.failed = 0
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> Progress:
        if self.console is not None:
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
        self.failed += failed
        if self._bar is not None:
            self._bar.update(self._task, advance=n, failed=self.failed)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)

"""Prints what the reliability suite tried, at the end of the pytest run."""

from __future__ import annotations

from typing import Any

from tests.reliability.counts import COUNTS

LABELS = (
    ("crash_points_survived", "crash points survived"),
    ("bad_inputs_tried", "bad inputs tried"),
    ("fault_modes_survived", "fault modes survived"),
    ("secrets_leaked", "secrets leaked (must be 0)"),
)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not COUNTS:
        return
    terminalreporter.section("reliability summary")
    for key, label in LABELS:
        terminalreporter.write_line(f"{label}: {COUNTS.get(key, 0)}")

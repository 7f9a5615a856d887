"""The protocols a run follows: ``paper`` (the authors' released code) or ``sound``.

Tasks, model plugins and training recipes read their settings here, never from
literals of their own, so that ``docs/fidelity.md`` (rendered from the same data by
``python -m harness.protocol``) says what every run did. ``--protocol`` selects the
set; ``-T``/``-M`` options still override single settings.
"""

from __future__ import annotations

from typing import Any

from harness.errors import UsageError
from harness.protocol.candidates import CANDIDATES
from harness.protocol.settings import (
    AUTHORS,
    BY_KEY,
    DEFAULT_PROTOCOL,
    PROTOCOLS,
    SETTINGS,
    Setting,
)

__all__ = ["AUTHORS", "BY_KEY", "CANDIDATES", "DEFAULT_PROTOCOL", "PROTOCOLS", "SETTINGS",
           "Setting", "candidates", "check", "default_decoding", "value"]


def check(protocol: Any, where: str = "--protocol") -> str:
    """The protocol name, or a UsageError saying which ones exist."""
    if protocol not in PROTOCOLS:
        raise UsageError(
            f"{where}: unknown protocol {protocol!r} (choose {' or '.join(PROTOCOLS)})")
    return str(protocol)


def value(key: str, protocol: str) -> Any:
    """A setting's value under ``protocol``."""
    return BY_KEY[key].value(check(protocol))


def default_decoding(kind: str, protocol: str) -> str:
    """The decoding preset a ``vqa`` or ``zeroshot`` task sends under ``protocol`` unless
    told otherwise: the authors' script's (``paper-<kind>``), or greedy."""
    return f"paper-{kind}" if value(f"{kind}.decoding.do_sample", protocol) else "greedy"


def candidates(dataset: str) -> tuple[str, ...] | None:
    """The authors' zero-shot candidates for a dataset, in their order (None: none listed)."""
    return CANDIDATES.get(dataset)

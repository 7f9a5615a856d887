"""Parsing option values given as text (`-M key=value`, `-T key=value`)."""

from __future__ import annotations

from typing import Any

TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")


def parse_bool(value: Any) -> bool:
    """true/false from a bool or its usual spellings; ValueError otherwise."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise ValueError(f"{value!r} is not true/false")

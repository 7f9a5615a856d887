"""Name -> spec lookup for models, tasks, metrics and datasets, with aliases and suggestions."""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
from collections.abc import Iterator
from typing import Generic, TypeVar

from harness.errors import DuplicateNameError, UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Specs of one kind keyed by name; aliases resolve to the same spec."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._specs: dict[str, T] = {}
        self._aliases: dict[str, str] = {}

    def check_new(self, spec: T) -> None:
        """DuplicateNameError naming both plugins if the spec's name or an alias is taken."""
        plugin = spec.plugin  # type: ignore[attr-defined]
        for key in (spec.name, *spec.aliases):  # type: ignore[attr-defined]
            owner = self._owner(key)
            if owner is not None:
                raise DuplicateNameError(
                    f"{self.kind} name '{key}' is registered twice: by plugin '{owner}' "
                    f"and by plugin '{plugin}'"
                )

    def add(self, spec: T) -> None:
        self.check_new(spec)
        name = spec.name  # type: ignore[attr-defined]
        self._specs[name] = spec
        for alias in spec.aliases:  # type: ignore[attr-defined]
            self._aliases[alias] = name

    def remove(self, name: str) -> None:
        spec = self._specs.pop(name)
        for alias in spec.aliases:  # type: ignore[attr-defined]
            self._aliases.pop(alias, None)

    def _owner(self, key: str) -> str | None:
        if key in self._specs:
            return self._specs[key].plugin  # type: ignore[attr-defined]
        if key in self._aliases:
            return self._specs[self._aliases[key]].plugin  # type: ignore[attr-defined]
        return None

    def __contains__(self, key: str) -> bool:
        return key in self._specs or key in self._aliases or self._prefixed(key) is not None

    def __iter__(self) -> Iterator[T]:
        return iter(sorted(self._specs.values(), key=lambda s: s.name))  # type: ignore[attr-defined]

    def __len__(self) -> int:
        return len(self._specs)

    def names(self) -> list[str]:
        return sorted(self._specs)

    def get(self, key: str) -> T:
        if key in self._specs:
            return self._specs[key]
        if key in self._aliases:
            return self._specs[self._aliases[key]]
        prefixed = self._prefixed(key)
        if prefixed is not None:
            return prefixed
        raise UnknownNameError(self._unknown_message(key))

    def _prefixed(self, key: str) -> T | None:
        """``openai:gpt-4o`` resolves through a spec registered as ``openai:*``.

        The resolved spec carries the full name (its factory reads the part after the
        prefix from it), so results go to a folder of their own.
        """
        prefix, sep, rest = key.partition(":")
        if not sep or not rest or rest == "*":
            return None
        spec = self._specs.get(f"{prefix}:*")
        if spec is None or not hasattr(spec, "factory"):
            return None
        return dataclasses.replace(spec, name=key, aliases=())  # type: ignore[type-var]

    def match(self, pattern: str) -> list[T]:
        """Resolve a name, an alias or a glob (``zeroshot/*``) to one or more specs."""
        if any(ch in pattern for ch in "*?["):
            found = [s for n, s in sorted(self._specs.items()) if fnmatch.fnmatchcase(n, pattern)]
            if not found:
                raise UnknownNameError(f"no {self.kind} matches '{pattern}'")
            return found
        return [self.get(pattern)]

    def _unknown_message(self, key: str) -> str:
        candidates = list(self._specs) + list(self._aliases)
        close = difflib.get_close_matches(key, candidates, n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        listing = f" (see `harness list {self.kind}s`)" if not close else ""
        return f"unknown {self.kind} '{key}'{hint}{listing}"

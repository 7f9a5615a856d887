"""Typed options for models (``-M key=value``) and tasks (``-T key=value``).

A plugin declares its options once, as a class (pydantic does the conversion from the
command line's text and the checking):

    class Options(harness.options.Options):
        dtype: Literal["auto", "fp32", "fp16", "bf16"] = Field("auto", description="...")
        batch_size: PositiveInt = Field(4, description="samples per forward pass")

    ModelSpec(name=..., factory=make, options=Options)

The harness parses what the user typed into that class before any work, turns every
mistake into one sentence naming the option, and prints the declared fields in
``harness list models --verbose`` and ``harness run --help-model NAME``.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError

from harness.errors import UsageError


class Options(BaseModel):
    """The base of every plugin's options: no field means the plugin takes no options."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)
    # Fields that change how requests are sent, never what is answered (concurrency, rate
    # limits, time-outs): left out of the request fingerprint, so changing them on resume
    # re-asks nothing.
    runtime: ClassVar[tuple[str, ...]] = ()
    # Names refused with a sentence of their own (an API key given as an option, say).
    refused: ClassVar[dict[str, str]] = {}

    def given(self) -> dict[str, Any]:
        """The options the user set (parsed), without the runtime ones: what shapes answers."""
        return {k: v for k, v in self.model_dump(mode="json", exclude_unset=True).items()
                if k not in self.runtime}


@dataclass(frozen=True)
class OptionInfo:
    name: str
    type: str
    default: Any
    help: str


def describe(cls: type[Options]) -> list[OptionInfo]:
    """The declared fields, for help texts."""
    out = []
    for name, field in cls.model_fields.items():
        default = None if field.is_required() else field.get_default(call_default_factory=True)
        out.append(OptionInfo(name, _type_name(field.annotation), default,
                              field.description or ""))
    return out


def parse(cls: type[Options], raw: Mapping[str, Any], owner: str, flag: str) -> Options:
    """``raw`` (text from the command line, or values) as ``cls``; a UsageError sentence
    naming the option otherwise. ``owner`` is e.g. "model 'llava-med-7b'", ``flag`` -M or -T.
    """
    known = list(cls.model_fields)
    for key in raw:
        if key.lower() in cls.refused:
            raise UsageError(f"{owner} {cls.refused[key.lower()]}")
    unknown = [k for k in raw if k not in cls.model_fields]
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(key, known, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        listed = ", ".join(known) if known else "none"
        raise UsageError(f"{owner} has no option {flag} {key}{hint} (its options: {listed})")
    try:
        return cls.model_validate(dict(raw))
    except ValidationError as exc:
        error = exc.errors()[0]
        key = str(error["loc"][0]) if error["loc"] else "?"
        value = raw.get(key, "")
        raise UsageError(
            f"{owner}: option {flag} {key}={value!r} is not valid ({_message(error)})"
        ) from None


def _message(error: Mapping[str, Any]) -> str:
    text = str(error.get("msg", "invalid"))
    return text[0].lower() + text[1:] if text else "invalid"


def _type_name(annotation: Any) -> str:
    """``auto|fp32|bf16`` for a choice, ``int``, ``str`` (optional ones without ``| None``)."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return "|".join(str(a) for a in args)
    if args and origin is not None:  # Optional[X], Annotated[X, ...], X | None
        named = [_type_name(a) for a in args if a is not type(None)]
        if named and all(n != "NoneType" for n in named):
            return named[0] if len(named) == 1 or origin is Annotated else " | ".join(named)
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")

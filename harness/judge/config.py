"""Which judge, under which protocol: built from a task's ``-T judge*`` options.

The judge is any registered model that can ``generate``, looked up in the model registry
the harness hands the task (``TaskContext.models``). Its identity (registry name, model,
checkpoint, options that shape answers, decoding) is known without building it, so stored
verdicts are found, and a re-score makes no call, without loading the judge at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import Field

from harness.errors import UsageError
from harness.fingerprint import digest
from harness.judge.protocols import DEFAULT_PROTOCOL, Protocol, get
from harness.options import Options
from harness.types import Decoding


class JudgeOptions(Options):
    """The ``-T judge*`` options, shared by every task kind that judges its answers."""

    judge: str | None = Field(
        None, description="a registered model that judges the answers (docs/judges.md)")
    judge_options: str | None = Field(
        None, description="the judge's options, KEY=VALUE[,KEY=VALUE...]")
    judge_protocol: str | None = Field(
        None, description="llava-med (default), binary or rubric")
    judge_prices: str | None = Field(
        None, description="IN,OUT: the judge's dollars per million tokens, for the cost")


def parse_pairs(text: str | None, option: str) -> dict[str, str]:
    """``k=v,k=v`` (``-T judge_options=base_url=http://...,model_id=x``) as a dict."""
    out: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"-T {option} expects KEY=VALUE[,KEY=VALUE...], got {part!r}")
        out[key.strip()] = value.strip()
    return out


def parse_prices(text: str | None) -> tuple[float, float] | None:
    """``-T judge_prices=IN,OUT``: US dollars per million input and output tokens."""
    if not text:
        return None
    try:
        a, b = (float(x) for x in text.split(","))
    except ValueError:
        raise UsageError(f"-T judge_prices expects IN,OUT in dollars per million tokens "
                         f"(e.g. 2.5,10), got {text!r}") from None
    if a < 0 or b < 0:
        raise UsageError("-T judge_prices: prices cannot be negative")
    return a, b


@dataclass
class JudgeConfig:
    name: str  # the judge's registry name, e.g. rule-judge, openai:gpt-4o
    protocol: Protocol
    options: dict[str, str] = field(default_factory=dict)
    prices: tuple[float, float] | None = None
    models: Any = None  # the model registry
    datasets: Any = None
    seed: int = 0
    identity: Any = None  # the built judge's identity(), once it has been built
    _digest: str | None = field(default=None, repr=False)

    @classmethod
    def for_task(cls, spec: Any, options: JudgeOptions, context: Any) -> JudgeConfig | None:
        """The task's judge: the ``-T judge*`` options, over the spec's ``judge`` block."""
        declared = getattr(spec, "judge", None)
        if declared is None:
            return cls.from_options(options.judge, options.judge_options,
                                    options.judge_protocol, options.judge_prices, context)
        return cls.from_options(
            options.judge or declared.model, options.judge_options,
            options.judge_protocol or declared.protocol,
            options.judge_prices or (",".join(map(str, declared.prices))
                                     if declared.prices else None),
            context, base_options=dict(declared.options) if not options.judge else None)

    @classmethod
    def from_options(cls, judge: str | None, options: str | None, protocol: str | None,
                     prices: str | None, context: Any,
                     base_options: dict[str, str] | None = None) -> JudgeConfig | None:
        if not judge:
            if options or protocol or prices:
                raise UsageError("-T judge_options / judge_protocol / judge_prices need "
                                 "-T judge=MODEL")
            return None
        models = getattr(context, "models", None)
        if models is None:
            raise UsageError("this task was built without a model registry: a judge cannot "
                             "be looked up (build it through harness.runner.build_task)")
        config = cls(judge, get(protocol or DEFAULT_PROTOCOL),
                     {**(base_options or {}), **parse_pairs(options, "judge_options")},
                     parse_prices(prices), models,
                     getattr(context, "datasets", None), getattr(context, "seed", 0))
        spec = config.spec()
        if "generate" not in spec.capabilities:
            raise UsageError(f"judge '{judge}' cannot generate text, so it cannot judge")
        config.parsed_options()  # a wrong option is refused before any work
        return config

    def spec(self) -> Any:
        return self.models.get(self.name)

    def parsed_options(self) -> Any:
        from harness.options import parse

        spec = self.spec()
        if spec.options is None:
            raise UsageError(f"judge '{self.name}' has an older-form factory; it cannot judge")
        return parse(spec.options, self.options, f"judge '{self.name}'", "-T judge_options")

    @property
    def decoding(self) -> Decoding:
        # Greedy: a judge that samples gives another verdict on every call (drift).
        return Decoding(max_new_tokens=self.protocol.max_new_tokens, preset="greedy")

    def key(self) -> dict[str, Any]:
        """The judge's identity as known before building it: part of every verdict's key."""
        spec = self.spec()
        return {"name": self.name, "model": spec.name, "checkpoint": spec.checkpoint,
                "options": dict(sorted(self.parsed_options().given().items())),
                "decoding": self.decoding.to_dict()}

    @property
    def digest(self) -> str:
        """A digest of ``key()`` (and of the protocol), computed once: every call uses it."""
        if self._digest is None:
            self._digest = digest({"judge": self.key(), "protocol": self.protocol.record()})
        return self._digest

    def record(self) -> dict[str, Any]:
        """What run.json (the plan's scoring settings) and metrics.json say about the judge;
        the built judge's ``identity()`` is in metrics.json beside it (``identity``)."""
        return {**self.key(), "digest": self.digest, "protocol": self.protocol.record(),
                "prices_per_million_tokens": list(self.prices) if self.prices else None}

    def build(self) -> Any:
        from harness.errors import HarnessError
        from harness.specs import LoadContext

        spec = self.spec()
        context = LoadContext(seed=self.seed, datasets=self.datasets)
        try:
            model = spec.factory(spec, context, self.parsed_options())
        except HarnessError:
            raise
        except Exception as exc:
            raise HarnessError(f"judge '{self.name}' (plugin '{spec.plugin}') failed to load: "
                               f"{type(exc).__name__}: {exc}") from None
        try:
            self.identity = model.identity()
        except Exception as exc:  # provenance only
            self.identity = {"error": f"identity() failed: {exc}"}
        return model

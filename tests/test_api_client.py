"""The shared API machinery on its own: Retry-After parsing, rate spacing, option parsing."""

from __future__ import annotations

import asyncio
import email.utils
import time

import pytest

from harness.errors import UsageError
from harness.options import parse
from harness.plugins.api_client import (
    ApiSettings,
    RateLimiter,
    retry_after_seconds,
    split_settings,
)
from harness.plugins.api_options import ApiOptions


def test_retry_after_forms() -> None:
    assert retry_after_seconds({"retry-after": "2"}) == 2.0
    assert retry_after_seconds({"retry-after": "0.25"}) == 0.25
    assert retry_after_seconds({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 27 <= (retry_after_seconds({"retry-after": later}) or 0) <= 30
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None and retry_after_seconds(None) is None


def test_rate_limiter_spaces_starts_and_holds() -> None:
    async def starts(limiter: RateLimiter, n: int) -> list[float]:
        out: list[float] = []

        async def one() -> None:
            await limiter.acquire()
            out.append(time.monotonic())

        await asyncio.gather(*(one() for _ in range(n)))
        return sorted(out)

    times = asyncio.run(starts(RateLimiter(rpm=3000), 8))  # one every 20 ms
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= 0.02 - 0.003

    limiter = RateLimiter(rpm=0)  # no limit, but a hold still pauses everyone
    limiter.hold(0.1)
    t0 = time.monotonic()
    times = asyncio.run(starts(limiter, 3))
    assert times[0] - t0 >= 0.09


def test_options_convert_and_refuse() -> None:
    opts = parse(ApiOptions, {"concurrency": "16", "rpm": "600", "timeout": "2.5",
                              "max_retries": "0"}, "model 'm'", "-M")
    settings, rest = split_settings(opts.settings())
    assert settings == ApiSettings(concurrency=16, rpm=600.0, timeout=2.5, max_retries=0)
    assert rest == {}
    for bad in ({"max_retries": "-1"}, {"rpm": "-5"}, {"timeout": "0"}, {"concurrency": "2.5"},
                {"rpm": "inf"}):
        with pytest.raises(UsageError, match="is not valid"):
            parse(ApiOptions, bad, "model 'm'", "-M")


def test_transport_options_are_runtime_and_match_the_settings() -> None:
    from dataclasses import fields

    assert set(ApiOptions.runtime) == {f.name for f in fields(ApiSettings)}
    assert ApiSettings(**ApiOptions().settings()) == ApiSettings()  # the same defaults

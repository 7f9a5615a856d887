"""What every API model plugin shares: options, limits, retries, timeouts and secret hygiene.

One ``ApiCaller`` per model sends each attempt through, in order:

1. a concurrency cap (``asyncio.Semaphore``; a sample waiting out its backoff holds no slot),
2. a requests-per-minute cap (evenly spaced starts, shared by all batches and all retries,
   paused for every request when the server answers 429 with ``Retry-After``),
3. a per-attempt wall-clock timeout (``asyncio.timeout``: it also catches a server that
   trickles bytes, which a socket read timeout does not).

Retries use tenacity (already installed as a dependency of google-genai): at most
``max_retries`` retries per sample, exponential backoff with full jitter, or the
server's ``Retry-After`` when it gives one. The SDKs' own retries are switched
off so that every attempt passes the limits above and the retry count is exact:
the openai client's retries bypass any rate limit of ours and it would not retry
a malformed body; google-genai's are configured differently again.

Calls run on one private event loop in a background thread that lives as long
as the model, so the HTTP connection pool, the limiter's clock and the SDK
clients survive from one batch to the next.

Secrets: the key lives only inside the SDK client. Every failure leaves as a
fresh ``ApiError`` whose message has the key scrubbed out and that carries no
chained exception (SDK exceptions hold the request, whose headers hold the key).
"""

from __future__ import annotations

import asyncio
import email.utils
import os
import random
import re
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

from harness import failures
from harness.errors import UsageError

T = TypeVar("T")
# One sample's work: build the payload (reads the images; may raise), then send it (an attempt).
Job = tuple[Callable[[], Any], Callable[[Any], Awaitable[str]]]

ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,63}$")
NO_KEY = "none"  # -M api_key_env=none: a local server that checks no key
MAX_MESSAGE_CHARS = 300


class ApiError(Exception):
    """One failed attempt (or, returned from ``generate``, a sample that failed for good)."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        status: int | None = None,
        retry_after: float | None = None,
        fatal: bool = False,
        reason: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        # Why the sample failed, as harness.failures names it; read when the failure is
        # captured. Without one, the HTTP status decides (harness.failures.reason_of).
        if reason is not None:
            self.failure_reason = reason
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after
        self.fatal = fatal  # the key was refused: no further request can succeed


# -- options -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiSettings:
    """Transport settings; none of them changes what the model answers."""

    concurrency: int = 8
    rpm: float = 0.0  # requests per minute, 0 = no limit
    timeout: float = 60.0  # seconds per attempt
    max_retries: int = 4  # retries after the first attempt
    backoff: float = 1.0  # ceiling of the first backoff, doubled per retry (full jitter)
    backoff_max: float = 30.0
    retry_after_max: float = 120.0  # a longer Retry-After fails the sample: rerun later


def split_settings(options: dict[str, Any]) -> tuple[ApiSettings, dict[str, Any]]:
    """The transport settings (``plugins/api_options.py``: TRANSPORT) and the rest."""
    from harness.plugins.api_options import TRANSPORT

    transport = {k: v for k, v in options.items() if k in TRANSPORT}
    rest = {k: v for k, v in options.items() if k not in TRANSPORT}
    return ApiSettings(**transport), rest


def read_key(model: str, env_name: str) -> str | None:
    """The API key from the environment variable the user named (None for ``none``)."""
    if env_name.lower() == NO_KEY:
        return None
    if not ENV_NAME.match(env_name):
        # Never echo it: a user may have pasted the key itself here.
        raise UsageError(
            f"model '{model}' option api_key_env must name an environment variable "
            "(capital letters, digits and underscores), not hold the key itself"
        )
    key = os.environ.get(env_name, "").strip()
    if not key:
        raise UsageError(
            f"model '{model}' reads its API key from the environment variable {env_name}, "
            "which is not set (or name another with -M api_key_env=NAME)"
        )
    return key


def reject_model_path(model: str, model_path: str | None) -> None:
    if model_path:
        raise UsageError(
            f"model '{model}' is an API model and takes no --model-path; "
            "choose the served model with -M model_id=ID"
        )


# -- secret hygiene ------------------------------------------------------------------------


def scrub(text: str, secrets: Sequence[str | None]) -> str:
    """``text`` with every secret replaced, cut to a readable length."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 3] + "..."


def retry_after_seconds(headers: Any) -> float | None:
    """Seconds the server asked to wait: ``retry-after-ms``, ``Retry-After`` seconds or date."""
    if headers is None:
        return None
    try:
        ms = headers.get("retry-after-ms")
        if ms is not None:
            return max(0.0, float(ms) / 1000)
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(value)
            return max(0.0, parsed.timestamp() - time.time())
    except (TypeError, ValueError, OverflowError):
        return None


def is_transport_error(exc: BaseException) -> bool:
    """A connection that failed or broke (any HTTP library): worth another attempt."""
    if isinstance(exc, ConnectionError | TimeoutError | OSError):
        return True
    for cls in type(exc).__mro__:
        module = cls.__module__.split(".")[0]
        if module in ("httpx", "httpx2", "httpcore", "httpcore2", "aiohttp", "h11", "anyio"):
            return True
    return False


# -- limits --------------------------------------------------------------------------------


class RateLimiter:
    """Request starts spaced 60/rpm seconds apart: at most ``rpm`` in any 60-second window.

    Evenly spaced, with no burst allowance, so the limit holds over any window a
    provider measures. ``hold`` pauses every start (a 429 with Retry-After).
    """

    def __init__(self, rpm: float) -> None:
        self.interval = 60.0 / rpm if rpm > 0 else 0.0
        self._next = 0.0
        self._held_until = 0.0

    async def acquire(self) -> None:
        while True:
            now = time.monotonic()
            if now < self._held_until:
                await asyncio.sleep(self._held_until - now)
                continue
            slot = max(now, self._next)
            self._next = slot + self.interval  # reserved before awaiting: no two share a slot
            if slot > now:
                await asyncio.sleep(slot - now)
            if time.monotonic() >= self._held_until:
                return

    def hold(self, seconds: float) -> None:
        self._held_until = max(self._held_until, time.monotonic() + seconds)


class EventLoopThread:
    """A private asyncio loop in a daemon thread; ``run`` blocks the caller until a result."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # Ctrl-C in the caller: stop the in-flight requests too
            raise

    def close(self, final: Coroutine[Any, Any, Any] | None = None) -> None:
        if self.loop.is_closed():
            return
        if final is not None:
            try:
                asyncio.run_coroutine_threadsafe(final, self.loop).result(timeout=10)
            except Exception:  # closing must never raise over the results
                pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self.loop.close()


# -- the caller ----------------------------------------------------------------------------


class ApiCaller:
    """Runs a batch of per-sample calls under the limits, with retries; never raises per sample."""

    def __init__(self, settings: ApiSettings, secrets: Sequence[str | None], seed: int = 0,
                 name: str = "api") -> None:
        self.settings = settings
        self._secrets = [s for s in secrets if s]
        self._rng = random.Random(seed)
        self._worker = EventLoopThread(f"{name}-requests")
        self._limiter = RateLimiter(settings.rpm)
        self._semaphore: asyncio.Semaphore | None = None  # made on the loop that uses it
        self._refused: str | None = None
        self.attempts = 0  # requests sent, retries included
        self.failed = 0  # samples that failed for good

    def map(self, jobs: Sequence[Job]) -> list[str | Exception]:
        """One answer or one ``ApiError`` per job, in order.

        Payloads are built in worker threads while other requests are in flight
        (image decoding overlaps the network). A payload that cannot be built
        (an unreadable image) fails its sample without any request being sent.
        """
        return self._worker.run(self._map(jobs))

    async def _map(self, jobs: Sequence[Job]) -> list[str | Exception]:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.settings.concurrency)
        return list(await asyncio.gather(*(self._settle(*job) for job in jobs)))

    async def _settle(
        self, build: Callable[[], Any], send: Callable[[Any], Awaitable[str]]
    ) -> str | Exception:
        try:
            payload = await asyncio.to_thread(build)
        except Exception as exc:
            self.failed += 1
            return self.clean(exc)
        import tenacity

        retrying = tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(self.settings.max_retries + 1),
            retry=tenacity.retry_if_exception(lambda e: isinstance(e, ApiError) and e.retryable),
            wait=self._wait,
            reraise=True,
        )
        try:
            return await retrying(self._attempt, send, payload)
        except Exception as exc:
            self.failed += 1
            attempts = retrying.statistics.get("attempt_number", 1)
            error = self.clean(exc)
            if isinstance(exc, ApiError) and exc.retryable:
                error = ApiError(f"{error.message} (gave up after {attempts} attempts)",
                                 status=error.status,
                                 reason=getattr(error, "failure_reason", None))
            return error

    async def _attempt(self, send: Callable[[Any], Awaitable[str]], payload: Any) -> str:
        assert self._semaphore is not None
        async with self._semaphore:
            await self._limiter.acquire()
            if self._refused is not None:  # the key was refused: sending more cannot help
                raise ApiError(self._refused, status=401)
            self.attempts += 1
            try:
                async with asyncio.timeout(self.settings.timeout):
                    return await send(payload)
            except TimeoutError:
                raise ApiError(
                    f"no answer within the {self.settings.timeout:g} s timeout", retryable=True,
                    reason=failures.SERVER_UNREACHABLE) from None
            except ApiError as exc:
                if exc.fatal:
                    self._refused = exc.message
                if exc.status == 429 and exc.retry_after:
                    self._limiter.hold(min(exc.retry_after, self.settings.retry_after_max))
                if exc.retry_after is not None and exc.retry_after > self.settings.retry_after_max:
                    raise ApiError(
                        f"{exc.message}; the server asked to wait {exc.retry_after:.0f} s, over "
                        f"the {self.settings.retry_after_max:g} s limit (rerun later to retry)",
                        status=exc.status,
                    ) from None
                raise

    def _wait(self, state: Any) -> float:
        """Seconds before the next attempt: the server's Retry-After, else full jitter."""
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, ApiError) and exc.retry_after is not None:
            return exc.retry_after + self._rng.uniform(0, 0.1 * exc.retry_after)
        ceiling = self.settings.backoff * 2 ** (state.attempt_number - 1)
        return self._rng.uniform(0, min(self.settings.backoff_max, ceiling))

    def clean(self, exc: BaseException) -> ApiError:
        """A fresh ApiError, secrets scrubbed, with no chained SDK exception attached."""
        if isinstance(exc, ApiError):
            message = exc.message
        else:  # a bug or an unforeseen SDK error: name its type, keep the sample's failure
            message = f"{type(exc).__name__}: {exc}"
        return ApiError(scrub(message, self._secrets), status=getattr(exc, "status", None),
                        reason=getattr(exc, "failure_reason", None) if isinstance(exc, ApiError)
                        else None)

    def close(self, final: Coroutine[Any, Any, Any] | None = None) -> None:
        self._worker.close(final)

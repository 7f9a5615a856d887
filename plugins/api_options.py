"""The ``-M`` options of the API models (OpenAI-compatible servers, Gemini).

Transport options (concurrency, rate limit, time-outs, retries) change how requests are
sent, never what is answered: they are ``runtime`` options, left out of the fingerprint.
The API key is never an option (options are written to run.json): only the name of the
environment variable that holds it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, NonNegativeFloat, NonNegativeInt, PositiveInt
from pydantic import StringConstraints as Text

from harness.options import Options

NonEmpty = Annotated[str, Text(min_length=1)]
KEY_REFUSED = ("takes its API key only from an environment variable, never as an option "
               "(options are stored in run.json): name it with -M api_key_env=NAME")
TRANSPORT = ("concurrency", "rpm", "timeout", "max_retries", "backoff", "backoff_max",
             "retry_after_max")


class ApiOptions(Options):
    """Options every API model takes."""

    model_config = ConfigDict(allow_inf_nan=False)
    runtime = TRANSPORT
    refused = {name: KEY_REFUSED for name in ("api_key", "key", "token", "api_token")}

    concurrency: PositiveInt = Field(8, description="requests in flight at once")
    rpm: NonNegativeFloat = Field(0.0, description="requests per minute at most (0: no limit)")
    timeout: float = Field(60.0, gt=0, description="seconds per attempt")
    max_retries: NonNegativeInt = Field(4, description="retries after the first attempt")
    backoff: NonNegativeFloat = Field(
        1.0, description="seconds: ceiling of the first wait between attempts, doubled per retry")
    backoff_max: NonNegativeFloat = Field(30.0, description="seconds: longest wait")
    retry_after_max: NonNegativeFloat = Field(
        120.0, description="seconds: a longer Retry-After fails the sample (rerun later)")
    base_url: NonEmpty | None = Field(None, description="the server's API address")
    model_id: NonEmpty | None = Field(None, description="the served model's id")
    api_key_env: NonEmpty | None = Field(
        None, description="the environment variable holding the key (none: no key)")
    send_seed: bool = Field(True, description="send each request's seed (sampling presets)")
    max_image_side: NonNegativeInt = Field(
        0, description="downscale images whose longer side exceeds this (0: never)")

    def settings(self) -> dict[str, object]:
        """The transport settings, for ``api_client.ApiSettings``."""
        return {name: getattr(self, name) for name in TRANSPORT}


class OpenAIOptions(ApiOptions):
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = Field(
        "max_tokens", description="the request field that carries the answer's token limit")


class GeminiOptions(ApiOptions):
    """Gemini takes the common API options."""

"""Models behind an OpenAI-compatible chat-completions endpoint (official ``openai`` client).

Registers:

- ``openai-compatible``: any such server (vLLM, SGLang, llama.cpp, Ollama, a
  provider); needs ``-M base_url=... -M model_id=...``.
- ``doubao-1.5-vision-pro``: the paper's doubao-1-5-vision-pro-32k on Volcengine Ark
  (base URL and model id preset; key from ``ARK_API_KEY`` unless told otherwise).
- ``openai:<model-id>``: OpenAI's API by default (``OPENAI_API_KEY``); ``-M base_url``
  points it elsewhere. Resolved through the registry's ``<prefix>:*`` fallback.

Images go as base64 data URLs, the prompt as text after them. Decoding maps to
the API's parameters: greedy -> temperature 0; sampling -> temperature and
top_p; max_new_tokens -> max_tokens; the run's seed -> seed. Beam search and a
minimum length have no API equivalent and are not sent (recorded in identity).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from harness import failures, hookimpl
from harness.model import Model
from harness.plugins.api_options import OpenAIOptions
from harness.specs import LoadContext, ModelSpec
from harness.types import Request

ARK_BASE_URL = "https://ark.cn-beijing.volces.com/api/v3"
DOUBAO_MODEL_ID = "doubao-1-5-vision-pro-32k-250115"
OPENAI_BASE_URL = "https://api.openai.com/v1"

DECODING_MAP = (
    "do_sample=false -> temperature=0 (the API's nearest to greedy; not guaranteed "
    "deterministic); do_sample=true -> temperature, top_p; max_new_tokens -> {field}; "
    "seed -> seed{seed_note}; num_beams and min_new_tokens are not sent (no API equivalent)"
)


class OpenAICompatModel(Model):
    """Chat completions with images; one request per sample, many in flight."""

    capabilities = frozenset({"generate"})

    def __init__(self, name: str, provider: str, base_url: str, model_id: str,
                 api_key_env: str, options: dict[str, Any], seed: int) -> None:
        import openai

        from harness.plugins.api_client import read_key, split_settings

        settings, rest = split_settings(options)
        key = read_key(name, api_key_env)
        self.name, self.provider = name, provider
        self.base_url, self.model_id, self.api_key_env = base_url, model_id, api_key_env
        self.max_tokens_field = rest.get("max_tokens_field", "max_tokens")
        self.send_seed = rest.get("send_seed", True)
        self.max_image_side = rest.get("max_image_side", 0)
        self.batch_size_hint = 4 * settings.concurrency
        self._sdk_version = openai.__version__
        self._served: set[str] = set()
        # running token counts as the server reports them (read by harness/judge for costs)
        self.usage = {"prompt_tokens": 0.0, "completion_tokens": 0.0}
        # SDK retries off: ApiCaller retries, so each attempt passes the rate limit.
        self._client = openai.AsyncOpenAI(
            api_key=key or "EMPTY", base_url=base_url, max_retries=0,
            timeout=settings.timeout + 5,  # ApiCaller's timeout fires first
        )
        from harness.plugins.api_client import ApiCaller

        self._caller = ApiCaller(settings, [key], seed=seed, name=name)

    def __repr__(self) -> str:
        return f"OpenAICompatModel(name={self.name!r}, base_url={self.base_url!r})"

    def identity(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "provider": self.provider,
            "api": "openai chat.completions",
            "base_url": self.base_url,
            "model_id": self.model_id,
            "served_models": sorted(self._served),
            "sdk": f"openai {self._sdk_version}",
            "decoding_map": DECODING_MAP.format(
                field=self.max_tokens_field,
                seed_note="" if self.send_seed else " (off: -M send_seed=false)",
            ),
        }

    def generate(self, requests: Sequence[Request]) -> list[str | Exception]:
        return self._caller.map([(partial(self._body, r), self._send) for r in requests])

    def _body(self, request: Request) -> dict[str, Any]:
        from harness.plugins.images import data_url

        content: list[dict[str, Any]] = [
            {"type": "image_url", "image_url": {"url": data_url(p, self.max_image_side)}}
            for p in request.images
        ]
        content.append({"type": "text", "text": request.prompt})
        messages: list[dict[str, Any]] = []
        if request.system:
            messages.append({"role": "system", "content": request.system})
        messages.append({"role": "user", "content": content})
        d = request.decoding
        body: dict[str, Any] = {"model": self.model_id, "messages": messages,
                                self.max_tokens_field: d.max_new_tokens}
        if d.do_sample:
            body.update(temperature=d.temperature, top_p=d.top_p)
        else:
            body["temperature"] = 0.0
        if d.seed is not None and self.send_seed:
            body["seed"] = d.seed
        return body

    async def _send(self, body: dict[str, Any]) -> str:
        import openai

        from harness.plugins.api_client import ApiError, is_transport_error, retry_after_seconds

        try:
            completion = await self._client.chat.completions.create(**body)
        except openai.APIStatusError as exc:
            status = exc.status_code
            raise ApiError(
                f"HTTP {status} from {self.base_url}: {_status_message(exc)}",
                status=status,
                retryable=status in (408, 409, 429) or status >= 500,
                retry_after=retry_after_seconds(exc.response.headers),
                fatal=status in (401, 403),
            ) from None
        except openai.APIResponseValidationError:
            raise ApiError("malformed response body (not a chat completion)",
                           retryable=True, reason=failures.SERVER_ERROR) from None
        except openai.APITimeoutError:
            raise ApiError("the request timed out", retryable=True,
                           reason=failures.SERVER_UNREACHABLE) from None
        except openai.APIConnectionError as exc:
            cause = type(exc.__cause__).__name__ if exc.__cause__ else "connection error"
            raise ApiError(f"connection failed ({cause})", retryable=True,
                           reason=failures.SERVER_UNREACHABLE) from None
        except ValueError:  # a body that is not JSON at all
            raise ApiError("malformed response body (not JSON)", retryable=True,
                           reason=failures.SERVER_ERROR) from None
        except Exception as exc:
            if is_transport_error(exc):
                raise ApiError(f"connection failed ({type(exc).__name__})",
                               retryable=True, reason=failures.SERVER_UNREACHABLE) from None
            raise
        choices = getattr(completion, "choices", None)
        if not choices:
            raise ApiError("the response holds no answer (no choices)", retryable=True,
                           reason=failures.SERVER_ERROR)
        if getattr(completion, "model", None):
            self._served.add(str(completion.model))
        usage = getattr(completion, "usage", None)
        for name in self.usage:
            self.usage[name] += float(getattr(usage, name, 0) or 0)
        choice = choices[0]
        text = choice.message.content if choice.message is not None else None
        if text is None:  # refused or filtered: another attempt gives the same
            raise ApiError(f"the response holds no text (finish_reason={choice.finish_reason})")
        return text

    def close(self) -> None:
        self._caller.close(self._client.close())


def _status_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
        if isinstance(err, str):
            return err
    return str(getattr(exc, "message", "") or "no message")


# -- factories ---------------------------------------------------------------------------


def build(spec: ModelSpec, context: LoadContext, options: OpenAIOptions, provider: str,
          defaults: dict[str, str]) -> OpenAICompatModel:
    from harness.errors import UsageError
    from harness.plugins.api_client import reject_model_path

    reject_model_path(spec.name, context.model_path)
    given = {k: v for k, v in options.model_dump().items() if v is not None}
    opts = {**defaults, **given}
    for required in ("base_url", "model_id"):
        if not opts.get(required):
            raise UsageError(f"model '{spec.name}' needs -M {required}=...")
    base_url, model_id = opts.pop("base_url"), opts.pop("model_id")
    api_key_env = opts.pop("api_key_env")
    return OpenAICompatModel(spec.name, provider, base_url, model_id, api_key_env, opts,
                             context.seed)


def openai_compatible(spec: ModelSpec, context: LoadContext, options: OpenAIOptions
                      ) -> OpenAICompatModel:
    return build(spec, context, options, "openai-compatible", {"api_key_env": "OPENAI_API_KEY"})


def doubao(spec: ModelSpec, context: LoadContext, options: OpenAIOptions) -> OpenAICompatModel:
    defaults = {"base_url": ARK_BASE_URL, "model_id": DOUBAO_MODEL_ID, "api_key_env": "ARK_API_KEY"}
    return build(spec, context, options, "volcengine-ark", defaults)


def openai_prefixed(spec: ModelSpec, context: LoadContext, options: OpenAIOptions
                    ) -> OpenAICompatModel:
    """``openai:<model-id>``: the model id is the part of the name after ``openai:``."""
    from harness.errors import UsageError

    model_id = spec.name.partition(":")[2]
    if not model_id or model_id == "*":
        raise UsageError("name the model after the prefix, e.g. --model openai:gpt-4o")
    if options.model_id is not None:
        raise UsageError(f"model '{spec.name}' takes its model id from its name, not -M model_id")
    defaults = {"base_url": OPENAI_BASE_URL, "api_key_env": "OPENAI_API_KEY",
                "model_id": model_id}
    return build(spec, context, options, "openai", defaults)


@hookimpl
def register_models(register: Callable[[ModelSpec], None]) -> None:
    register(ModelSpec(
        name="openai-compatible", factory=openai_compatible, family="openai-api",
        description="any OpenAI-compatible chat server: -M base_url=... -M model_id=...",
        options=OpenAIOptions,
    ))
    register(ModelSpec(
        name="doubao-1.5-vision-pro", factory=doubao, family="openai-api",
        checkpoint=DOUBAO_MODEL_ID, aliases=("doubao-1-5-vision-pro-32k",),
        description="the paper's doubao-1-5-vision-pro-32k on Volcengine Ark (key: ARK_API_KEY)",
        options=OpenAIOptions,
    ))
    register(ModelSpec(
        name="openai:*", factory=openai_prefixed, family="openai-api",
        description="openai:<model-id> on OpenAI's API (key: OPENAI_API_KEY) or -M base_url=...",
        options=OpenAIOptions,
    ))

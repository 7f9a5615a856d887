"""Gemini models through ``google-genai``, Google's supported SDK.

(``google-generativeai`` is deprecated by Google in favour of ``google-genai``
and is not used.) Registers ``gemini-2.0-flash``, the paper's Gemini Flash 2.0;
``-M model_id=`` picks another Gemini model, ``-M base_url=`` another endpoint
(the tests point it at a local server speaking the Gemini REST format).

Images go as inline bytes with their MIME type, before the prompt. Decoding
maps to ``GenerateContentConfig``: greedy -> temperature 0; sampling ->
temperature and top_p; max_new_tokens -> max_output_tokens; seed -> seed.
Beam search and a minimum length are not sent (recorded in identity).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from harness import failures, hookimpl
from harness.model import Model
from harness.plugins.api_options import GeminiOptions
from harness.specs import LoadContext, ModelSpec
from harness.types import Request

GEMINI_MODEL_ID = "gemini-2.0-flash"
DECODING_MAP = (
    "do_sample=false -> temperature=0 (the API's nearest to greedy; not guaranteed "
    "deterministic); do_sample=true -> temperature, top_p; max_new_tokens -> "
    "max_output_tokens; seed -> seed{seed_note}; num_beams and min_new_tokens are not sent "
    "(no API equivalent)"
)


class GeminiModel(Model):
    """generateContent with inline images; one request per sample, many in flight."""

    capabilities = frozenset({"generate"})

    def __init__(self, name: str, model_id: str, base_url: str | None, api_key_env: str,
                 options: dict[str, Any], seed: int) -> None:
        from google import genai
        from google.genai import types

        from harness.plugins.api_client import ApiCaller, read_key, split_settings

        settings, rest = split_settings(options)
        key = read_key(name, api_key_env)
        self.name, self.model_id, self.base_url = name, model_id, base_url
        self.send_seed = rest.get("send_seed", True)
        self.max_image_side = rest.get("max_image_side", 0)
        self.batch_size_hint = 4 * settings.concurrency
        # running token counts as the server reports them, under the names the OpenAI-compatible
        # plugin uses (harness/judge reads them for costs); thinking tokens are billed as output
        self.usage = {"prompt_tokens": 0.0, "completion_tokens": 0.0}
        self._sdk_version = genai.__version__
        self._served: set[str] = set()
        self._types = types
        # attempts=1: the SDK never retries on its own; ApiCaller retries under the limits.
        http_options = types.HttpOptions(
            base_url=base_url, timeout=int((settings.timeout + 5) * 1000),
            retry_options=types.HttpRetryOptions(attempts=1),
        )
        # vertexai=False: an ambient GOOGLE_GENAI_USE_VERTEXAI must not switch to cloud credentials.
        self._client = genai.Client(api_key=key or "none", vertexai=False,
                                    http_options=http_options)
        self._caller = ApiCaller(settings, [key], seed=seed, name=name)

    def __repr__(self) -> str:
        return f"GeminiModel(name={self.name!r}, model_id={self.model_id!r})"

    def identity(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "provider": "google",
            "api": "gemini generateContent",
            "base_url": self.base_url or "google-genai default",
            "model_id": self.model_id,
            "served_models": sorted(self._served),
            "sdk": f"google-genai {self._sdk_version}",
            "decoding_map": DECODING_MAP.format(
                seed_note="" if self.send_seed else " (off: -M send_seed=false)"),
        }

    def generate(self, requests: Sequence[Request]) -> list[str | Exception]:
        return self._caller.map([(partial(self._content, r), self._send) for r in requests])

    def _content(self, request: Request) -> tuple[Any, Any]:
        from harness.plugins.images import load_payload

        types = self._types
        parts = []
        for path in request.images:
            image = load_payload(path, self.max_image_side)
            parts.append(types.Part.from_bytes(data=image.data, mime_type=image.mime_type))
        parts.append(types.Part.from_text(text=request.prompt))
        d = request.decoding
        config: dict[str, Any] = {"max_output_tokens": d.max_new_tokens, "candidate_count": 1}
        if d.do_sample:
            config.update(temperature=d.temperature, top_p=d.top_p)
        else:
            config["temperature"] = 0.0
        if d.seed is not None and self.send_seed:
            config["seed"] = d.seed
        if request.system:
            config["system_instruction"] = request.system
        return ([types.Content(role="user", parts=parts)],
                types.GenerateContentConfig(**config))

    async def _send(self, payload: tuple[Any, Any]) -> str:
        from google.genai import errors

        contents, config = payload
        from harness.plugins.api_client import ApiError, is_transport_error, retry_after_seconds

        try:
            response = await self._client.aio.models.generate_content(
                model=self.model_id, contents=contents, config=config)
        except errors.APIError as exc:
            status = int(exc.code or 0)
            headers = getattr(getattr(exc, "response", None), "headers", None)
            raise ApiError(
                f"HTTP {status} {exc.status or ''} from Gemini: {exc.message or 'no message'}",
                status=status,
                retryable=status in (408, 409, 429) or status >= 500,
                retry_after=retry_after_seconds(headers),
                fatal=status in (401, 403),
            ) from None
        except errors.UnknownApiResponseError:
            raise ApiError("malformed response body (not JSON)", retryable=True,
                           reason=failures.SERVER_ERROR) from None
        except ValueError:  # pydantic: JSON that is not a GenerateContentResponse
            raise ApiError("malformed response body", retryable=True,
                           reason=failures.SERVER_ERROR) from None
        except Exception as exc:
            if is_transport_error(exc):
                raise ApiError(f"connection failed ({type(exc).__name__})",
                               retryable=True, reason=failures.SERVER_UNREACHABLE) from None
            raise
        if response.model_version:
            self._served.add(response.model_version)
        meta = response.usage_metadata
        if meta is not None:
            self.usage["prompt_tokens"] += float(meta.prompt_token_count or 0)
            self.usage["completion_tokens"] += float((meta.candidates_token_count or 0)
                                                     + (meta.thoughts_token_count or 0))
        candidates = response.candidates or []
        parts = (candidates[0].content.parts if candidates and candidates[0].content else None)
        texts = [p.text for p in parts or [] if p.text is not None and not p.thought]
        if not texts:
            feedback = response.prompt_feedback
            if feedback is not None and feedback.block_reason:
                raise ApiError(f"the prompt was blocked ({_name(feedback.block_reason)})")
            if candidates and candidates[0].finish_reason not in (None, "STOP"):
                raise ApiError(f"the response holds no text "
                               f"(finish_reason={_name(candidates[0].finish_reason)})")
            raise ApiError("the response holds no answer (no candidates)", retryable=True,
                           reason=failures.SERVER_ERROR)
        return "".join(texts)

    def close(self) -> None:
        self._caller.close(self._client.aio.aclose())


def _name(value: Any) -> str:
    return str(getattr(value, "value", value))


def gemini_flash(spec: ModelSpec, context: LoadContext, options: GeminiOptions
                 ) -> GeminiModel:
    from harness.plugins.api_client import reject_model_path

    reject_model_path(spec.name, context.model_path)
    given = {k: v for k, v in options.model_dump().items() if v is not None}
    opts = {"model_id": GEMINI_MODEL_ID, "api_key_env": "GEMINI_API_KEY", **given}
    model_id, api_key_env = opts.pop("model_id"), opts.pop("api_key_env")
    return GeminiModel(spec.name, model_id, opts.pop("base_url", None), api_key_env, opts,
                       context.seed)


@hookimpl
def register_models(register: Callable[[ModelSpec], None]) -> None:
    register(ModelSpec(
        name="gemini-2.0-flash", factory=gemini_flash, family="gemini-api",
        checkpoint=GEMINI_MODEL_ID, aliases=("gemini-flash-2.0",),
        description="the paper's Gemini 2.0 Flash through google-genai (key: GEMINI_API_KEY)",
        options=GeminiOptions,
    ))

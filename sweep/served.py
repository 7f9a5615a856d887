"""``vllm-served``: the model a sweep job serves with vLLM, asked through its OpenAI API.

It is the ``openai-compatible`` client with two differences that make a served model's
results those of the model, not of "openai-compatible": the checkpoint vLLM loaded is
the run's ``--model-path`` (so run.json and every fingerprint carry it, with the content
key of its weight files when it is a local folder), and the server's address is a runtime
option (a job picks a free port each time; a rerun on another port resumes, it does not
re-ask).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from harness import hookimpl
from harness.fingerprint import digest, files_sha256
from harness.plugins.api_options import TRANSPORT, OpenAIOptions
from harness.plugins.openai_compat import OpenAICompatModel
from harness.specs import LoadContext, ModelSpec

NAME = "vllm-served"
WEIGHT_FILES = ("*.safetensors", "*.bin", "*.pt", "*.gguf")


class ServedOptions(OpenAIOptions):
    runtime: ClassVar[tuple[str, ...]] = (*TRANSPORT, "base_url")


class ServedModel(OpenAICompatModel):
    def __init__(self, checkpoint: str | None, weights: str | None, *args: Any) -> None:
        super().__init__(*args)
        self.checkpoint, self.weights = checkpoint, weights

    def identity(self) -> dict[str, Any]:
        return {**super().identity(), "engine": "vllm", "checkpoint": self.checkpoint,
                "weights": self.weights}


def weights_key(spec: ModelSpec, context: LoadContext, options: ServedOptions) -> str | None:
    """The content key of the served checkpoint's weight files (a local folder), else None:
    a Hub id is recorded as the checkpoint, and vLLM resolves it."""
    folder = Path(context.model_path) if context.model_path else None
    if folder is None or not folder.is_dir():
        return None
    files = sorted(p for pattern in WEIGHT_FILES for p in folder.glob(pattern))
    return digest([p.name for p in files] + files_sha256(files)) if files else None


def make_served(spec: ModelSpec, context: LoadContext, options: ServedOptions) -> ServedModel:
    from harness.errors import UsageError

    given = {k: v for k, v in options.model_dump().items() if v is not None}
    for required in ("base_url", "model_id"):
        if not given.get(required):
            raise UsageError(f"model '{spec.name}' needs -M {required}=... (harness sweep "
                             "sets both when it serves a model)")
    base_url, model_id = given.pop("base_url"), given.pop("model_id")
    api_key_env = given.pop("api_key_env", "none")
    return ServedModel(context.model_path, weights_key(spec, context, options), spec.name,
                       "vllm", base_url, model_id, api_key_env, given, context.seed)


@hookimpl
def register_models(register: Callable[[ModelSpec], None]) -> None:
    register(ModelSpec(
        name=NAME, factory=make_served, family="openai-api", options=ServedOptions,
        weights_key=weights_key,
        description="a checkpoint served by vLLM in a sweep job (--model-path: the checkpoint; "
                    "-M base_url=... -M model_id=...)",
    ))

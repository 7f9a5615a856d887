"""Judges for tests: the openai-compatible plugin pointed at tests/api_server.py."""

from __future__ import annotations

from typing import Any

from harness.judge.config import JudgeConfig
from harness.judge.protocols import get


def server_options(server: Any, **extra: Any) -> str:
    """``-T judge_options=`` for the local server (no key, no retries unless told)."""
    options = {"base_url": server.openai_base_url, "model_id": "local-judge",
               "api_key_env": "none", "max_retries": 0, "timeout": 5, **extra}
    return ",".join(f"{k}={v}" for k, v in options.items())


def server_judge(registries: Any, server: Any, protocol: str, **extra: Any) -> JudgeConfig:
    from harness.judge.config import parse_pairs

    return JudgeConfig("openai-compatible", get(protocol),
                       parse_pairs(server_options(server, **extra), "judge_options"),
                       models=registries.models, datasets=registries.datasets)

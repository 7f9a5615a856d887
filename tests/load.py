"""Models built in tests exactly as `harness run` builds them (registry, typed options)."""

from __future__ import annotations

from typing import Any


def load(name: str, model_path: Any = None, device: str = "cpu", seed: int = 0,
         protocol: str = "paper", **options: Any) -> Any:
    from harness.plugin_manager import get_registries
    from harness.runner import load_model

    return load_model(get_registries(), name, options,
                      model_path=None if model_path is None else str(model_path),
                      device=device, seed=seed, protocol=protocol)

"""Models and tasks built in tests exactly as `harness run` builds them (registries handed
in, options typed)."""

from __future__ import annotations

from typing import Any


def load(name: str, model_path: Any = None, device: str = "cpu", seed: int = 0,
         protocol: str = "paper", **options: Any) -> Any:
    from harness.plugin_manager import get_registries
    from harness.runner import load_model

    return load_model(get_registries(), name, options,
                      model_path=None if model_path is None else str(model_path),
                      device=device, seed=seed, protocol=protocol)


def task(name: str, protocol: str = "paper", **options: Any) -> Any:
    """A task built exactly as `harness run` builds it (registries handed in, -T typed)."""
    from harness.plugin_manager import get_registries
    from harness.runner import RunOptions, build_task

    return build_task(get_registries(), name, {k: str(v) for k, v in options.items()},
                      RunOptions(model="", tasks=[name], protocol=protocol))

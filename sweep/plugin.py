"""The sweep as a plugin: `harness sweep` through the command hook, `vllm-served` through
the model hook."""

from harness.sweep.cli import register_commands
from harness.sweep.served import register_models

__all__ = ["register_commands", "register_models"]

"""derm-harness: a plugin-based benchmark harness for dermatology vision-language models.

Importing this package is cheap: torch and transformers are imported only inside
model factories and metric functions, never at import time.
"""

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("harness")
"""Decorator for plugin hook implementations: ``@hookimpl def register_models(register): ...``."""

__all__ = ["__version__", "hookimpl"]

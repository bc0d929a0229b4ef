"""Lazy imports of optional dependencies with a one-line hint naming the extra."""

from __future__ import annotations

import importlib
from types import ModuleType


class MissingDependencyError(ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


def require(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise one clear sentence naming the extra to install.

    Example::

        >>> require("json", "core").__name__
        'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{module!r} is not installed: run  pip install 'agentic-nb[{extra}]'"
        ) from exc

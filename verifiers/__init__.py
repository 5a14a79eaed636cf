"""Verifiers: turn (response, problem) into a Score. They know nothing about Gymnasium.

The public names load on first use (PEP 562), so that a candidate-side module such as
``code.candidate`` can be imported inside the sandbox without the host-side machinery.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .base import Verifier, precheck
    from .registry import BUILTIN, get_verifier
    from .score import PASSING_VERDICTS, SANDBOX_ERROR, VERDICTS, Score

_HOME = {"Verifier": "base", "precheck": "base", "BUILTIN": "registry", "get_verifier": "registry",
         "PASSING_VERDICTS": "score", "SANDBOX_ERROR": "score", "VERDICTS": "score", "Score": "score"}
__all__ = ["BUILTIN", "PASSING_VERDICTS", "SANDBOX_ERROR", "VERDICTS", "Score", "Verifier", "get_verifier", "precheck"]


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
    globals()[name] = value
    return value

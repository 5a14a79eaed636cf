"""Built-in verifiers by name, imported lazily so that naming one does not import the others."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from sppo_gym.sandbox import Limits

from .base import Verifier

BUILTIN: dict[str, str] = {
    "math": "sppo_gym.verifiers.math.verifier:MathVerifier",
    "exact": "sppo_gym.verifiers.format.exact:ExactVerifier",
    "python_tests": "sppo_gym.verifiers.code.python_tests:PythonTestsVerifier",
    "stdio": "sppo_gym.verifiers.code.stdio:StdioVerifier",
    "coq": "sppo_gym.verifiers.coq.verifier:CoqVerifier",
    "format": "sppo_gym.verifiers.format.verifier:FormatVerifier",
}


def get_verifier(name: str, **options: Any) -> Verifier:
    """Instantiate a built-in verifier; ``options`` go to its constructor."""
    try:
        target = BUILTIN[name]
    except KeyError:
        raise ValueError(f"unknown verifier {name!r}; built-in verifiers: {', '.join(sorted(BUILTIN))}") from None
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)(**options)


def build_builtin(name: str, options: Mapping[str, Any] | None = None, *, max_chars: int,
                  timeout_s: float | None = None) -> Verifier:
    """A built-in verifier as envs build it: the env's response limit (``max_chars``) and ``timeout_s``
    as the sandbox wall time, both overridable by ``options`` (the verifier's keyword arguments)."""
    defaults: dict[str, Any] = {"max_chars": max_chars}
    if timeout_s is not None:
        defaults["limits"] = Limits(wall_s=float(timeout_s))
    return get_verifier(name, **{**defaults, **(options or {})})

"""Run a ``register_task`` verifier function inside the sandbox (``sandboxed=True``).

The function is shipped as source text, so it must be a plain module-level ``def`` whose
globals can be rebuilt there: modules it uses (``import re`` at the top of your file is fine),
functions/classes imported from installed packages, and literal constants (numbers, strings,
tuples ...). Helpers defined in your own script, closures, lambdas and methods cannot be
shipped; ``register_task`` says which name is the problem. The packages it imports must exist
in the sandbox image. Problems must be JSON data (they travel to the sandbox as JSON).
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import json
import textwrap
import types
from collections.abc import Callable
from typing import Any

from sppo_gym.verifiers import Score, Verifier


def _literal(value: Any) -> bool:
    try:
        return ast.literal_eval(repr(value)) == value
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False


def _global_line(name: str, value: Any, fn: Callable, where: str) -> str:
    """One line of source that rebinds global ``name`` inside the sandbox, or a clear error."""
    if isinstance(value, types.ModuleType):
        return f"import {value.__name__} as {name}"
    module = getattr(value, "__module__", None)
    qualname = getattr(value, "__qualname__", None)
    if (inspect.isfunction(value) or inspect.isclass(value) or inspect.isbuiltin(value)) and module \
            and module not in (fn.__module__, "__main__") and qualname and "<" not in qualname and "." not in qualname:
        return f"from {module} import {qualname} as {name}"
    if _literal(value):
        return f"{name} = {value!r}"
    raise ValueError(f"{where}: sandboxed verifier {fn.__name__} uses the global {name!r} ({type(value).__name__}), "
                     "which cannot be rebuilt in the sandbox; define or import it inside the function")


def function_source(fn: Callable, where: str = "register_task") -> tuple[str, str]:
    """Self-contained source of ``fn`` (its globals rebound at the top) and its name."""
    if not inspect.isfunction(fn) or fn.__name__ == "<lambda>":
        raise TypeError(f"{where}: sandboxed=True needs a plain `def` function (not a lambda, method, partial or "
                        f"callable object), got {fn!r}")
    if fn.__code__.co_freevars:
        raise ValueError(f"{where}: sandboxed verifier {fn.__name__} uses variables of an enclosing function "
                         f"{list(fn.__code__.co_freevars)}; define it at module level")
    try:
        src = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError) as e:
        raise ValueError(f"{where}: the source of {fn.__name__} is not available ({e}); define it in a .py file") from e
    tree = ast.parse(src)
    node = tree.body[0]
    if not isinstance(node, ast.FunctionDef):
        raise TypeError(f"{where}: sandboxed verifier must be a plain (non-async) def")
    node.decorator_list = []
    refs = inspect.getclosurevars(fn).globals
    lines = [_global_line(n, v, fn, where) for n, v in sorted(refs.items()) if v is not fn]
    return "\n".join([*lines, ast.unparse(tree)]) + "\n", fn.__name__


class SandboxedCallableVerifier(Verifier):
    """Sends the function's source and each (response, problem) to ``composition.callable_judge``."""

    entry = "sppo_gym.verifiers.composition.callable_judge:judge"

    def __init__(self, fn: Callable, *, label: str, max_chars: int, timeout_s: float | None = None):
        limits = None
        if timeout_s is not None:
            from sppo_gym.sandbox import Limits

            limits = Limits(wall_s=float(timeout_s))
        super().__init__(limits=limits, max_chars=max_chars)
        self.label = label
        self.source, self.fn_name = function_source(fn, label)
        self.name = f"sandboxed:{self.fn_name}"
        self.version = hashlib.sha256(self.source.encode()).hexdigest()[:12]

    def payload(self, response: str, problem: dict) -> dict:
        try:
            json.dumps(problem)
        except (TypeError, ValueError) as e:
            raise TypeError(f"{self.label}: problems must be JSON data to reach the sandbox ({e})") from e
        return {"source": self.source, "name": self.fn_name, "response": response, "problem": problem}

    def finish(self, score: Score, problem: dict) -> Score:
        if "invalid_return" in score.extra:
            raise ValueError(f"{self.label}: the verifier returned {score.extra['invalid_return']}; a verifier "
                             "callable must return a float in [0, 1] (or a bool)")
        return score

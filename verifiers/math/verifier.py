"""Math verifier (host half). The judge, ``math.judge``, runs inside the sandbox: parsing and
sympy never see model text on the host.

Problem fields: ``answer`` -- bare LaTeX, text containing ``\\boxed{...}`` (MATH) or ending with
``#### value`` (GSM8K); and, when present, the problem text (the first str field among
``problem_text``, ``problem``, ``question``, ``prompt``, or the field named by the option
``problem_field``). The judge needs the problem text for two rules: an answer that repeats an
expression of the problem is ``restated``, and a decimal for an irrational reference counts only
where the problem asks for a decimal. Without it those rules stay silent.

What is taken from the response, and how answers are compared, is documented in
``math.extract`` and ``math.equiv``; when is a right value also a final answer, in
``math.final``. Verdicts: ``correct``, ``wrong``, ``hedged`` (several candidate answers where one
is expected), ``restated``, ``unsimplified``, ``approximation``, ``no_answer``, ``parse_error``,
and the sandbox's ``timeout``/``memory`` for pathological inputs (reward 0 each but ``correct``).

Options: ``numeral_only=True`` accepts only a numeral (sign, digits, decimal point, fraction bar)
as the answer -- Arithmetic-v0 sets it, since it asks for ``Answer: <number>``;
``problem_field`` names the problem-text field; ``chunk_size`` (below).

Batches are judged in chunks (one sandbox job grades up to ``chunk_size`` pairs, entry
``math.judge:judge_many``): a job costs far more than grading a typical pair. A chunk that ends
in any status but ``ok`` (a tower of powers that ran out of time, say) is re-run pair by pair,
each in its own job with the single-pair limits, so one pathological response never costs the
other responses of its chunk their verdicts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

from sppo_gym.sandbox import Job, JobResult, Limits, get_pool

from ..base import Verifier, precheck, score_from_result, score_from_value
from ..score import Score

DEFAULT_WALL_S = 20.0
"""Wall time of a one-pair job: the comparison itself is bounded to a few CPU seconds
(``math.equiv``); the rest is headroom for a loaded machine."""
CHUNK_WALL_PER_PAIR_S = 6.0
MANY_ENTRY = "sppo_gym.verifiers.math.judge:judge_many"
PROBLEM_TEXT_FIELDS = ("problem_text", "problem", "question", "prompt")
"""Where the problem text is looked for, in this order (``problem_text`` is what ``register_task``
envs fill in with the rendered prompt)."""
MAX_PROBLEM_TEXT_CHARS = 8000


def problem_text(problem: dict, field: str | None = None) -> str | None:
    """The problem's text for the judge: ``problem[field]``, else the first str field of
    ``PROBLEM_TEXT_FIELDS``; ``None`` when there is none."""
    for name in (field,) if field is not None else PROBLEM_TEXT_FIELDS:
        value = problem.get(name)
        if isinstance(value, str) and value.strip():
            return value[:MAX_PROBLEM_TEXT_CHARS]
    return None


def gold_answer(problem: dict) -> str:
    """The problem's reference answer, validated (clear error for malformed datasets)."""
    answer = problem.get("answer")
    if isinstance(answer, (int, float)) and not isinstance(answer, bool):
        return str(answer)
    if not isinstance(answer, str) or not answer.strip():
        raise ValueError(f"math problem needs a non-empty str 'answer' (bare LaTeX, \\boxed{{}} or '#### v'), got {answer!r:.80}")
    return answer


class MathVerifier(Verifier):
    """Final-answer math grading: extraction, sympy equivalence and the final-form rules, all in
    the sandbox (see the module docstring)."""

    name: ClassVar[str] = "math"
    version: ClassVar[str] = "2"  # 2: restated / unsimplified / approximation (a right value is not enough)
    entry: ClassVar[str] = "sppo_gym.verifiers.math.judge:judge"

    def __init__(self, *, limits: Limits | None = None, chunk_size: int = 16, numeral_only: bool = False,
                 problem_field: str | None = None, **options: Any) -> None:
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive int (pairs per sandbox job), got {chunk_size!r}")
        if not isinstance(numeral_only, bool):
            raise TypeError(f"numeral_only must be a bool, got {numeral_only!r}")
        if problem_field is not None and (not isinstance(problem_field, str) or not problem_field):
            raise TypeError(f"problem_field must be a field name (str) or None, got {problem_field!r}")
        super().__init__(limits=limits or Limits(wall_s=DEFAULT_WALL_S, memory_mb=1024), **options)
        self.chunk_size = chunk_size
        self.numeral_only = numeral_only
        self.problem_field = problem_field

    def payload(self, response: str, problem: dict) -> dict:
        out: dict[str, Any] = {"response": response, "gold": gold_answer(problem)}
        text = problem_text(problem, self.problem_field)
        if text is not None:
            out["problem"] = text
        if self.numeral_only:
            out["numeral_only"] = True
        return out

    def chunk_limits(self, n: int) -> Limits:
        assert self.limits is not None
        return self.limits.with_(wall_s=max(self.limits.wall_s, 10.0 + CHUNK_WALL_PER_PAIR_S * n))

    def verify_batch(self, items: Sequence[tuple[str, dict]]) -> list[Score]:
        """Chunked over the pool (order kept); failed chunks are re-judged pair by pair."""
        scores: list[Score | None] = [precheck(r, self.max_chars) for r, _ in items]
        todo = [i for i, s in enumerate(scores) if s is None]
        payloads = {i: self.payload(*items[i]) for i in todo}
        pool = get_pool()
        size = max(1, min(self.chunk_size, math.ceil(len(todo) / max(1, getattr(pool, "size", 1)))))
        chunks = [todo[k : k + size] for k in range(0, len(todo), size)]
        jobs = [Job(MANY_ENTRY, {"items": [payloads[i] for i in c]}, self.chunk_limits(len(c))) for c in chunks]
        retry: list[int] = []
        for chunk, res in zip(chunks, pool.run_batch(jobs) if jobs else [], strict=True):
            chunk_scores = unpack(res, len(chunk))
            if chunk_scores is None:
                retry.extend(chunk)
                continue
            for i, score in zip(chunk, chunk_scores, strict=True):
                scores[i] = score
        if retry:
            results = pool.run_batch([Job(self.entry, payloads[i], self.limits) for i in retry])
            for i, res in zip(retry, results, strict=True):
                scores[i] = score_from_result(res)
        return [s for s in scores if s is not None]


def unpack(result: JobResult, n: int) -> list[Score] | None:
    """Scores of a chunk job of ``n`` pairs, or None when the chunk did not complete (its pairs are
    then judged one by one). A value that is not a Score (an unknown verdict, say) is a judge bug:
    ``judge_error`` for that pair alone."""
    values = result.value.get("scores") if result.status == "ok" and isinstance(result.value, dict) else None
    if not isinstance(values, list) or len(values) != n:
        return None
    return [score_from_value(value, result.elapsed / n) for value in values]

"""Math verifier (host half). The judge, ``math_judge``, runs inside the sandbox: parsing and
sympy never see model text on the host (SANDBOX.md principle 6).

Problem field: ``answer`` -- bare LaTeX, text containing ``\\boxed{...}`` (MATH) or ending with
``#### value`` (GSM8K). What is taken from the response, and how answers are compared, is
documented in ``math_extract`` and ``math_equiv``. Verdicts: ``correct``, ``wrong``, ``hedged``
(several candidate answers where one is expected), ``no_answer``, ``parse_error``, and the
sandbox's ``timeout``/``memory`` for pathological inputs (reward 0 each).
"""

from __future__ import annotations

from typing import Any, ClassVar

from sppo_gym.sandbox import Limits

from .base import Verifier

DEFAULT_WALL_S = 20.0
"""Job wall time: the comparison itself is bounded to a few CPU seconds (``math_equiv``); the
rest is headroom for a loaded machine."""


def gold_answer(problem: dict) -> str:
    """The problem's reference answer, validated (clear error for malformed datasets)."""
    answer = problem.get("answer")
    if isinstance(answer, (int, float)) and not isinstance(answer, bool):
        return str(answer)
    if not isinstance(answer, str) or not answer.strip():
        raise ValueError(f"math problem needs a non-empty str 'answer' (bare LaTeX, \\boxed{{}} or '#### v'), got {answer!r:.80}")
    return answer


class MathVerifier(Verifier):
    """Final-answer math grading: extraction per CONTRACT.md, sympy equivalence in the sandbox."""

    name: ClassVar[str] = "math"
    entry: ClassVar[str] = "sppo_gym.verifiers.math_judge:judge"

    def __init__(self, *, limits: Limits | None = None, **options: Any) -> None:
        super().__init__(limits=limits or Limits(wall_s=DEFAULT_WALL_S, memory_mb=1024), **options)

    def payload(self, response: str, problem: dict) -> dict:
        return {"response": response, "gold": gold_answer(problem)}

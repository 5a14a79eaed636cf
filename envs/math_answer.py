"""Math problems with a final answer, from JSONL or a local ``datasets`` folder, judged by ``math``.

## Description
``MathAnswer-v0``: rows ``{"problem", "answer"}`` (+ optional ``task_id``). ``answer`` may be a
bare LaTeX answer (``\\frac{1}{2}``), a MATH-style solution containing ``\\boxed{...}``, or a
GSM8K-style solution ending with ``#### value``; the verifier takes the reference from it. When
``data`` is omitted, a small bundled set written for this project is used (20 GSM8K-style word
problems and 20 MATH-style problems: fractions, roots, intervals, points, complex numbers,
``\\pm`` answers, a matrix).

## Observation
The problem followed by an instruction to end with the final answer in ``\\boxed{}`` (``str``).

## Action
The whole response (``str``). Extraction: last ``\\boxed{}``, else the final answer statement
("the answer is ...", "Answer: ...", also bold), else the last expression.

## Reward
1.0 when the extracted answer is mathematically equivalent to the reference *and* final, else
0.0. The problem text (``problem`` field) goes to the verifier: an answer that repeats the
problem's own expression (``\\sqrt{50}`` for "Simplify $\\sqrt{50}$") is ``restated``, one that
still holds work the reference does not (``\\binom{6}{2}`` for 15) is ``unsimplified``, and a
decimal for an irrational reference is ``approximation`` unless the problem asks for a decimal.
``info["verdict"]``: ``correct``, ``wrong``, ``hedged``, ``restated``, ``unsimplified``,
``approximation``, ``no_answer``, ``parse_error``, ``timeout``, ``sandbox_error``
(infrastructure; not a verdict on the answer).

## Episode End
After one step (``terminated=True``).

## Arguments
``data``: a JSONL path or a folder/file ``datasets`` can load locally (default: bundled set);
``split`` (for ``datasets`` folders), ``timeout_s``.

## Version History
* v0: initial version. Verifier ``math/2`` (see ``info["versions"]``) no longer pays for the
  problem's own expression or an unevaluated one; results under ``math/1`` were.

>>> import gymnasium as gym, sppo_gym.envs
>>> env = gym.make("sppo_gym/MathAnswer-v0")
>>> prompt, info = env.reset(options={"index": 0})
>>> info["task_id"]
'sppo/gsm/00'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from .base import SingleStepEnv

BUNDLED_JSONL = str(Path(__file__).parent / "data" / "math_bundled.jsonl")
PROMPT = "{problem}\n\nSolve the problem step by step, then give the final answer as \\boxed{{answer}}."


class MathAnswerEnv(SingleStepEnv):
    """One math problem per episode; the final answer is checked for equivalence."""

    verifier_name: ClassVar[str] = "math"
    verifier_options: ClassVar[dict[str, Any]] = {"problem_field": "problem"}
    prompt_template: ClassVar[str] = PROMPT
    required_fields: ClassVar[tuple[str, ...]] = ("problem", "answer")
    id_field: ClassVar[str] = "task_id"
    answer_field: ClassVar[str | None] = "answer"

    def __init__(self, data: Any = None, **kwargs: Any) -> None:
        super().__init__(data if data is not None else BUNDLED_JSONL, **kwargs)

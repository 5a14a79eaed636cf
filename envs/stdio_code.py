"""Write-a-whole-program environment judged on stdin/stdout test cases in the sandbox.

## Description
``StdioCode-v0``: each problem describes a program that reads standard input and writes standard
output; the response's program is run once per test case (``python3 -I``, own time limit, own
uid) by the verifier ``stdio`` and its output compared with the expected output.

## Observation
The problem statement plus the instruction to answer with a complete Python 3 program in a
```` ```python ```` block (``str``).

## Action
The whole response (``str``); the last fenced Python (or bare) block is the program, else all of it.

## Reward
1.0 when every case exits normally with matching output, else 0.0
(``verifier_options={"partial": True}``: the fraction of cases passed). Output comparison ignores
trailing whitespace per line, trailing empty lines and ``\\r\\n`` vs ``\\n``; numeric tolerance
only when the row (``float_tol``) or the verifier options ask for it. ``info["verdict"]``:
``passed``, ``wrong_output``, ``runtime_error``, ``syntax_error``, ``timeout``, ``output_limit``,
``memory``, ``no_code``, ...

## Episode End
After one step (``terminated=True``).

## Arguments
``data``: JSONL rows ``{"task_id", "problem", "tests": [{"input", "output"}]}`` (+ optional
``float_tol``, ``canonical_solution``); default: a small bundled set. ``timeout_s``: sandbox wall
time per verification (all cases). ``verifier_options``: ``timeout_s`` (per case), ``float_tol``,
``partial``.

## Version History
* v0: initial version.

>>> import gymnasium as gym, sppo_gym.envs
>>> env = gym.make("sppo_gym/StdioCode-v0")
>>> prompt, info = env.reset(options={"index": 0})
>>> info["task_id"]
'sppo/io/sum_two'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from .base import SingleStepEnv

BUNDLED_JSONL = str(Path(__file__).parent / "data" / "stdio_bundled.jsonl")

PROMPT = (
    "{problem}\n\nWrite a complete Python 3 program that reads the input from standard input and "
    "prints the answer to standard output. Give the whole program in a single ```python code block."
)


class StdioCodeEnv(SingleStepEnv):
    """One whole program per episode, judged on stdin/stdout cases."""

    verifier_name: ClassVar[str] = "stdio"
    prompt_template: ClassVar[str] = PROMPT
    required_fields: ClassVar[tuple[str, ...]] = ("task_id", "problem", "tests")
    id_field: ClassVar[str] = "task_id"
    answer_field: ClassVar[str | None] = "canonical_solution"

    def __init__(self, data: Any = None, **kwargs: Any) -> None:
        super().__init__(data if data is not None else BUNDLED_JSONL, **kwargs)

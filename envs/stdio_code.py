"""Write-a-whole-program environment judged on stdin/stdout test cases in the sandbox.

## Description
``StdioCode-v0``: each problem describes a program that reads standard input and writes standard
output; the response's program is compiled (C++, Java, Go, Rust) and run once per test case (own
time limit, own uid) by the verifier ``stdio`` and its output compared with the expected output.
Languages: ``python`` (default), ``cpp``, ``java``, ``javascript``, ``go``, ``rust``; all but
Python need the sandbox image built with their toolchains (``sppo-gym sandbox build --languages
cpp,...`` and ``SPPO_GYM_LANGUAGES=cpp,...`` for the pool).

## Observation
The problem statement plus the instruction to answer with a complete program in the problem's
language, in a fenced block tagged with it (e.g. ```` ```cpp ````) (``str``).

## Action
The whole response (``str``); the last block tagged with the problem's language (or a bare block)
is the program, else all of it; a response whose only blocks are in another judged language scores
``wrong_language``.

## Reward
1.0 when every case exits normally with matching output, else 0.0
(``verifier_options={"partial": True}``: the fraction of cases passed). Output comparison ignores
trailing whitespace per line, trailing empty lines and ``\\r\\n`` vs ``\\n``; numeric tolerance
only when the row (``float_tol``) or the verifier options ask for it. ``info["verdict"]``:
``passed``, ``wrong_output``, ``runtime_error``, ``syntax_error``, ``compile_error``, ``timeout``,
``output_limit``, ``memory``, ``no_code``, ``wrong_language``, ...

## Episode End
After one step (``terminated=True``).

## Arguments
``data``: JSONL rows ``{"task_id", "problem", "tests": [{"input", "output"}]}`` (+ optional
``float_tol``, ``language`` (overrides the env's), ``canonical_solution`` or ``solutions``: a
reference program per language); default: a small bundled set (Python: 21 problems; other
languages: 10 problems with a reference solution in every language). ``language``: the default
language of the problems (``python``). ``timeout_s``: sandbox wall time per verification (all
cases). ``verifier_options``: ``timeout_s`` (per case), ``float_tol``, ``partial``,
``compile_timeout_s``, ``memory_mb``.

## Version History
* v0: initial version (``language`` added without changing Python's prompts or rewards, except
  that a response whose only code blocks are in another judged language is ``wrong_language``).

>>> import gymnasium as gym, sppo_gym.envs
>>> env = gym.make("sppo_gym/StdioCode-v0")
>>> prompt, info = env.reset(options={"index": 0})
>>> info["task_id"]
'sppo/io/sum_two'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from sppo_gym.verifiers.code.languages import get_language

from .base import SingleStepEnv

BUNDLED_JSONL = str(Path(__file__).parent / "data" / "stdio_bundled.jsonl")
LANGUAGES_JSONL = str(Path(__file__).parent / "data" / "stdio_languages.jsonl")
"""The bundled problems with a reference solution in every language (``solutions``)."""

LANGUAGE_PROMPT = (
    "{problem}\n\nWrite a complete {title} program that reads the input from standard input and "
    "prints the answer to standard output. Give the whole program in a single ```{fence} code block."
)
PROMPT = LANGUAGE_PROMPT.format(problem="{problem}", title="Python 3", fence="python")


class StdioCodeEnv(SingleStepEnv):
    """One whole program per episode, judged on stdin/stdout cases."""

    verifier_name: ClassVar[str] = "stdio"
    prompt_template: ClassVar[str] = PROMPT
    required_fields: ClassVar[tuple[str, ...]] = ("task_id", "problem", "tests")
    id_field: ClassVar[str] = "task_id"
    answer_field: ClassVar[str | None] = "canonical_solution"

    def __init__(self, data: Any = None, *, language: str = "python", **kwargs: Any) -> None:
        self.language = get_language(language).name
        self._own_prompt = kwargs.get("prompt") is None
        options = {"language": self.language, **(kwargs.pop("verifier_options", None) or {})}
        default = BUNDLED_JSONL if self.language == "python" else LANGUAGES_JSONL
        super().__init__(data if data is not None else default, verifier_options=options, **kwargs)

    def prepare_problem(self, problem: dict) -> dict:
        """The row with its ``language`` (the row's, else the env's) and that language's reference
        program as ``canonical_solution`` when the row has ``solutions``."""
        lang = get_language(problem.get("language") or self.language).name
        out = {**problem, "language": lang}
        solutions = problem.get("solutions")
        if isinstance(solutions, dict) and lang in solutions:
            out["canonical_solution"] = solutions[lang]
        return out

    def build_prompt(self, problem: dict) -> str:
        """The default prompt names the problem's language and its fence tag; a ``prompt`` given
        to the env is used as is."""
        if not self._own_prompt:
            return super().build_prompt(problem)
        lang = get_language(problem["language"])
        return LANGUAGE_PROMPT.format(problem=problem["problem"], title=lang.title, fence=lang.name)

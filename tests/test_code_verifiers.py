"""Code verifiers through the real Docker pool: HumanEval, MBPP-style asserts, stdin/stdout, envs."""

from __future__ import annotations

import gymnasium as gym
import pytest
import sppo_gym.envs  # noqa: F401  (registers the ids)
from sppo_gym.envs.python_tests import HumanEvalEnv, PythonTestsEnv, humaneval_rows
from sppo_gym.envs.stdio_code import StdioCodeEnv
from sppo_gym.verifiers import get_verifier

pytestmark = pytest.mark.docker


def _fenced(code: str) -> str:
    return f"Here is my solution.\n\n```python\n{code}```\n"


@pytest.fixture(scope="module")
def humaneval():
    return humaneval_rows()


def test_all_humaneval_canonical_solutions_pass_and_none_fails(sandbox_pool, humaneval):
    """All 164 canonical solutions score 1; ``return None`` scores 0 (every 3rd problem here; all
    164 in benchmarks/code_throughput.py).

    A generous budget: a few canonical solutions are slow (HumanEval/75 takes ~0.3 s of CPU) and
    a loaded CI machine must not turn them into timeouts; budgets are tested elsewhere."""
    v = get_verifier("python_tests", timeout_s=30.0)
    good = [(_fenced(p["prompt"] + p["canonical_solution"]), p) for p in humaneval]
    sample = humaneval[::3]
    bad = [(_fenced(p["prompt"] + "    return None\n"), p) for p in sample]
    scores = v.verify_batch(good + bad)
    good_s, bad_s = scores[: len(good)], scores[len(good):]
    failed = [(p["task_id"], s.verdict, s.detail) for p, s in zip(humaneval, good_s, strict=True) if not s.passed]
    assert not failed, failed
    assert all(s.reward == 1.0 and s.verdict == "passed" for s in good_s)
    wrong = [(p["task_id"], s) for p, s in zip(sample, bad_s, strict=True) if s.reward != 0.0 or s.passed]
    assert not wrong, wrong
    assert {s.verdict for s in bad_s} <= {"failed", "runtime_error"}


SQUARE_MBPP = {"task_id": "t/sq", "prompt": "Write f(x) returning x*x.", "entry_point": "f",
               "test": "assert f(1) == 1\nassert f(2) == 4\nassert f(3) == 9\nassert f(4) == 16\n"}
SQUARE_CHECK = {**SQUARE_MBPP, "test": "def check(candidate):\n    for x in range(5):\n        assert candidate(x) == x * x\n"}


@pytest.mark.parametrize(
    ("code", "problem", "options", "reward", "verdict"),
    [
        ("def f(x):\n    return x * x\n", SQUARE_MBPP, {}, 1.0, "passed"),
        ("def f(x):\n    return x * x if x < 3 else 0\n", SQUARE_MBPP, {}, 0.0, "failed"),
        ("def f(x):\n    return x * x if x < 3 else 0\n", SQUARE_MBPP, {"partial": True}, 0.5, "failed"),
        ("def f(x):\n    return 1 // (x - 3) if x == 3 else x * x\n", SQUARE_MBPP, {"partial": True}, 0.75, "runtime_error"),
        ("def f(x):\n    return x * x if x < 3 else 0\n", SQUARE_CHECK, {"partial": True}, 0.6, "failed"),
        ("def f(x):\n    raise ValueError('no')\n", SQUARE_CHECK, {}, 0.0, "runtime_error"),
        ("def f(x):\n    return float(x * x)\n", SQUARE_CHECK, {}, 1.0, "passed"),  # the test's own == decides
        ("def f(x):\n    while True:\n        pass\n", SQUARE_CHECK, {"timeout_s": 1.0}, 0.0, "timeout"),
        ("def f(x):\n    return x * x\n", {**SQUARE_CHECK, "test": "def check(candidate):\n    pass\n"}, {}, 0.0,
         "judge_error"),  # a test that checks nothing cannot pass anything
    ],
)
def test_python_tests_verdicts(sandbox_pool, code, problem, options, reward, verdict):
    score = get_verifier("python_tests", **options).verify(_fenced(code), problem)
    assert (score.reward, score.verdict) == (pytest.approx(reward), verdict), score


def test_exact_types_cross_and_exceptions_keep_their_builtin_class(sandbox_pool):
    test = (
        "def check(candidate):\n"
        "    v = candidate(1)\n"
        "    assert type(v) is tuple and type(v[0]) is bool and type(v[1]) is int and type(v[2]) is dict\n"
        "    assert type(v[3]) is frozenset and type(v[4]) is bytes and v[5] != v[5]\n"
        "    assert candidate(1, as_counter=True) == {'a': 2}\n"
        "    try:\n        candidate(-1)\n    except KeyError as e:\n        assert 'neg' in str(e)\n"
        "    else:\n        assert False\n"
        "    xs = [3, 1, 2]\n    candidate(xs, sort_arg=True)\n    assert xs == [3, 1, 2]  # arguments cross by value\n"
    )
    code = (
        "import collections\n"
        "def f(x, as_counter=False, sort_arg=False):\n"
        "    if sort_arg:\n        x.sort()\n        return None\n"
        "    if x < 0:\n        raise KeyError('neg')\n"
        "    if as_counter:\n        return collections.Counter('aa')\n"
        "    return (True, 1, {1: [2.5]}, frozenset({1}), b'\\x00', float('nan'))\n"
    )
    problem = {"task_id": "t/types", "prompt": "", "entry_point": "f", "test": test}
    score = get_verifier("python_tests").verify(code, problem)
    assert score.passed, score


def test_prompt_helpers_reach_candidate_and_test(sandbox_pool, humaneval):
    """HumanEval/32: the test calls the prompt's ``poly``; the candidate omits imports and helper."""
    p = next(q for q in humaneval if q["task_id"] == "HumanEval/32")
    body = p["canonical_solution"]
    code = "from __future__ import annotations\n\ndef find_zero(xs: list):\n" + body
    assert get_verifier("python_tests").verify(_fenced(code), p).passed


def test_int_is_not_bool_when_the_test_says_so(sandbox_pool):
    problem = {"task_id": "t/b", "prompt": "", "entry_point": "f",
               "test": "def check(candidate):\n    assert candidate() is True\n"}
    assert get_verifier("python_tests").verify("def f():\n    return 1\n", problem).verdict == "failed"
    assert get_verifier("python_tests").verify("def f():\n    return True\n", problem).passed


def test_no_code_and_malformed_responses_score_zero_without_exceptions(sandbox_pool):
    v = get_verifier("python_tests")
    scores = v.verify_batch([("", SQUARE_CHECK), ("```python\n```", SQUARE_CHECK), ("\x00" * 10, SQUARE_CHECK),
                             ("x" * 200_000, SQUARE_CHECK), ("\ud800", SQUARE_CHECK)])
    assert [s.verdict for s in scores] == ["no_code", "no_code", "syntax_error", "response_too_long", "invalid_response"]
    assert all(s.reward == 0.0 for s in scores)


SUM = {"task_id": "t/sum", "problem": "a+b", "tests": [{"input": "1 2\n", "output": "3\n"}, {"input": "2 2\n", "output": "4\n"}]}


@pytest.mark.parametrize(
    ("code", "options", "reward", "verdict"),
    [
        ("a, b = map(int, input().split())\nprint(a + b)\n", {}, 1.0, "passed"),
        ("import sys\na, b = map(int, input().split())\nsys.stdout.write(f'{a + b}  \\r\\n\\n')\n", {}, 1.0, "passed"),
        ("a, b = map(int, input().split())\nprint(a + b if a == 1 else 0)\n", {}, 0.0, "wrong_output"),
        ("a, b = map(int, input().split())\nprint(a + b if a == 1 else 0)\n", {"partial": True}, 0.5, "wrong_output"),
        ("a, b = map(int, input().split())\nprint((a + b) * 1.0000001)\n", {}, 0.0, "wrong_output"),
        ("a, b = map(int, input().split())\nprint((a + b) * 1.0000001)\n", {"float_tol": 1e-6}, 1.0, "passed"),
        ("raise ValueError('x')\n", {}, 0.0, "runtime_error"),
        ("print(\n", {}, 0.0, "syntax_error"),
        ("while True:\n    pass\n", {"timeout_s": 0.5}, 0.0, "timeout"),
    ],
)
def test_stdio_verdicts(sandbox_pool, code, options, reward, verdict):
    score = get_verifier("stdio", **options).verify(_fenced(code), SUM)
    assert (score.reward, score.verdict) == (pytest.approx(reward), verdict), score


@pytest.mark.parametrize("env_cls", [PythonTestsEnv, StdioCodeEnv])
def test_bundled_reference_solutions_pass(sandbox_pool, env_cls):
    env = env_cls()
    problems = [env.source[i] for i in range(len(env.source))]
    responses = [_fenced(env.reference_answer(p)) for p in problems]
    scores = env.verifier.verify_batch(list(zip(responses, problems, strict=True)))
    failed = [(p["task_id"], s.verdict, s.detail) for p, s in zip(problems, scores, strict=True) if not s.passed]
    assert not failed, failed


@pytest.mark.parametrize("env_id", ["sppo_gym/PythonTests-v0", "sppo_gym/HumanEval-v0", "sppo_gym/StdioCode-v0"])
def test_env_step_and_vector_env(sandbox_pool, env_id):
    env = gym.make(env_id)
    prompt, info = env.reset(options={"index": 1})
    assert "```python" in prompt and info["answer"]
    _, reward, terminated, truncated, info = env.step(_fenced(info["answer"]))
    assert (reward, terminated, truncated, info["verdict"], info["passed"]) == (1.0, True, False, "passed", True)
    envs = gym.make_vec(env_id, num_envs=3)
    _, infos = envs.reset(options={"index": [0, 1, 2]})
    _, rewards, *_, infos = envs.step(["", _fenced("def broken(:\n"), _fenced(infos["answer"][2])])
    assert list(rewards) == [0.0, 0.0, 1.0]
    assert list(infos["verdict"])[:2] == ["no_code", "syntax_error"]


def test_humaneval_env_prompt_asks_for_whole_function():
    env = HumanEvalEnv()
    assert len(env.source) == 164
    prompt, info = env.reset(options={"task_id": "HumanEval/0"})
    assert "def has_close_elements(" in prompt and "whole function" in prompt
    assert info["answer"].startswith("from typing import List")
    with pytest.raises(TypeError):
        HumanEvalEnv(data="x.jsonl")

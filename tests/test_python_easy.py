"""The bundled easy PythonTests set (``data="easy"``): every canonical solution passes in the real
sandbox, wrong answers do not, the train and test splits hold different problems, and no prompt
gives its solution away. It is the code task SPPO is shown learning on (docs/BENCHMARKS.md), so a
test that passes anything or a test problem seen in training would make that figure meaningless."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import gymnasium as gym
import pytest
import sppo_gym.envs  # noqa: F401  (registers the ids)
from sppo_gym.envs.python_tests import EASY_JSONL
from sppo_gym.verifiers import get_verifier

SPLITS = ("train", "test")


def _rows(split: str) -> list[dict]:
    return [json.loads(line) for line in Path(EASY_JSONL[split]).read_text().splitlines() if line.strip()]


ROWS = {split: _rows(split) for split in SPLITS}
ALL = ROWS["train"] + ROWS["test"]


def _fenced(code: str) -> str:
    return f"Here is the function.\n\n```python\n{code}```\n"


def _params(row: dict) -> list[str]:
    """Parameter names of the canonical solution's entry point."""
    fn = next(n for n in ast.parse(row["canonical_solution"]).body if isinstance(n, ast.FunctionDef))
    return [a.arg for a in fn.args.args]


def test_rows_have_the_bundled_format_and_unique_ids():
    fields = {"task_id", "prompt", "entry_point", "test", "canonical_solution"}
    assert all(set(row) == fields for row in ALL)
    assert len({row["task_id"] for row in ALL}) == len(ALL)
    assert len(ROWS["train"]) >= 60 and len(ROWS["test"]) >= 60
    for row in ALL:
        tree = ast.parse(row["test"])
        asserts = [n for n in tree.body if isinstance(n, ast.Assert)]
        assert len(asserts) == len(tree.body) >= 2, row["task_id"]  # MBPP-style: assert lines only
        calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
        assert row["entry_point"] in calls, row["task_id"]
        assert f"`{row['entry_point']}(" in row["prompt"], row["task_id"]  # the prompt names the signature


def test_splits_are_disjoint_problems():
    """Different entry points, prompts and solutions: held-out accuracy measures problems never trained on."""
    for key in ("task_id", "entry_point", "prompt"):
        train, test = {r[key] for r in ROWS["train"]}, {r[key] for r in ROWS["test"]}
        assert not train & test, (key, train & test)

    def body(row: dict) -> str:  # the solution without its name: catches one function bundled twice
        return row["canonical_solution"].split(":", 1)[1].strip()

    bodies = [body(r) for r in ALL]
    assert len(set(bodies)) == len(bodies), [b for b in bodies if bodies.count(b) > 1]


def test_prompts_do_not_contain_the_solution():
    for row in ALL:
        assert "def " not in row["prompt"] and "return " not in row["prompt"], row["task_id"]
        for line in row["canonical_solution"].splitlines()[1:]:
            assert line.strip() not in row["prompt"], (row["task_id"], line)


def test_env_loads_each_split_and_rejects_others():
    for split in SPLITS:
        env = gym.make("sppo_gym/PythonTests-v0", data="easy", split=split)
        assert len(env.unwrapped.source) == len(ROWS[split])
        prompt, info = env.reset(options={"index": 0})
        assert info["task_id"] == ROWS[split][0]["task_id"] and ROWS[split][0]["prompt"] in prompt
        assert info["answer"] == ROWS[split][0]["canonical_solution"]
        env.close()
    with pytest.raises(ValueError, match="splits"):
        gym.make("sppo_gym/PythonTests-v0", data="easy", split="validation")


@pytest.mark.docker
def test_every_canonical_solution_passes_and_wrong_answers_fail(sandbox_pool):
    """All canonical solutions score 1 in the sandbox; on every problem, answers that return a
    constant or the first argument unchanged score 0 (the asserts really test the function)."""
    v = get_verifier("python_tests", timeout_s=30.0)
    good = [(_fenced(r["canonical_solution"]), r) for r in ALL]
    bad = []
    for r in ALL:
        head = f"def {r['entry_point']}({', '.join(_params(r))}):\n"
        for body in ("return None", "return 0", "return True", "return False", f"return {_params(r)[0]}"):
            bad.append((_fenced(f"{head}    {body}\n"), r))
    scores = v.verify_batch(good + bad)
    good_s, bad_s = scores[: len(good)], scores[len(good):]
    failed = [(r["task_id"], s.verdict, s.detail) for r, s in zip(ALL, good_s, strict=True) if s.reward != 1.0]
    assert not failed, failed
    passed = [(r["task_id"], a) for (a, r), s in zip(bad, bad_s, strict=True) if s.reward != 0.0 or s.passed]
    assert not passed, passed


@pytest.mark.docker
def test_env_step_pays_the_canonical_solution_through_the_gym_api(sandbox_pool):
    env = gym.make("sppo_gym/PythonTests-v0", data="easy", split="test")
    _, info = env.reset(options={"index": 3})
    _, reward, terminated, _, info = env.step(_fenced(info["answer"]))
    assert (reward, terminated, info["verdict"]) == (1.0, True, "passed")
    _, info = env.reset(options={"index": 3})
    _, reward, _, _, info = env.step("I am not sure how to write this function.")
    assert reward == 0.0 and info["verdict"] != "passed"
    env.close()


# Wrong programs that passed the first version of these tests. The first four were written by
# SPPO-trained policies (read in their held-out answers); the rest are the same kinds of slip on
# problems whose tests had the same gap. Each must now fail.
NEAR_MISSES = {
    "count_negatives": "def count_negatives(nums):\n    return len(set(x for x in nums if x < 0))\n",
    "strip_whitespace": "def strip_whitespace(s):\n    return s.strip().join(s.split())\n",
    "remove_vowels": "def remove_vowels(s):\n    return ''.join(c for c in s if c not in 'aeiou-')\n",
    "round_to_int": "def round_to_int(x):\n    return round(x, 0)\n",
    "count_vowels": "def count_vowels(s):\n    return sum(c in 'aeiouAEIOU' for c in s)\n",
    "remove_spaces": "def remove_spaces(s):\n    return ''.join(s.split())\n",
    "is_uppercase": "def is_uppercase(s):\n    return s == s.upper()\n",
}


@pytest.mark.docker
def test_near_miss_programs_fail(sandbox_pool):
    by_entry = {r["entry_point"]: r for r in ALL}
    assert set(NEAR_MISSES) <= set(by_entry)
    v = get_verifier("python_tests", timeout_s=30.0)
    items = [(_fenced(code), by_entry[name]) for name, code in NEAR_MISSES.items()]
    scores = v.verify_batch(items)
    paid = [name for name, s in zip(NEAR_MISSES, scores, strict=True) if s.reward != 0.0]
    assert not paid, paid
    assert all(s.verdict == "failed" for s in scores), [s.verdict for s in scores]

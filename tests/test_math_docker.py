"""The math verifier through the real Docker sandbox: a sample of the labelled set (with its
problem text where a row has one), injection and tower-of-powers attempts (reward 0, host
untouched, pool healthy), and both math envs. The final-form verdicts on the envs:
``test_math_final.py``."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import gymnasium as gym
import pytest
import sppo_gym.envs  # noqa: F401  (registers the ids)
from sppo_gym.sandbox import Job
from sppo_gym.verifiers import get_verifier
from sppo_gym.verifiers.math.extract import extract_gold

pytestmark = pytest.mark.docker

DATA = Path(__file__).resolve().parents[1] / "verifiers" / "math" / "data" / "math_equivalence.jsonl"
ROWS = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
SAMPLE = ROWS[::9]  # ~40 rows, every category


def assert_healthy(pool) -> None:
    res = pool.run(Job("sppo_gym.sandbox.selftest:echo", {"still": "fine"}))
    assert (res.status, res.value) == ("ok", {"still": "fine"})


def test_labelled_sample_in_sandbox(sandbox_pool) -> None:
    assert len(SAMPLE) >= 40
    problems = [{"answer": r["gold"], **({"problem": r["problem"]} if "problem" in r else {})} for r in SAMPLE]
    assert any("problem" in p for p in problems)  # the final-form rows travel with their problem text
    scores = get_verifier("math").verify_batch([(r["response"], p) for r, p in zip(SAMPLE, problems, strict=True)])
    got = [(r["id"], s.reward) for r, s in zip(SAMPLE, scores, strict=True)]
    assert got == [(r["id"], float(r["expected"])) for r in SAMPLE], [s.detail for s in scores]
    assert all(s.verdict != "sandbox_error" for s in scores)


def test_injection_and_towers_score_zero_and_leave_host_untouched(sandbox_pool) -> None:
    marker = Path(f"/tmp/sppo-math-pwned-{uuid.uuid4().hex}")
    attacks = [
        rf"\boxed{{__import__('os').system('touch {marker}')}}",
        f"The answer is __import__('os').system('touch {marker}')",
        f"Answer: exec(\"open('{marker}', 'w')\")",
        r"\boxed{\dfrac{5^{\left(5^{\left(5^{\left(5^5\right)}\right)} - 4\right)} - 5}{16}}",
        r"\boxed{9^{9^{9^{9^{9}}}}}",
        "Answer: 9**9**9**9**9",
        r"\boxed{(10^{10^{10}})!}",
    ]
    scores = get_verifier("math").verify_batch([(a, {"answer": "5"}) for a in attacks])
    for attack, s in zip(attacks, scores, strict=True):
        assert s.reward == 0.0 and not s.passed, (attack, s)
        assert s.verdict in {"parse_error", "wrong", "no_answer", "timeout"}, (attack, s)
    assert not marker.exists()
    assert_healthy(sandbox_pool)


def test_arithmetic_env_default_task(sandbox_pool) -> None:
    env = gym.make("sppo_gym/Arithmetic-v0")
    prompt, info = env.reset(seed=7)
    assert prompt.startswith("What is ") and " + " in prompt
    assert prompt.endswith("Give your final answer as: Answer: <number>")
    a, b = (int(x) for x in prompt.split("?")[0].removeprefix("What is ").split(" + "))
    assert info["answer"] == str(a + b)
    replies = [f"{a} + {b} = {a + b}", f"The sum is {a + b}.", f"{a + b} or {a + b + 1}", f"{a + b + 1}"]
    rewards = []
    for reply in replies:
        env.reset(seed=7)
        _, reward, terminated, truncated, info = env.step(reply)
        assert terminated and not truncated
        rewards.append((reward, info["verdict"]))
    assert rewards == [(1.0, "correct"), (1.0, "correct"), (0.0, "hedged"), (0.0, "wrong")]


def test_math_answer_bundled_references_score_one(sandbox_pool) -> None:
    env = gym.make("sppo_gym/MathAnswer-v0")
    n = len(env.unwrapped.source)
    assert n >= 40
    problems = [env.unwrapped.source[i] for i in range(n)]
    verifier = env.unwrapped.verifier
    scores = verifier.verify_batch([(f"The final answer is $\\boxed{{{extract_gold(p['answer'])}}}$.", p)
                                    for p in problems])
    assert [s.verdict for s in scores] == ["correct"] * n
    wrong = verifier.verify_batch([("The answer is 123456789.", p) for p in problems[:5]])
    assert [s.reward for s in wrong] == [0.0] * 5

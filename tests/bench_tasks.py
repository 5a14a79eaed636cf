"""A small in-process task for the bench tests: exact sums, one problem whose 'sandbox' fails.

Registered with :func:`sppo_gym.envs.register_task` (a trusted verifier callable, no Docker), so
the bench tests exercise the real Gymnasium path (make, make_vec, reset, step) in seconds.
"""

from __future__ import annotations

import gymnasium as gym
from sppo_gym.envs import register_task
from sppo_gym.verifiers import Score

SUM_ID = "bench_test/Sum-v0"
N_PROBLEMS = 12
FLAKY_INDEX = 5  # this problem's verification reports an infrastructure failure ...
FLAKY = {"on": True}  # ... while this is on (tests switch it off to see a resume verify it again)
LAX = {"on": False}  # while on, the verifier also pays the wrong reply "-1" (a test with a gap)


def problems() -> list[dict]:
    return [{"task_id": f"sum/{i}", "a": i, "b": 10 + i, "answer": str(2 * i + 10), "flaky": i == FLAKY_INDEX}
            for i in range(N_PROBLEMS)]


def sum_verifier(response: str, problem: dict) -> Score:
    """1.0 for the exact sum; a ``sandbox_error`` verdict for the flaky problem, as the sandbox gives."""
    if problem["flaky"] and FLAKY["on"]:
        return Score(0.0, "sandbox_error", detail="injected infrastructure failure")
    ok = response.strip() == problem["answer"] or (LAX["on"] and response.strip() == "-1")
    return Score(1.0 if ok else 0.0, "correct" if ok else "wrong", passed=ok)


def register_sum_task() -> str:
    if SUM_ID not in gym.registry:
        register_task(SUM_ID, problems=problems(), verifier=sum_verifier,
                                    prompt="Compute {a} + {b}. Reply with the number only.")
    return SUM_ID


def parse_sum(prompt: str) -> int:
    """The correct answer to a Sum-v0 prompt (what a perfect policy replies)."""
    a, b = prompt.removeprefix("Compute ").split(".")[0].split(" + ")
    return int(a) + int(b)

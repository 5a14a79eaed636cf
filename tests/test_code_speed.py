"""Runtime-efficiency ("speed") rewards of the Python-tests verifier, through the real Docker pool.

The problem counts the distinct values of a list; the reference uses a set (linear), the slow
answer a list scan (quadratic). Rewards of correct answers must order them; wrong, timed-out and
clock-tampering answers must not gain anything.

The gaps are wide on purpose, so that a loaded CI machine cannot close them: on the test's input
the slow answer's extra CPU time is ~25x the ``eps`` of the reward formula (half the fixed cost
of a call; both scale with the machine's speed), a ratio of ~0.04 against the floor of 0.1, so it
and every slow-but-tampering answer earn exactly the floor, while a set-based answer is within
noise of the reference (~0.9-1.0). A tamper that worked would look fast and earn far more.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import gymnasium as gym
import pytest
import sppo_gym.envs  # noqa: F401  (registers the ids)
from sppo_gym.verifiers.code.python_tests import PythonTestsVerifier


def _load_benchmark(name: str) -> ModuleType:
    """The problem and answers are benchmarks/speed_reward_noise.py's (benchmarks are scripts, not
    a package, and may not import from tests/, so the test loads the script's module)."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


speed_reward_noise = _load_benchmark("speed_reward_noise")

N = 5500  # quadratic: 1500 left the slow answer at ~0.2, within reach of noise on a loaded machine
DISTINCT = speed_reward_noise.distinct_problem(N)
FAST, SLOW = speed_reward_noise.FAST, speed_reward_noise.SLOW
SLOW_BODY = SLOW.replace("def count_distinct(xs):", "def slow(xs):")

# Each is correct but slow; each tries to look faster than it is.
TAMPER = {
    "patch_clocks": "import os, time\nfor n in ('perf_counter', 'monotonic', 'time', 'process_time', 'thread_time'):\n"
                    "    setattr(time, n, lambda: 0.0)\n    setattr(time, n + '_ns', lambda: 0)\n"
                    "time.clock_gettime = lambda *a: 0.0\nos.times = lambda: os.times_result((0.0,) * 5)\n"
                    + SLOW,
    "thread_offload": "import threading\n" + SLOW_BODY
                      + "def count_distinct(xs):\n    out = []\n    try:\n"
                        "        t = threading.Thread(target=lambda: out.append(slow(xs)))\n        t.start()\n        t.join()\n"
                        "    except RuntimeError:\n        out.append(slow(xs))\n    return out[0]\n",
    "fork_worker": "import os\n" + SLOW_BODY
                   + "def count_distinct(xs):\n    try:\n        r, w = os.pipe()\n        if os.fork() == 0:\n"
                     "            os.write(w, str(slow(xs)).encode())\n            os._exit(0)\n"
                     "        os.close(w)\n        return int(os.read(r, 64))\n    except OSError:\n        return slow(xs)\n",
    "cache_across_runs": "import json, os\n" + SLOW_BODY
                         + "P = '/scratch/speed-cache-h9a'\ndef count_distinct(xs):\n    k = str(hash(tuple(xs)))\n"
                           "    try:\n        with open(P) as f:\n            c = json.load(f)\n    except OSError:\n        c = {}\n"
                           "    if k not in c:\n        c[k] = slow(xs)\n        try:\n            with open(P, 'w') as f:\n"
                           "                json.dump(c, f)\n            os.chmod(P, 0o666)\n        except OSError:\n"
                           "            pass\n    return c[k]\n",
    "cache_in_dir_times": "import os\n" + SLOW_BODY
                          + "MARK = 123456789\ndef count_distinct(xs):\n    me = os.getuid()\n"
                            "    for k in range(1, 9):\n        try:\n            st = os.stat(f'/scratch/c{me - k}')\n"
                            "        except OSError:\n            continue\n"
                            "        if st.st_mtime_ns == MARK + len(xs):\n            return st.st_atime_ns\n"
                            "    n = slow(xs)\n    os.utime(os.getcwd(), ns=(n, MARK + len(xs)))\n    return n\n",
}
CACHES = ("cache_across_runs", "cache_in_dir_times")
"""Caches across timed runs: detected, so the answer is correct but untimed (the floor)."""

TRIALS = 10
FLOOR = 0.1  # the verifier's default speed_floor


@pytest.fixture(scope="module")
def scores(sandbox_pool):
    """Everything in one batch: 10 slow + 10 fast trials, the tamper cases, a wrong answer."""
    v = PythonTestsVerifier(reward="speed", speed_min_rounds=2, speed_min_time_s=0.0)
    items = [SLOW] * TRIALS + [FAST] * TRIALS + list(TAMPER.values()) + ["def count_distinct(xs):\n    return len(xs)\n"]
    out = v.verify_batch([(src, DISTINCT) for src in items])
    return {"slow": out[:TRIALS], "fast": out[TRIALS:2 * TRIALS],
            **dict(zip(TAMPER, out[2 * TRIALS:-1], strict=True)), "wrong": out[-1]}


pytestmark = pytest.mark.docker


def test_slow_and_fast_are_ordered(scores):
    for s in scores["slow"] + scores["fast"]:
        assert s.passed and s.verdict == "passed", s
        assert s.extra["speed"]["clock"] == "cpu", s.extra
    assert {s.reward for s in scores["slow"]} == {FLOOR}, [s.extra["speed"] for s in scores["slow"]]
    assert min(f.reward for f in scores["fast"]) > 2 * FLOOR, [f.extra["speed"] for f in scores["fast"]]


def test_fast_but_wrong_scores_zero(scores):
    s = scores["wrong"]
    assert (s.reward, s.verdict, s.passed) == (0.0, "failed", False), s
    assert "speed" not in s.extra


@pytest.mark.parametrize("name", list(TAMPER))
def test_tampering_does_not_raise_the_score(scores, name):
    s = scores[name]
    assert s.verdict == "passed" and s.reward > 0, s
    assert s.reward == FLOOR, (s.reward, s.extra)  # what the honest slow answer earns
    if name in CACHES:
        assert "untimed" in s.extra["speed"], s


def test_timeout_scores_zero(sandbox_pool):
    v = PythonTestsVerifier(reward="speed", timeout_s=1.0)
    sleepy = "import time\ndef count_distinct(xs):\n    time.sleep(5)\n    return len(set(xs))\n"
    busy = "def count_distinct(xs):\n    while True:\n        pass\n"
    for s in v.verify_batch([(sleepy, DISTINCT), (busy, DISTINCT)]):
        assert (s.reward, s.verdict, s.passed) == (0.0, "timeout", False), s


def test_humaneval_env_speed_reward(sandbox_pool):
    env = gym.make("sppo_gym/HumanEval-v0", reward="speed")
    _, info = env.reset(options={"index": 0})
    _, reward, terminated, _, info = env.step(f"```python\n{info['answer']}```")
    # the reference against itself: near 1, far above the floor a broken timing would leave it at
    assert terminated and info["verdict"] == "passed" and reward > 2 * FLOOR, info
    assert set(info["speed"]) >= {"t_candidate", "t_reference", "t_overhead", "ratio"}, info["speed"]
    env.close()

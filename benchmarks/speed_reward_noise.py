"""Noise of the runtime-efficiency reward (``reward="speed"``): how much the score of the SAME
solution varies across runs, and how far apart a slow and a fast correct solution land.

    python benchmarks/speed_reward_noise.py [--repeats 10] [--problems 0,13,39,63] [--out FILE]

* Part 1: every listed HumanEval problem's canonical solution is scored ``--repeats`` times
  against itself (the reference is the same code), interleaved over the warm Docker pool. An
  ideal timer gives ratio 1 and reward 1 every time; the spread of ``ratio`` is the noise.
* Part 2: the slow (list scan, quadratic) and fast (set) solutions of the count-distinct problem
  (``DISTINCT`` below), ``--repeats`` times each: mean, spread and how often the
  slow one scores below the fast one.

Run it on a quiet machine (it prints the load average before and after) and report both.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from sppo_gym.envs.python_tests import humaneval_rows
from sppo_gym.verifiers.code.python_tests import PythonTestsVerifier, reference_source

# Part 2's problem. tests/test_code_speed.py judges the same problem and answers (at a larger n, so
# that the slow answer lands exactly on the floor even on a loaded machine); it imports them from
# here because benchmarks may not import from tests/.
N = 1500  # the size docs/REWARDS.md's figures were measured at


def distinct_problem(n: int) -> dict:
    """Count the distinct values of a list of 2n items with n distinct values."""
    return {
        "task_id": "speed/distinct",
        "prompt": "Write `count_distinct(xs)`: the number of distinct values in the list `xs`.",
        "entry_point": "count_distinct",
        "test": f"xs = [(i * 7919) % {n} for i in range({2 * n})]\n"
                f"assert count_distinct(xs) == {n}\nassert count_distinct([]) == 0\nassert count_distinct([3, 3]) == 1\n",
        "canonical_solution": "def count_distinct(xs):\n    return len(set(xs))\n",
    }


DISTINCT = distinct_problem(N)
FAST = DISTINCT["canonical_solution"]  # a set: linear
SLOW = ("def count_distinct(xs):\n    seen = []\n    for x in xs:\n        if x not in seen:\n"
        "            seen.append(x)\n    return len(seen)\n")  # a list scan: quadratic


def summary(scores: list) -> dict:
    rewards = [s.reward for s in scores]
    ratios = [s.extra["speed"]["ratio"] for s in scores if s.extra.get("speed", {}).get("ratio") is not None]
    return {
        "n": len(scores), "passed": sum(s.passed for s in scores),
        "reward_mean": statistics.fmean(rewards), "reward_std": statistics.pstdev(rewards),
        "reward_min": min(rewards), "reward_max": max(rewards),
        "ratio_mean": statistics.fmean(ratios) if ratios else None,
        "ratio_std": statistics.pstdev(ratios) if ratios else None,
        "t_reference_ms": 1e3 * statistics.median(s.extra["speed"]["t_reference"] for s in scores if s.passed),
        "t_overhead_ms": 1e3 * statistics.median(s.extra["speed"]["t_overhead"] for s in scores if s.passed),
        "rounds": statistics.median(s.extra["speed"]["rounds"] for s in scores if s.passed),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--problems", default="0,13,39,63", help="HumanEval indices")
    ap.add_argument("--out", default=None, help="write the summary as JSON here")
    args = ap.parse_args()
    rows = humaneval_rows()
    probs = [rows[int(i)] for i in args.problems.split(",")]
    v = PythonTestsVerifier(reward="speed")
    v.verify(FAST, DISTINCT)  # warm the pool (and build the image) before timing anything
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    items = [(f"```python\n{reference_source(p)}```", p) for _ in range(args.repeats) for p in probs]
    items += [(src, DISTINCT) for _ in range(args.repeats) for src in (SLOW, FAST)]
    scores = v.verify_batch(items)
    wall = time.perf_counter() - t0
    n_he = args.repeats * len(probs)
    out: dict = {"load_before": load0, "load_after": os.getloadavg(), "wall_s": wall, "repeats": args.repeats,
                 "self": {}, "distinct": {}}
    for j, p in enumerate(probs):
        out["self"][p["task_id"]] = summary(scores[j:n_he:len(probs)])
    slow, fast = scores[n_he::2], scores[n_he + 1::2]
    out["distinct"] = {"slow": summary(slow), "fast": summary(fast),
                       "ordered": sum(a.reward < b.reward for a, b in zip(slow, fast, strict=True))}
    print(json.dumps(out, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()

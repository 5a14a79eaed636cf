"""In-process CPU cost of the math verifier's final-form rules (``verifiers/math/final.py``).

Grades every pair of ``verifiers/math/data/math_equivalence.jsonl`` with ``math_judge.grade`` three
ways -- rules off, rules on without problem text, rules on with it -- and prints pairs per CPU
second (best of ``--repeats``; the rules' parse caches are cleared before every pass, as in a fresh
sandbox job)::

    python benchmarks/math_final_cost.py --repeats 3
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import sppo_gym.verifiers.math.final as math_final
import sppo_gym.verifiers.math.judge as math_judge

DATA = Path(__file__).resolve().parents[1] / "verifiers" / "math" / "data" / "math_equivalence.jsonl"


def one_pass(rows: list[dict], rules: bool, with_problem: bool) -> float:
    """CPU seconds to grade all rows once."""
    real = math_judge.final_verdict
    if not rules:
        math_judge.final_verdict = lambda *a, **k: ("correct", "")
    math_final.raw_tree.cache_clear()
    math_final.problem_expressions.cache_clear()
    try:
        t0 = time.process_time()
        for r in rows:
            math_judge.grade(r["response"], r["gold"], r.get("problem") if with_problem else None)
        return time.process_time() - t0
    finally:
        math_judge.final_verdict = real


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    rows = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    one_pass(rows, True, True)  # warm sympy's lazy imports and the grammar's caches
    for label, rules, with_problem in [("rules off", False, False), ("rules on, no problem text", True, False),
                                       ("rules on, with problem text", True, True)]:
        best = min(one_pass(rows, rules, with_problem) for _ in range(args.repeats))
        print(f"{label:30} {len(rows) / best:7.1f} pairs/s ({best:.2f} s CPU for {len(rows)} pairs)")


if __name__ == "__main__":
    main()

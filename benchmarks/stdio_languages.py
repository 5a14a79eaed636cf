"""Stdio judging throughput per language: compile + run of the bundled reference solutions.

    python benchmarks/stdio_languages.py [--repeats 3] [--pool-size N] [--languages cpp,java,...] [--out FILE]

Each leg judges the 10 problems of ``envs/data/stdio_languages.jsonl`` (2-3 stdin/stdout cases
each) with their reference solution in one language, as one batch through a warm Docker pool on
the image with every toolchain (``sppo-gym sandbox build --languages all``): per problem one job
= compile (C++, Java, Go, Rust; JavaScript's syntax check) as a candidate of its own, then one
fresh candidate per case. Python (no compile step, ``python3 -I`` per case) is measured in the
same run, on the same pool, and every language's rate is reported relative to it. Legs alternate
languages within each repeat; medians are reported. Every solution must pass (the script exits
non-zero otherwise), so a rate never hides a broken judge.

Reported per language: problems/s (median wall time of the batch), the judge's mean seconds per
problem (``Score.elapsed``: compile + every case, measured inside the sandbox), and the ratio to
Python's problems/s. The pool is warmed (every container has served a job in every language)
before timing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

from sppo_gym.sandbox import SandboxPool, set_pool
from sppo_gym.sandbox.image import ensure_image
from sppo_gym.sandbox.languages import LANGUAGES, parse_languages
from sppo_gym.verifiers.code.stdio import StdioVerifier

DATA = Path(__file__).resolve().parents[1] / "envs" / "data" / "stdio_languages.jsonl"


def items_for(rows: list[dict], lang: str) -> list[tuple[str, dict]]:
    return [(f"```{lang}\n{row['solutions'][lang]}```", {**row, "language": lang}) for row in rows]


def leg(verifier: StdioVerifier, items: list[tuple[str, dict]]) -> tuple[float, float]:
    """Wall seconds of one batch and the judges' mean seconds per problem; every item must pass."""
    t0 = time.perf_counter()
    scores = verifier.verify_batch(items)
    wall = time.perf_counter() - t0
    bad = [(p["task_id"], s.verdict, s.detail[:200]) for (_, p), s in zip(items, scores, strict=True) if not s.passed]
    if bad:
        sys.exit(f"reference solutions failed: {bad}")
    return wall, statistics.mean(s.elapsed for s in scores)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--pool-size", type=int, default=0, help="containers (default: the pool's default)")
    ap.add_argument("--languages", default="all", help="comma-separated; Python is always measured")
    ap.add_argument("--timeout", type=float, default=30.0, help="per-case limit (only decides when a case gives up)")
    ap.add_argument("--out", default="", help="write the results as JSON here too")
    args = ap.parse_args()
    langs = parse_languages(args.languages)
    rows = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    tag = ensure_image(languages=LANGUAGES)
    pool = SandboxPool(size=args.pool_size or None, image=tag)
    set_pool(pool)
    verifier = StdioVerifier(timeout_s=args.timeout, compile_timeout_s=120.0)
    items = {lang: items_for(rows, lang) for lang in langs}
    for _ in range(2):  # warm: every container serves each language once (page cache, zygote)
        for lang in langs:
            leg(verifier, items[lang][: pool.size])
    walls: dict[str, list[float]] = {lang: [] for lang in langs}
    judge: dict[str, list[float]] = {lang: [] for lang in langs}
    for r in range(args.repeats):
        order = list(langs) if r % 2 == 0 else list(reversed(langs))
        for lang in order:
            wall, per = leg(verifier, items[lang])
            walls[lang].append(wall)
            judge[lang].append(per)
    pool.close()
    n = len(rows)
    py_rate = n / statistics.median(walls["python"])
    result = {"image": tag, "pool_size": pool.size, "problems": n, "repeats": args.repeats,
              "cpus": len(os.sched_getaffinity(0)), "load_avg": os.getloadavg(), "python": platform.python_version(),
              "languages": {}}
    print(f"{n} problems per leg, pool of {pool.size}, {args.repeats} repeats, image {tag}")
    print(f"{'language':<11} {'problems/s':>10} {'judge s/problem':>16} {'vs python':>10}")
    for lang in langs:
        rate = n / statistics.median(walls[lang])
        per = statistics.median(judge[lang])
        result["languages"][lang] = {"problems_per_s": rate, "judge_s_per_problem": per,
                                     "relative_to_python": rate / py_rate, "walls_s": walls[lang]}
        print(f"{lang:<11} {rate:>10.2f} {per:>16.2f} {rate / py_rate:>9.2f}x")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

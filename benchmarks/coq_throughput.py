"""Coq proofs checked per second over the built-in theorem set: warm sandbox pool vs a fresh
container per proof, same verifier code, same concurrency, measured in the same run.

    python benchmarks/coq_throughput.py [--n 336] [--fresh-n 24] [--pool-size N] [--timeout 30]

Each check is the full pipeline of the ``coq`` verifier (screen, [preamble,] coqc on the
candidate, the trusted statement check with Print Assumptions, coqchk). The warm path is
``CoqVerifier.verify_batch`` on the process pool; the baseline starts a one-container pool per
proof (container start + the same job + teardown). Every reference proof must come back
``proved``; the script fails otherwise, so a throughput number never hides a broken check.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from sppo_gym.sandbox import Job, SandboxPool, set_pool
from sppo_gym.verifiers import get_verifier
from sppo_gym.verifiers.base import score_from_result
from sppo_gym.verifiers.coq_theorems import build


def response(row: dict) -> str:
    return f"```coq\n{row['proof']}\n```"


def pick(rows: list[dict], n: int) -> list[dict]:
    """``n`` rows spread evenly over the set (file order groups families together)."""
    if n >= len(rows):
        return rows
    step = len(rows) / n
    return [rows[int(i * step)] for i in range(n)]


def bench_warm(pool: SandboxPool, rows: list[dict], timeout: float) -> tuple[float, list]:
    verifier = get_verifier("coq", compile_timeout_s=timeout, check_timeout_s=timeout)
    warm_rows = pick(rows, pool.size)
    pool.warm()
    verifier.verify_batch([(response(r), r) for r in warm_rows])  # every container has run a job once
    t0 = time.perf_counter()
    scores = verifier.verify_batch([(response(r), r) for r in rows])
    dt = time.perf_counter() - t0
    return len(rows) / dt, scores


def bench_fresh(rows: list[dict], workers: int, timeout: float) -> tuple[float, list]:
    verifier = get_verifier("coq", compile_timeout_s=timeout, check_timeout_s=timeout)

    def one(row: dict):
        job = Job(verifier.entry, verifier.payload(response(row), row), verifier.limits)
        with SandboxPool(1) as pool:  # a new hardened container for this proof alone
            return score_from_result(pool.run(job))

    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as ex:
        scores = list(ex.map(one, rows))
    return len(rows) / (time.perf_counter() - t0), scores


def check(label: str, rows: list[dict], scores: list) -> None:
    bad = [(r["name"], s.verdict, s.detail[:120]) for r, s in zip(rows, scores, strict=True) if s.verdict != "proved"]
    if bad:
        raise SystemExit(f"{label}: {len(bad)} reference proofs not proved: {bad[:5]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=336, help="proofs for the warm pool (default: the whole set)")
    ap.add_argument("--fresh-n", type=int, default=24, help="proofs for the fresh-container baseline")
    ap.add_argument("--pool-size", type=int, default=None)
    ap.add_argument("--timeout", type=float, default=30.0, help="compile_timeout_s and check_timeout_s")
    args = ap.parse_args()
    rows = build()
    warm_rows, fresh_rows = pick(rows, args.n), pick(rows, args.fresh_n)
    with SandboxPool(args.pool_size) as pool:
        set_pool(pool)
        warm, warm_scores = bench_warm(pool, warm_rows, args.timeout)
        workers = pool.size
    set_pool(None)
    check("warm pool", warm_rows, warm_scores)
    fresh, fresh_scores = bench_fresh(fresh_rows, workers, args.timeout)
    check("fresh container", fresh_rows, fresh_scores)
    steps = Counter()
    for s in warm_scores:
        steps.update(s.extra.get("steps", {}))
    per_step = ", ".join(f"{k} {v / len(warm_scores):.2f} s" for k, v in steps.items())
    print(f"concurrency {workers}; {len(warm_rows)} proofs warm, {len(fresh_rows)} fresh; all proved; "
          f"budgets {args.timeout:g} s")
    print(f"median judge time per proof (warm): {statistics.median(s.elapsed for s in warm_scores):.2f} s "
          f"(mean per step: {per_step})")
    print("| path | proofs/s | vs fresh container |")
    print("|---|---|---|")
    for name, r in (("warm pool", warm), ("fresh container per proof", fresh)):
        print(f"| {name} | {r:.2f} | {r / fresh:.2f}x |")


if __name__ == "__main__":
    main()

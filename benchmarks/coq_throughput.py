"""Coq proofs checked per second over the built-in theorem set: warm sandbox pool vs a fresh
container per proof, same verifier code, same concurrency, measured in the same run.

    python benchmarks/coq_throughput.py [--n 336] [--k 16] [--rounds 2] [--pool-size N] [--timeout 30]

Each check is the full pipeline of the ``coq`` verifier (screen, [preamble,] coqc on the
candidate, the trusted statement check with Print Assumptions, coqchk). The warm path is
``CoqVerifier.verify_batch`` on the process pool; the baseline starts a one-container pool per
proof (container start + the same job + teardown), with the same number of concurrent workers.
First the whole set goes through the warm pool (``--n``); then both paths run the same ``--k``
proofs for ``--rounds`` rounds, alternating which path goes first. Every reference proof must come
back ``proved``; the script fails otherwise, so a throughput number never hides a broken check.
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
from sppo_gym.verifiers.coq.theorems import build


def response(row: dict) -> str:
    return f"```coq\n{row['proof']}\n```"


def pick(rows: list[dict], n: int) -> list[dict]:
    """``n`` rows spread evenly over the set (file order groups families together)."""
    if n >= len(rows):
        return rows
    step = len(rows) / n
    return [rows[int(i * step)] for i in range(n)]


def bench_warm(pool: SandboxPool, rows: list[dict], timeout: float, warmup: bool = True) -> tuple[float, list]:
    verifier = get_verifier("coq", compile_timeout_s=timeout, check_timeout_s=timeout)
    if warmup:
        pool.warm()
        verifier.verify_batch([(response(r), r) for r in pick(rows, pool.size)])  # every container ran once
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


def compare(pool: SandboxPool, rows: list[dict], rounds: int, timeout: float) -> tuple[float, float]:
    """Warm vs fresh on the same proofs, alternating which goes first each round, so that both
    paths see the same machine load (a shared machine's load drifts over minutes)."""
    t_warm = t_fresh = 0.0
    for r in range(rounds):
        order = ("warm", "fresh") if r % 2 == 0 else ("fresh", "warm")
        for path in order:
            t0 = time.perf_counter()
            if path == "warm":
                _, scores = bench_warm(pool, rows, timeout, warmup=False)
                t_warm += time.perf_counter() - t0
            else:
                _, scores = bench_fresh(rows, pool.size, timeout)
                t_fresh += time.perf_counter() - t0
            check(path, rows, scores)
    n = len(rows) * rounds
    return n / t_warm, n / t_fresh


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=336, help="proofs for the whole-set pass on the warm pool (0: skip)")
    ap.add_argument("--k", type=int, default=16, help="proofs per round of the warm-vs-fresh comparison")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--pool-size", type=int, default=None)
    ap.add_argument("--timeout", type=float, default=30.0, help="compile_timeout_s and check_timeout_s")
    args = ap.parse_args()
    rows = build()
    with SandboxPool(args.pool_size) as pool:
        set_pool(pool)
        workers = pool.size
        if args.n:
            whole, scores = bench_warm(pool, pick(rows, args.n), args.timeout)
            check("whole set", pick(rows, args.n), scores)
            steps: Counter = Counter()
            for s in scores:
                steps.update(s.extra.get("steps", {}))
            per_step = ", ".join(f"{k} {v / len(scores):.2f} s" for k, v in steps.items())
            print(f"whole set: {len(scores)} proofs, all proved, {whole:.2f} proofs/s on the warm pool; "
                  f"median judge time {statistics.median(s.elapsed for s in scores):.2f} s ({per_step})")
        warm, fresh = compare(pool, pick(rows, args.k), args.rounds, args.timeout)
    set_pool(None)
    print(f"concurrency {workers}; {args.k} proofs x {args.rounds} rounds per path, interleaved; budgets {args.timeout:g} s")
    print("| path | proofs/s | vs fresh container |")
    print("|---|---|---|")
    for name, r in (("warm pool", warm), ("fresh container per proof", fresh)):
        print(f"| {name} | {r:.2f} | {r / fresh:.2f}x |")


if __name__ == "__main__":
    main()

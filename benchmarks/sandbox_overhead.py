"""Jobs per second for a trivial job: warm sandbox pool vs a fresh container per job vs a plain,
unisolated local ``python -c`` subprocess per job — all measured in the same run, same concurrency.

    python benchmarks/sandbox_overhead.py [--jobs 400] [--fresh-jobs 24]

The trivial job returns its payload; all three paths start a new Python-level unit of work per job
(warm pool: a fork of the pre-imported job server under a fresh uid, plus the full cleanup).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from sppo_gym.sandbox import ContainerLimits, Job, SandboxPool
from sppo_gym.sandbox.transport import LABEL


def rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def bench_pool(pool: SandboxPool, n: int) -> float:
    pool.warm()
    pool.run_batch([Job("sppo_gym.sandbox.selftest:echo", {"warm": i}) for i in range(pool.size * 2)])
    t0 = time.perf_counter()
    results = pool.run_batch([Job("sppo_gym.sandbox.selftest:echo", {"i": i}) for i in range(n)])
    dt = time.perf_counter() - t0
    assert all(r.status == "ok" for r in results), {r.status for r in results}
    return rate(n, dt)


def bench_fresh_containers(client, image: str, n: int, workers: int) -> float:
    limits = ContainerLimits()

    def one(i: int) -> None:
        out = client.containers.run(
            image, ["python3", "-c", f"print({i})"], remove=True, network_mode="none", read_only=True,
            cap_drop=["ALL"], security_opt=["no-new-privileges"], init=True, pids_limit=limits.pids,
            mem_limit=f"{limits.memory_mb}m", memswap_limit=f"{limits.memory_mb}m", user="65534",
            labels={LABEL: "bench"},
        )
        assert out.strip() == str(i).encode()

    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as ex:
        list(ex.map(one, range(n)))
    return rate(n, time.perf_counter() - t0)


def bench_subprocess(n: int, workers: int) -> float:
    def one(i: int) -> None:
        out = subprocess.run([sys.executable, "-c", f"print({i})"], capture_output=True, check=True)
        assert out.stdout.strip() == str(i).encode()

    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as ex:
        list(ex.map(one, range(n)))
    return rate(n, time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=400)
    ap.add_argument("--fresh-jobs", type=int, default=24)
    ap.add_argument("--pool-size", type=int, default=None)
    args = ap.parse_args()
    with SandboxPool(args.pool_size) as pool:
        warm = bench_pool(pool, args.jobs)
        workers = pool.size
        client, image = pool._docker()
    local = bench_subprocess(args.jobs // 2, workers)
    fresh = bench_fresh_containers(client, image, args.fresh_jobs, workers)
    print(f"concurrency {workers}; image {image}")
    print("| path | jobs/s | vs local subprocess |")
    print("|---|---|---|")
    for name, r in (("warm pool (fork server)", warm), ("fresh container per job", fresh), ("local `python -c` subprocess (no isolation)", local)):
        print(f"| {name} | {r:.1f} | {r / local:.2f}x |")


if __name__ == "__main__":
    main()

"""One process vs N data-parallel processes on CPU: training step time at the same global batch.

Runs ``sppo-gym train`` with ``--nproc 1`` and ``--nproc N`` (torchrun, gloo) on the same config,
alternating (1, N, 1, N, ...) so that a change in the machine's load hits both alike, and reads
each run's metrics.csv: per-step wall time (the first step, warm-up, left out), generation and
update time. The cores are split evenly: one process gets ``--cores`` threads, each of N processes
``cores / N``; a third configuration, one process with ``cores / N`` threads, separates the gain of
data parallelism from that of intra-op threads (on a loaded machine a process whose threads wait
for each other can lose more than it gains from them). Medians and minima are both reported. The env is in-process (reward = share of digit characters, no sandbox), so the
figure is the trainer's own: sampling, log-probs, update and the collectives.

Writes ``OUT/results.json`` and prints a Markdown table with the load average before and after.

    python benchmarks/distributed_cpu.py --out runs/distributed_cpu
    python benchmarks/distributed_cpu.py --model tiny-random --steps 3 --repeats 1   # smoke run
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import gymnasium as gym
from sppo_gym.envs import register_task

ENV_ID = "bench/Digits-v0"
HERE = Path(__file__).resolve().parent


def _problem(rng: Any) -> dict[str, str]:
    return {"d": str(int(rng.integers(10)))}


def digit_share(response: str, problem: dict) -> float:
    """Share of the response's characters that are digits."""
    return sum(c.isdigit() for c in response) / max(1, len(response))


if ENV_ID not in gym.registry:  # the training processes import this module by name (--env distributed_cpu:...)
    register_task(ENV_ID, problems=_problem, verifier=digit_share, prompt="Write digits like {d}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--nproc", type=int, default=2, help="processes of the data-parallel runs")
    p.add_argument("--cores", type=int, default=os.cpu_count() or 1, help="threads in all, split over processes")
    p.add_argument("--batch-size", type=int, default=16, help="global batch: responses per step")
    p.add_argument("--minibatch-size", type=int, default=16)
    p.add_argument("--micro-batch-size", type=int, default=8)
    p.add_argument("--max-new-tokens", type=int, default=16)
    p.add_argument("--steps", type=int, default=4, help="training steps per run (the first is left out)")
    p.add_argument("--repeats", type=int, default=2, help="runs per process count, alternating")
    p.add_argument("--strategy", default="ddp", choices=("ddp", "fsdp"))
    p.add_argument("--out", default="runs/distributed_cpu")
    return p.parse_args(argv)


def run_once(args: argparse.Namespace, nproc: int, threads: int, out: Path) -> list[dict[str, float]]:
    """One ``sppo-gym train`` run with ``threads`` per process; its per-step timings (step >= 2)."""
    cmd = [sys.executable, "-m", "sppo_gym.trainer", "train", "--nproc", str(nproc),
           "--env", f"distributed_cpu:{ENV_ID}", "--model", args.model, "--steps", str(args.steps),
           "--batch-size", str(args.batch_size), "--minibatch-size", str(args.minibatch_size),
           "--micro-batch-size", str(args.micro_batch_size), "--max-new-tokens", str(args.max_new_tokens),
           "--strategy", args.strategy, "--eval-n", "0", "--out", str(out), "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
           "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    with open(out / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    steps, prev = [], 0.0
    for r in rows:
        wall = float(r["wall_s"])
        if int(r["step"]) >= 2:
            steps.append({"step_s": wall - prev, "gen_s": float(r["gen_s"]), "update_s": float(r["update_s"]),
                          "reward_mean": float(r["reward_mean"])})
        prev = wall
    return steps


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    split = max(1, args.cores // args.nproc)
    configs = [(1, args.cores), (args.nproc, split)] + ([(1, split)] if split != args.cores else [])
    steps: dict[str, list[dict[str, float]]] = {f"{n}x{t}": [] for n, t in configs}
    for rep in range(args.repeats):
        for n, t in configs:
            steps[f"{n}x{t}"] += run_once(args, n, t, out / f"n{n}_t{t}_r{rep}")
    load_after = os.getloadavg()
    stats = {c: {f"{agg.__name__}_{k}": agg(s[k] for s in rows) for k in ("step_s", "gen_s", "update_s")
                 for agg in (statistics.median, min)} for c, rows in steps.items()}
    base = stats[f"1x{args.cores}"]
    results = {"args": vars(args), "load_before": load_before, "load_after": load_after, "stats": stats,
               "steps": steps}
    (out / "results.json").write_text(json.dumps(results, indent=2))
    print(f"{args.model}, global batch {args.batch_size} x {args.max_new_tokens} new tokens, {args.cores} cores, "
          f"strategy {args.strategy}, {len(steps[f'1x{args.cores}'])} steps per configuration; load average "
          f"(1/5/15 min) before {'/'.join(f'{x:.1f}' for x in load_before)}, "
          f"after {'/'.join(f'{x:.1f}' for x in load_after)}")
    print("\n| processes | threads each | step s median (min) | generation s median | update s median "
          "| step time vs 1 process, median (min) |")
    print("|---|---|---|---|---|---|")
    for n, t in configs:
        m = stats[f"{n}x{t}"]
        print(f"| {n} | {t} | {m['median_step_s']:.2f} ({m['min_step_s']:.2f}) | {m['median_gen_s']:.2f} | "
              f"{m['median_update_s']:.2f} | {m['median_step_s'] / base['median_step_s']:.2f} "
              f"({m['min_step_s'] / base['min_step_s']:.2f}) |")

if __name__ == "__main__":
    main()

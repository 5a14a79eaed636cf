"""Are correct answers still scored correct when the machine is overloaded?

Sends reasoning-gym problems' own reference answers (``<answer>{reference}</answer>``, so every
one is correct) through ``gymnasium.make_vec`` as the trainer does, while ``--load`` busy
processes compete for the CPUs, and counts the verdicts. A verifier that is right about answers
but pays for the host's load shows ``timeout`` here; the intended outcome is ``correct``, with
``sandbox_error`` (dropped by every consumer, never a 0) only when even the retries starve.

    python benchmarks/judge_under_load.py --load 8 --n 8 --batches 2 --out runs/judge_under_load.json
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import time
from collections import Counter
from pathlib import Path

import typer


def _spin() -> None:
    # Each spinner in a session of its own: Linux shares CPU time between sessions (autogroups)
    # before processes, so spinners in one session would weigh as one busy process.
    os.setsid()
    while True:
        pass


def main(
    load: int = typer.Option(8, help="busy processes (each its own session) competing for the CPUs"),
    n: int = typer.Option(8, help="environments in the vector env (answers per batch)"),
    batches: int = typer.Option(3, help="batches of n answers; the first meets cold containers"),
    task: str = typer.Option("chain_sum", help="reasoning-gym task"),
    difficulty: int = typer.Option(1, help="curriculum level of the task"),
    timeout_s: float | None = typer.Option(None, help="judge wall limit (the env's default when unset)"),
    out: Path | None = typer.Option(None, help="write the results as JSON here"),
) -> None:
    import gymnasium as gym
    import sppo_gym.envs  # noqa: F401  (registers the envs)

    envs = gym.make_vec("sppo_gym/ReasoningGym-v0", num_envs=n, task=task, difficulty=difficulty,
                        split="test", timeout_s=timeout_s)
    spinners = [mp.get_context("fork").Process(target=_spin, daemon=True) for _ in range(load)]
    for p in spinners:
        p.start()
    rows = []
    try:
        for b in range(batches):
            _, info = envs.reset(options={"index": list(range(b * n, (b + 1) * n))})
            t0 = time.monotonic()
            _, reward, _, _, step_info = envs.step([f"<answer>{a}</answer>" for a in info["answer"]])
            verdicts = dict(Counter(map(str, step_info["verdict"])))
            wrong = sorted({str(d) for v, d in zip(step_info["verdict"], step_info["detail"], strict=True)
                            if v != "correct"})
            rows.append({"batch": b, "seconds": round(time.monotonic() - t0, 1), "verdicts": verdicts,
                         "mean_reward": float(reward.mean()), "loadavg_1m": os.getloadavg()[0],
                         "details_not_correct": wrong[:8]})
            print(f"batch {b}: {verdicts} mean reward {reward.mean():.2f} in {rows[-1]['seconds']} s "
                  f"(load {rows[-1]['loadavg_1m']:.1f}) {wrong[:2]}", flush=True)
    finally:
        for p in spinners:
            p.kill()
        from sppo_gym.sandbox import get_pool

        pool_stats = dict(get_pool().stats)  # "starved": attempts retried because the host starved them
        envs.close()
    total = sum((Counter(r["verdicts"]) for r in rows), Counter())
    result = {"task": task, "difficulty": difficulty, "n": n, "batches": batches, "load": load,
              "cpus": os.cpu_count(), "timeout_s": timeout_s, "verdicts": dict(total), "pool_stats": pool_stats,
              "rows": rows}
    print(json.dumps({"verdicts": dict(total), "pool_stats": pool_stats}))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    typer.run(main)

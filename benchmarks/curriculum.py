"""Critic-driven curriculum vs none: held-out accuracy after equal training wall-clock.

Same model, env, seed and budget of *training* wall-clock for each curriculum (held-out
evaluations are not counted; the critic curriculum's candidate scoring is). The env mixes
difficulty levels (``Arithmetic-v0`` with ``difficulty=[1, 2, 3]`` by default): without a
curriculum every step trains on what the env draws; with ``--curricula critic`` each step scores
``pool x batch`` candidates with the SPPO critic and keeps those with V(x) nearest 0.5.

Phase 1 (``--probe-n``) is a greedy evaluation of the untrained model on each level, to check
that the levels are neither solved nor hopeless. Phase 2 trains each curriculum in its own process.
Held-out accuracy is greedy on problems 0..n-1 of the test split (the mixed env spreads them evenly
over the levels), overall and per level. Writes ``OUT/results.json`` and prints a Markdown table.

    python benchmarks/curriculum.py --budget-s 600 --out runs/curriculum
    python benchmarks/curriculum.py --model tiny-random --budget-s 5 --eval-n 6 --probe-n 3  # smoke run
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

CURRICULA = ("none", "critic", "success")

# torch, transformers, TRL and the trainer are imported inside the worker functions: the driver
# only starts one worker subprocess per curriculum (each with its own memory high-water mark) and
# reads their results, so it never loads them.


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="sppo_gym/Arithmetic-v0")
    p.add_argument("--levels", default="[1, 2, 3]", help="JSON list of difficulty levels the env mixes")
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--curricula", default="none,critic", help=f"comma-separated subset of {CURRICULA}")
    p.add_argument("--budget-s", type=float, default=600.0, help="training wall-clock per curriculum")
    p.add_argument("--eval-n", type=int, default=150, help="held-out problems (spread over the levels)")
    p.add_argument("--probe-n", type=int, default=30, help="problems per level for the untrained probe (0 = skip)")
    p.add_argument("--batch-size", type=int, default=32, help="responses per step")
    p.add_argument("--pool", type=int, default=4, help="critic: candidates per prompt slot")
    p.add_argument("--lr", type=float, default=2e-5)
    p.add_argument("--max-new-tokens", type=int, default=48)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/curriculum")
    p.add_argument("--worker", choices=CURRICULA, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def train_config(args: argparse.Namespace, curriculum: str) -> dict[str, Any]:
    levels = json.loads(args.levels)
    return {"env": args.env, "env_kwargs": {"difficulty": levels}, "model": args.model, "algo": "sppo",
            "steps": 10**6, "max_wall_s": args.budget_s, "batch_size": args.batch_size,
            "minibatch_size": min(16, args.batch_size), "micro_batch_size": min(16, args.batch_size),
            "lr": args.lr, "max_new_tokens": args.max_new_tokens, "seed": args.seed, "eval_n": args.eval_n,
            "eval_batch_size": min(50, args.eval_n), "out": str(Path(args.out) / curriculum),
            "curriculum": curriculum, "curriculum_levels": levels, "curriculum_pool": args.pool, "progress": False}


def level_accuracy(args: argparse.Namespace, model_dir: str, level: int, n: int) -> float:
    """Greedy held-out accuracy of ``model_dir`` on ``n`` test problems of one level."""
    from sppo_gym.trainer.evaluation.held_out import HeldOut
    from sppo_gym.trainer.models import load_policy, make_amp, resolve_device

    device = resolve_device("auto")
    policy, tok = load_policy(model_dir, device)
    held = HeldOut(args.env, {"difficulty": level}, n, min(50, n), 64)
    try:
        return held.accuracy(policy, tok, amp=make_amp(device, "auto"))
    finally:
        held.close()


def worker(args: argparse.Namespace) -> None:
    """Train one curriculum, then evaluate the final policy per level; write OUT/<curriculum>/result.json."""
    from sppo_gym.trainer.config import load_config
    from sppo_gym.trainer.loop import train

    cfg = load_config(None, train_config(args, args.worker))
    summary = train(cfg)
    out = Path(cfg.out)
    with (out / "metrics.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r["reward_mean"]]
    levels = json.loads(args.levels)
    per_level = {str(lv): level_accuracy(args, str(out / "final"), lv, max(1, args.eval_n // len(levels)))
                 for lv in levels}
    mean = lambda key: (sum(float(r[key]) for r in rows if r[key]) / max(1, sum(1 for r in rows if r[key])))  # noqa: E731
    result = {"curriculum": args.worker, "steps": summary["steps"], "train_wall_s": summary["train_wall_s"],
              "accuracy_before": summary["accuracy_before"], "accuracy_after": summary["accuracy_after"],
              "accuracy_after_per_level": per_level, "train_reward_mean": mean("reward_mean"),
              "train_difficulty_mean": mean("difficulty"),
              "v_chosen_mean": mean("v_chosen") if args.worker == "critic" else None,
              "v_pool_mean": mean("v_pool") if args.worker == "critic" else None}
    (out / "result.json").write_text(json.dumps(result, indent=2))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.worker:
        worker(args)
        return {}
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    curricula = [c.strip() for c in args.curricula.split(",") if c.strip()]
    unknown = sorted(set(curricula) - set(CURRICULA))
    if unknown:
        raise SystemExit(f"--curricula: unknown {unknown}; choose from {CURRICULA}")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"args": vars(args), "probe": {}, "runs": {}}
    if args.probe_n > 0:
        for lv in json.loads(args.levels):
            results["probe"][str(lv)] = acc = level_accuracy(args, args.model, lv, args.probe_n)
            print(f"probe: untrained {args.model}, level {lv}: greedy accuracy {acc:.2f} on {args.probe_n}", flush=True)
    for c in curricula:
        t0 = time.perf_counter()
        cmd = [sys.executable, __file__, *(argv if argv is not None else sys.argv[1:]), "--worker", c]
        subprocess.run(cmd, check=True)
        results["runs"][c] = json.loads((Path(args.out) / c / "result.json").read_text())
        results["runs"][c]["process_s"] = round(time.perf_counter() - t0, 1)
    (Path(args.out) / "results.json").write_text(json.dumps(results, indent=2))
    print(table(results))
    return results


def table(results: dict[str, Any]) -> str:
    fmt = lambda v: "" if v is None else f"{v:.2f}"  # noqa: E731
    lines = ["| curriculum | steps | train s | held-out before | held-out after | after, per level | "
             "train reward | train difficulty | V chosen / pool |",
             "|---|---|---|---|---|---|---|---|---|"]
    for c, r in results["runs"].items():
        per = ", ".join(f"L{k} {v:.2f}" for k, v in r["accuracy_after_per_level"].items())
        v = f"{fmt(r['v_chosen_mean'])} / {fmt(r['v_pool_mean'])}" if r["v_chosen_mean"] is not None else ""
        lines.append(f"| {c} | {r['steps']} | {r['train_wall_s']:.0f} | {fmt(r['accuracy_before'])} | "
                     f"{fmt(r['accuracy_after'])} | {per} | {fmt(r['train_reward_mean'])} | "
                     f"{fmt(r['train_difficulty_mean'])} | {v} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()

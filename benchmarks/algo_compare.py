"""SPPO vs GRPO vs RLOO vs PPO (our trainer) vs TRL's GRPOTrainer, at the same wall-clock budget.

Same model, same env, same budget of *training* wall-clock per method (held-out evaluations are
not counted); every method starts from the same weights and, for our trainer, the same defaults
(batch of 32 responses per step: 32 prompts x 1 for SPPO/PPO, 4 prompts x 8 for GRPO/RLOO). TRL's
``GRPOTrainer`` gets the same generation settings (8 samples per prompt, 32 completions per step,
temperature 1, no KL, learning rate, max completion length) and our env as its reward function
through ``sppo_gym.envs.trl_adapter``. Held-out accuracy is our greedy evaluator on problems
0..n-1 of the env's test split for every method.

Each method runs in its own process (peak memory is that process's high-water mark: resident set
on CPU, ``torch.cuda.max_memory_allocated`` on GPU). Writes ``OUT/results.json``,
``OUT/algo_compare.png`` (accuracy against wall-clock) and prints a Markdown table.

    python benchmarks/algo_compare.py --budget-s 420 --out runs/algo_compare
    python benchmarks/algo_compare.py --model tiny-random --budget-s 10 --eval-n 4   # smoke run
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

METHODS = ("sppo", "grpo", "rloo", "ppo", "trl-grpo")

# torch, transformers, TRL and the trainer are imported inside the worker functions: the driver
# only starts one worker subprocess per method (each with its own memory high-water mark) and
# reads their results, so it never loads them.


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="sppo_gym/Arithmetic-v0")
    p.add_argument("--env-kwargs", default="{}", help="JSON keyword arguments of the env")
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated subset of {METHODS}")
    p.add_argument("--budget-s", type=float, default=420.0, help="training wall-clock per method")
    p.add_argument("--eval-n", type=int, default=50, help="held-out problems per evaluation")
    p.add_argument("--eval-every", type=int, default=3, help="evaluate every this many steps")
    p.add_argument("--batch-size", type=int, default=32, help="responses per step")
    p.add_argument("--minibatch-size", type=int, default=16,
                   help="responses per optimiser step in our trainer (verl counts prompts: GRPO 32 x 8 with "
                        "the optimiser steps of SPPO 32 x 1 at 16 is --minibatch-size 128)")
    p.add_argument("--lr", type=float, default=2e-5)
    p.add_argument("--max-new-tokens", type=int, default=48)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/algo_compare")
    p.add_argument("--worker", choices=METHODS, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def peak_memory_mb() -> float:
    """This process's high-water mark: CUDA allocations on GPU, resident set on CPU."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def run_ours(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """One of our trainer's algorithms with its defaults, stopped by the wall-clock budget."""
    from sppo_gym.trainer.config import load_config
    from sppo_gym.trainer.loop import train

    cfg = load_config(None, {
        "env": args.env, "env_kwargs": args.env_kwargs, "model": args.model, "algo": args.worker,
        "steps": getattr(args, "steps", 100_000), "max_wall_s": args.budget_s, "out": str(out), "seed": args.seed,
        "batch_size": args.batch_size, "minibatch_size": args.minibatch_size, "lr": args.lr, "max_new_tokens": args.max_new_tokens,
        "eval_n": args.eval_n, "eval_every": args.eval_every, "progress": False,
    })
    summary = train(cfg)
    with open(out / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    curve = [(float(r["wall_s"]), float(r["eval_accuracy"])) for r in rows if r.get("eval_accuracy")]
    tokens = sum(float(r["response_len"]) * float(r["samples"]) for r in rows if r.get("response_len"))
    return {"curve": curve, "steps": summary["steps"], "train_wall_s": summary["train_wall_s"],
            "completion_tokens": tokens}


def run_trl(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """TRL's GRPOTrainer on our env through the adapter, with a wall-clock stop and our evaluator.

    ``args.eval_n == 0`` skips held-out evaluation (throughput runs).
    """
    from contextlib import nullcontext

    import torch
    from sppo_gym.envs.trl_adapter import trl_task
    from sppo_gym.trainer.evaluation.held_out import HeldOut
    from sppo_gym.trainer.models import load_policy
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    torch.manual_seed(args.seed)
    env_kwargs = json.loads(args.env_kwargs)
    cuda = torch.cuda.is_available()
    model, tok = load_policy(args.model, "cuda" if cuda else "cpu")
    held_out = HeldOut(args.env, env_kwargs, args.eval_n, 50, 64) if args.eval_n else None
    amp = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if cuda else nullcontext
    dataset, reward = trl_task(args.env, 20_000, seed=args.seed, **env_kwargs)
    curve: list[tuple[float, float]] = []
    state = {"wall": 0.0, "t0": 0.0, "tokens": 0.0}

    class Budget(TrainerCallback):
        """Counts training time only, evaluates every ``eval_every`` steps, stops at the budget."""

        def on_step_begin(self, targs: Any, tstate: Any, control: Any, **kw: Any) -> None:
            state["t0"] = time.perf_counter()

        def on_step_end(self, targs: Any, tstate: Any, control: Any, **kw: Any) -> None:
            state["wall"] += time.perf_counter() - state["t0"]
            done = bool(args.budget_s) and state["wall"] >= args.budget_s
            if held_out is not None and (done or tstate.global_step % args.eval_every == 0):
                curve.append((state["wall"], held_out.accuracy(kw["model"], tok, amp=amp)))
            if done:  # never reset it: the Trainer's own max_steps stop sets the same flag
                control.should_training_stop = True

        def on_log(self, targs: Any, tstate: Any, control: Any, logs: Any = None, **kw: Any) -> None:
            if logs and "completions/mean_length" in logs:
                state["tokens"] += logs["completions/mean_length"] * args.batch_size

    if held_out is not None:
        curve.append((0.0, held_out.accuracy(model, tok, amp=amp)))
    config = GRPOConfig(
        output_dir=str(out), per_device_train_batch_size=args.batch_size, num_generations=8,
        max_completion_length=args.max_new_tokens, learning_rate=args.lr, lr_scheduler_type="constant",
        warmup_steps=0, beta=0.0, temperature=1.0, max_steps=getattr(args, "steps", 100_000), logging_steps=1, report_to=[],
        save_strategy="no", seed=args.seed, use_cpu=not cuda, bf16=cuda, gradient_checkpointing=False,
        max_grad_norm=1.0, weight_decay=0.0, disable_tqdm=True)
    trainer = GRPOTrainer(model=model, processing_class=tok, reward_funcs=reward, train_dataset=dataset,
                          args=config, callbacks=[Budget()])
    trainer.train()
    reward.close()
    if held_out is not None:
        held_out.close()
    return {"curve": curve, "steps": trainer.state.global_step, "train_wall_s": round(state["wall"], 2),
            "completion_tokens": state["tokens"]}


def run_method(args: argparse.Namespace, out: Path) -> None:
    """Run ``args.worker`` in this process and write ``out/result.json`` with memory and tokens/s."""
    out.mkdir(parents=True, exist_ok=True)
    result = run_trl(args, out) if args.worker == "trl-grpo" else run_ours(args, out)
    result.update(method=args.worker, peak_memory_mb=round(peak_memory_mb(), 1),
                  tokens_per_s=round(result["completion_tokens"] / max(result["train_wall_s"], 1e-9), 1))
    (out / "result.json").write_text(json.dumps(result, indent=2))


def worker(args: argparse.Namespace) -> None:
    import sppo_gym.envs  # noqa: F401  (registers the built-in ids)

    run_method(args, Path(args.out) / args.worker)


def run_workers(script: str, args: argparse.Namespace, valid: tuple[str, ...]) -> list[dict[str, Any]]:
    """Each of ``args.methods`` in its own process of ``script`` (clean peak memory); their results."""
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if bad := sorted(set(methods) - set(valid)):
        raise SystemExit(f"unknown method(s) {bad}; choose from {valid}")
    out = Path(args.out)
    passthrough = [f"--{k.replace('_', '-')}={v}" for k, v in vars(args).items() if k not in ("methods", "worker")]
    results = []
    for method in methods:
        print(f"[{Path(script).stem}] {method}", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, script, *passthrough, "--worker", method], check=True,
                       env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
        result = json.loads((out / method / "result.json").read_text())
        result["process_wall_s"] = round(time.perf_counter() - t0, 1)
        results.append(result)
    return results


def time_to(curve: list[tuple[float, float]], target: float) -> float | None:
    """First training wall-clock at which held-out accuracy reached ``target``."""
    return next((t for t, acc in curve if acc >= target), None)


def report(results: list[dict[str, Any]], out: Path) -> str:
    """Markdown table (final accuracy, time to GRPO's final accuracy, memory, tokens/s) and a plot."""
    grpo = next((r for r in results if r["method"] == "grpo"), None)
    target = grpo["curve"][-1][1] if grpo else None
    lines = ["| method | steps | held-out accuracy start → end | time to GRPO's final accuracy | "
             "peak memory (MB) | completion tokens/s |", "|---|---|---|---|---|---|"]
    for r in results:
        t = time_to(r["curve"], target) if target is not None else None
        reach = "—" if target is None else ("not reached" if t is None else f"{t:.0f} s")
        lines.append(f"| {r['method']} | {r['steps']} | {r['curve'][0][1]:.0%} → {r['curve'][-1][1]:.0%} | "
                     f"{reach} | {r['peak_memory_mb']:.0f} | {r['tokens_per_s']:.1f} |")
    if grpo and target is not None:
        lines.append(f"\nGRPO's final accuracy {target:.0%} after {grpo['curve'][-1][0]:.0f} s of training.")
    plot(results, out / "algo_compare.png")
    return "\n".join(lines)


def plot(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for r in results:
        xs, ys = zip(*r["curve"], strict=True)
        ax.plot(xs, [100 * y for y in ys], marker="o", label=r["method"])
    ax.set_xlabel("training wall-clock (s)")
    ax.set_ylabel("held-out accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        worker(args)
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = run_workers(__file__, args, METHODS)
    meta = {"argv": sys.argv, "load_avg_end": os.getloadavg(), "cpus": os.cpu_count()}
    (out / "results.json").write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    print(report(results, out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

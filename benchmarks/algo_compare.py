"""SPPO vs GRPO (and RLOO, PPO, TRL's GRPOTrainer) at equal training wall-clock, over seeds.

The protocol and its decision rule are written in docs/BENCHMARKS.md ("Algorithms at equal
wall-clock") and this script implements them:

* every method starts from the same weights and sees the same number of **prompts per step**
  (``--prompts``); GRPO and RLOO sample ``--group-size`` (8) responses per prompt, SPPO and PPO one;
  every method takes the same number of optimiser steps per step (two mini-batches: verl's
  convention of equal prompts and equal optimiser steps), so a GRPO step costs ~8 SPPO steps;
* every (method, seed) run trains for ``--budget-s`` seconds of training clock (held-out
  evaluation not counted), and never starts a step its previous step's time says would end past
  the budget. On the CPU the training clock (:func:`step_clock`) is the run's CPU seconds plus its
  waits on the sandbox: with one torch thread per run that is wall-clock on an otherwise idle core,
  and it does not stretch when other work shares the machine. On a GPU it is wall-clock;
* held-out accuracy is measured on problems 0..``--eval-n``-1 of the env's test split: greedy at
  the first step boundary at or after each of the fixed ``--points`` (the curve, plotted at the
  boundary's real time), and sampled pass@1 (``--eval-samples`` samples per problem at the training
  temperature) at the end; standard errors are over problems;
* time to GRPO's peak: per seed, the first time GRPO's greedy curve reaches its maximum, and the
  first time the other method's curve reaches that value; their ratio per seed, then its mean,
  min and max across seeds.

Runs go ``--slots`` at a time, each in its own process with ``--threads`` threads; the queue is
ordered seed by seed, so with two slots and two methods the two methods of a seed run side by side
under the same load. Writes ``OUT/<method>-s<seed>/result.json``, ``OUT/base.json``,
``OUT/results.json``, ``OUT/algo_compare.png`` and prints Markdown tables.

    python benchmarks/algo_compare.py --methods sppo,grpo --seeds 0,1,2 --out runs/algo_arith
    python benchmarks/algo_compare.py --methods sppo,grpo --seeds 3,4 --out runs/algo_arith   # more seeds later
    python benchmarks/algo_compare.py --report --out runs/algo_arith    # tables from every saved run
    python benchmarks/algo_compare.py --model tiny-random --methods sppo,grpo --seeds 0 \\
        --budget-s 6 --points 3,6 --eval-n 8 --eval-samples 2 --out /tmp/ac   # smoke run
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

METHODS = ("sppo", "grpo", "rloo", "ppo", "trl-grpo")
GROUPED = ("grpo", "rloo", "trl-grpo")

# torch, transformers, TRL and the trainer are imported inside the worker functions: the driver
# only starts one worker subprocess per run (each with its own memory high-water mark) and reads
# their results, so it never loads them.


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="sppo_gym/Arithmetic-v0")
    p.add_argument("--env-kwargs", default="{}", help="JSON keyword arguments of the env")
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--methods", default="sppo,grpo", help=f"comma-separated subset of {METHODS}")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds; every method runs each")
    p.add_argument("--budget-s", type=float, default=480.0, help="training wall-clock per run")
    p.add_argument("--points", default="40,80,160,240,480",
                   help="wall-clock points (s) of the greedy curve; the last one is the budget's end")
    p.add_argument("--prompts", type=int, default=16, help="prompts per step, for every method")
    p.add_argument("--group-size", type=int, default=8, help="responses per prompt of GRPO, RLOO, TRL")
    p.add_argument("--lr", type=float, default=2e-5)
    p.add_argument("--max-new-tokens", type=int, default=16)
    p.add_argument("--eval-n", type=int, default=300, help="held-out problems (test split, indices 0..n-1)")
    p.add_argument("--eval-samples", type=int, default=2, help="sampled responses per problem for pass@1")
    p.add_argument("--eval-max-new-tokens", type=int, default=16)
    p.add_argument("--eval-batch-size", type=int, default=100)
    p.add_argument("--slots", type=int, default=2, help="runs at a time")
    p.add_argument("--threads", type=int, default=1, help="torch threads per run")
    p.add_argument("--out", default="runs/algo_compare")
    p.add_argument("--report", action="store_true",
                   help="run nothing: rebuild OUT/results.json and the tables from every OUT/<method>-s<seed>/result.json "
                        "(runs of one protocol made by several invocations, e.g. more seeds later)")
    p.add_argument("--worker", help=argparse.SUPPRESS)  # "<method>" or "base"
    p.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def peak_memory_mb() -> float:
    """This process's high-water mark: CUDA allocations on GPU, resident set on CPU."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def shapes(method: str, prompts: int, group_size: int) -> dict[str, int]:
    """Equal prompts per step and two optimiser steps per step for every method."""
    g = group_size if method in GROUPED else 1
    batch = prompts * g
    return {"group_size": g, "batch_size": batch, "minibatch_size": batch // 2, "micro_batch_size": min(16, batch // 2)}


# ----- held-out evaluation -------------------------------------------------------------------
class HeldOutScores:
    """Per-problem held-out rewards (for standard errors): greedy, and sampled at a fixed seed."""

    def __init__(self, args: argparse.Namespace):
        from sppo_gym.trainer.evaluation.held_out import HeldOut

        self.n = args.eval_n
        self.held_out = HeldOut(args.env, json.loads(args.env_kwargs), args.eval_n, args.eval_batch_size,
                                args.eval_max_new_tokens)

    def rewards(self, model: Any, tok: Any, *, greedy: bool, seed: int = 0) -> dict[str, Any]:
        """Rewards (n,) of one response per problem (NaN for a sandbox error) and verdict counts."""
        scored = self.held_out.score(model, tok, greedy=greedy, temperature=1.0, seed=seed, n_samples=3)
        samples = [{k: v for k, v in s.items() if k != "reward"} for s in scored.samples]
        return {"rewards": scored.rewards, "verdicts": scored.verdicts, "samples": samples}

    def greedy(self, model: Any, tok: Any) -> dict[str, Any]:
        """Greedy accuracy with its standard error over problems."""
        r = self.rewards(model, tok, greedy=True)
        return {**mean_se(r["rewards"]), "verdicts": r["verdicts"], "samples": r["samples"]}

    def sampled(self, model: Any, tok: Any, k: int, seed: int) -> dict[str, Any]:
        """Sampled pass@1: mean over problems of the mean reward of ``k`` samples; SE over problems."""
        import numpy as np

        runs = [self.rewards(model, tok, greedy=False, seed=seed * 1000 + j)["rewards"] for j in range(k)]
        per_problem = np.nanmean(np.stack(runs), axis=0)  # (n,)
        return {**mean_se(per_problem), "samples_per_problem": k}

    def close(self) -> None:
        self.held_out.close()


def mean_se(values: Any) -> dict[str, Any]:
    """Mean, standard error over problems, and how many problems counted (sandbox errors left out)."""
    import numpy as np

    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    se = float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else float("nan")
    return {"accuracy": float(v.mean()) if len(v) else float("nan"), "se": se, "n": len(v)}


# ----- one run ---------------------------------------------------------------------------------
def run_ours(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """One of our trainer's algorithms, stepped by :func:`sppo_gym.trainer.loop.train_step` until the
    budget, greedy-evaluated at the first step boundary at or after each point."""
    from sppo_gym.trainer.config import load_config
    from sppo_gym.trainer.loop import setup, train_step

    budget, points = args.budget_s, sorted(float(p) for p in str(args.points).split(",") if p)
    steps_cap = getattr(args, "steps", None)
    cfg = load_config(None, {
        "env": args.env, "env_kwargs": args.env_kwargs, "model": args.model, "algo": args.worker, "out": str(out),
        "seed": args.seed, "lr": args.lr, "max_new_tokens": args.max_new_tokens, "eval_n": 0, "progress": False,
        **shapes(args.worker, args.prompts, args.group_size)})
    run = setup(cfg)
    cuda = next(run.policy.parameters()).is_cuda  # a GPU's work is not CPU time: plain wall-clock there
    held = HeldOutScores(args) if args.eval_n else None
    curve: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    wall, real, last_step_s, step = 0.0, 0.0, 0.0, 0
    base = json.loads((Path(args.out) / "base.json").read_text()) if held else None
    if base is not None:
        curve.append({"t": 0.0, "step": 0, **{k: base["greedy"][k] for k in ("accuracy", "se", "n")}})
    warm_up(run.envs)
    while steps_cap is None or step < steps_cap:
        if budget and wall + last_step_s > budget:  # the next step would end past the budget
            break
        t0, c0 = time.perf_counter(), time.process_time()
        row = train_step(run, step + 1)
        last_step_s = time.perf_counter() - t0 if cuda else step_clock(c0, row)
        wall += last_step_s
        real += time.perf_counter() - t0
        step += 1
        rows.append({**row, "wall_s": wall, "real_wall_s": real})
        due = [p for p in points if p <= wall]
        if held is not None and due:
            points = [p for p in points if p > wall]
            ev = held.greedy(run.policy, run.tokenizer)
            curve.append({"t": wall, "step": step, "points": due, **ev})
            print(f"[{args.worker} s{args.seed}] step {step} t={wall:.0f}s greedy {ev['accuracy']:.3f}",
                  file=sys.stderr, flush=True)
    final = None
    if held is not None:
        if not curve or curve[-1]["step"] != step:
            curve.append({"t": wall, "step": step, "points": [], **held.greedy(run.policy, run.tokenizer)})
        final = held.sampled(run.policy, run.tokenizer, args.eval_samples, args.seed)
        held.close()
    run.envs.close()
    (out / "steps.json").write_text(json.dumps(rows, indent=1, default=float))
    tokens = sum(float(r.get("response_len", 0)) * float(r.get("samples", 0)) for r in rows)
    return {"curve": curve, "final_sampled": final, "steps": step, "train_wall_s": round(wall, 2),
            "real_wall_s": round(real, 2), "completion_tokens": tokens,
            "step_s_median": median([r["wall_s"] for r in rows])}


def warm_up(envs: Any) -> None:
    """Score one batch of empty replies before the clock starts: the first call starts the sandbox's
    containers (~30 s on the 2-core machine), a fixed cost that would otherwise land on step 1."""
    envs.reset(seed=list(range(envs.num_envs)))
    envs.step([""] * envs.num_envs)


def step_clock(c0: float, row: dict[str, Any]) -> float:
    """The training clock of one step: this process's CPU seconds plus the seconds it waited on the
    sandbox's verdicts. With one torch thread this is the step's wall-clock on an otherwise idle core,
    and other work on a shared machine does not stretch it the way it stretches wall-clock."""
    return time.process_time() - c0 + float(row.get("verify_s", 0.0))


def median(cumulative: list[float]) -> float | None:
    """Median step time from cumulative wall-clocks."""
    import numpy as np

    if not cumulative:
        return None
    return float(np.median(np.diff([0.0, *cumulative])))


def run_trl(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """TRL's GRPOTrainer on our env through the adapter, with the same budget, shapes and evaluation.

    One generation batch of ``prompts x group_size`` completions feeds two optimiser steps
    (``steps_per_generation=2``), as in our GRPO."""
    import torch
    from sppo_gym.envs.trl_adapter import trl_task
    from sppo_gym.trainer.models import load_policy
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    torch.manual_seed(args.seed)
    cuda = torch.cuda.is_available()
    model, tok = load_policy(args.model, "cuda" if cuda else "cpu")
    held = HeldOutScores(args) if args.eval_n else None
    points = sorted(float(p) for p in str(args.points).split(",") if p)
    dataset, env_reward = trl_task(args.env, 20_000, seed=args.seed, **json.loads(args.env_kwargs))
    base = json.loads((Path(args.out) / "base.json").read_text()) if held else None
    curve: list[dict[str, Any]] = [{"t": 0.0, "step": 0, **{k: base["greedy"][k] for k in ("accuracy", "se", "n")}}] \
        if base else []
    state = {"wall": 0.0, "t0": 0.0, "w0": 0.0, "waited": 0.0, "last": 0.0, "tokens": 0.0, "points": points}
    budget = args.budget_s

    def reward(*a: Any, **kw: Any) -> list[float | None]:
        """The env's reward, timed: its wait on the sandbox counts on the training clock, as
        ``verify_s`` does in :func:`step_clock` (its CPU time is already in process_time)."""
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            return env_reward(*a, **kw)
        finally:
            state["waited"] += max(0.0, (time.perf_counter() - t0) - (time.process_time() - c0))

    reward.__name__ = env_reward.__name__  # TRL logs a reward under its function's name

    class Budget(TrainerCallback):
        """Counts training time only; evaluates at the points; stops before a step would pass the budget.

        A generation covers two optimiser steps, so the stop is checked after every second one."""

        def on_step_begin(self, targs: Any, tstate: Any, control: Any, **kw: Any) -> None:
            state["t0"], state["w0"] = time.process_time(), state["waited"]  # the clock of step_clock

        def on_step_end(self, targs: Any, tstate: Any, control: Any, **kw: Any) -> None:
            dt = time.process_time() - state["t0"] + state["waited"] - state["w0"]
            state["wall"] += dt
            if tstate.global_step % 2:
                state["last"] = dt
                return
            state["last"] += dt  # both optimiser steps of one generation batch
            due = [p for p in state["points"] if p <= state["wall"]]
            if held is not None and due:
                state["points"] = [p for p in state["points"] if p > state["wall"]]
                curve.append({"t": state["wall"], "step": tstate.global_step // 2, "points": due,
                              **held.greedy(kw["model"], tok)})
            if budget and state["wall"] + state["last"] > budget:
                control.should_training_stop = True

        def on_log(self, targs: Any, tstate: Any, control: Any, logs: Any = None, **kw: Any) -> None:
            if logs and "completions/mean_length" in logs:
                state["tokens"] += logs["completions/mean_length"] * args.prompts * args.group_size / 2

    g = shapes("trl-grpo", args.prompts, args.group_size)
    # as warm_up() does for our trainer: start the sandbox before the clock, scoring one generation
    # batch of empty replies (TRL scores a whole generation batch per reward call)
    env_reward(completions=[""] * g["batch_size"], task_id=dataset["task_id"][: g["batch_size"]])
    steps_cap = getattr(args, "steps", None)
    config = GRPOConfig(
        output_dir=str(out), per_device_train_batch_size=g["minibatch_size"], steps_per_generation=2,
        num_generations=args.group_size, max_completion_length=args.max_new_tokens, learning_rate=args.lr,
        lr_scheduler_type="constant", warmup_steps=0, beta=0.0, temperature=1.0,
        max_steps=2 * steps_cap if steps_cap else 100_000, logging_steps=1, report_to=[], save_strategy="no",
        seed=args.seed, use_cpu=not cuda, bf16=cuda, gradient_checkpointing=False, max_grad_norm=1.0,
        weight_decay=0.0, disable_tqdm=True)
    trainer = GRPOTrainer(model=model, processing_class=tok, reward_funcs=reward, train_dataset=dataset,
                          args=config, callbacks=[Budget()])
    trainer.train()
    env_reward.close()
    step = trainer.state.global_step // 2
    final = None
    if held is not None:
        if not curve or curve[-1]["step"] != step:
            curve.append({"t": state["wall"], "step": step, "points": [], **held.greedy(model, tok)})
        final = held.sampled(model, tok, args.eval_samples, args.seed)
        held.close()
    return {"curve": curve, "final_sampled": final, "steps": step, "train_wall_s": round(state["wall"], 2),
            "completion_tokens": state["tokens"], "step_s_median": None}


def run_base(args: argparse.Namespace, out: Path) -> None:
    """The starting policy's held-out accuracy, greedy and sampled: the same for every run."""
    from sppo_gym.trainer.models import load_policy

    model, tok = load_policy(args.model, "cpu")
    held = HeldOutScores(args)
    result = {"greedy": held.greedy(model, tok), "sampled": held.sampled(model, tok, args.eval_samples, 0)}
    held.close()
    out.mkdir(parents=True, exist_ok=True)
    (out / "base.json").write_text(json.dumps(result, indent=2))


def run_method(args: argparse.Namespace, out: Path) -> None:
    """Run ``args.worker`` in this process and write ``out/result.json`` with memory and tokens/s."""
    out.mkdir(parents=True, exist_ok=True)
    result = run_trl(args, out) if args.worker == "trl-grpo" else run_ours(args, out)
    result.update(method=args.worker, seed=args.seed, peak_memory_mb=round(peak_memory_mb(), 1),
                  tokens_per_s=round(result["completion_tokens"] / max(result["train_wall_s"], 1e-9), 1))
    (out / "result.json").write_text(json.dumps(result, indent=2, default=float))


def worker(args: argparse.Namespace) -> None:
    import sppo_gym.envs  # noqa: F401  (registers the built-in ids)
    import torch

    torch.set_num_threads(args.threads)
    if args.worker == "base":
        run_base(args, Path(args.out))
    else:
        run_method(args, Path(args.out) / f"{args.worker}-s{args.seed}")


# ----- the driver ------------------------------------------------------------------------------
def run_workers(script: str, args: argparse.Namespace, valid: tuple[str, ...]) -> list[dict[str, Any]]:
    """Each (method, seed) in its own process of ``script``, ``args.slots`` at a time; their results.

    ``args.seeds`` and ``args.slots`` are optional (one seed ``args.seed``, one slot)."""
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if bad := sorted(set(methods) - set(valid)):
        raise SystemExit(f"unknown method(s) {bad}; choose from {valid}")
    seeds = [int(s) for s in str(getattr(args, "seeds", getattr(args, "seed", 0))).split(",") if s.strip()]
    jobs = [(m, s) for s in seeds for m in methods]  # seed by seed: a seed's methods side by side
    slots = max(1, getattr(args, "slots", 1))
    threads = getattr(args, "threads", None)
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false",
           **({"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)} if threads else {})}
    skip = ("methods", "worker", "seeds", "seed", "slots", "report")
    passthrough = [f"--{k.replace('_', '-')}={v}" for k, v in vars(args).items() if k not in skip]
    running: list[tuple[subprocess.Popen, str, int, float]] = []
    results: list[dict[str, Any]] = []

    def reap(proc: subprocess.Popen, method: str, seed: int, t0: float) -> None:
        if proc.wait() != 0:
            raise SystemExit(f"{method} seed {seed} failed (exit {proc.returncode})")
        result_dir = Path(args.out) / (f"{method}-s{seed}" if hasattr(args, "seeds") else method)
        result = json.loads((result_dir / "result.json").read_text())
        result["process_wall_s"] = round(time.perf_counter() - t0, 1)
        (result_dir / "result.json").write_text(json.dumps(result, indent=2, default=float))  # for --report
        results.append(result)

    for method, seed in jobs:
        while len(running) >= slots:
            done = next((r for r in running if r[0].poll() is not None), None)
            if done is None:
                time.sleep(1)
                continue
            running.remove(done)
            reap(*done)
        print(f"[{Path(script).stem}] {method} seed {seed} ({time.strftime('%H:%M:%S')})", file=sys.stderr, flush=True)
        per_seed = [f"--seed={seed}"] if hasattr(args, "seeds") else []  # gpu_throughput runs one seed
        proc = subprocess.Popen([sys.executable, script, *passthrough, "--worker", method, *per_seed], env=env)
        running.append((proc, method, seed, time.perf_counter()))
    for r in running:
        reap(*r)
    return sorted(results, key=lambda r: (methods.index(r["method"]), r.get("seed", 0)))


# ----- report ----------------------------------------------------------------------------------
def time_to(curve: list[dict[str, Any]], target: float) -> float | None:
    """First training wall-clock at which held-out greedy accuracy reached ``target``."""
    return next((c["t"] for c in curve if c["accuracy"] >= target - 1e-12), None)


def peak_times(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per seed and method: GRPO's peak (value, first time), the time the method first reaches it, ratio."""
    grpo = {r["seed"]: r for r in results if r["method"] == "grpo"}
    rows = []
    for r in results:
        g = grpo.get(r["seed"])
        if g is None or r["method"] == "grpo":
            continue
        peak = max(c["accuracy"] for c in g["curve"])
        t_grpo, t_other = time_to(g["curve"], peak), time_to(r["curve"], peak)
        ratio = (t_grpo / t_other) if (t_grpo and t_other) else None
        rows.append({"method": r["method"], "seed": r["seed"], "grpo_peak": peak, "t_grpo": t_grpo,
                     "t_method": t_other, "ratio": ratio})
    return rows


def report(results: list[dict[str, Any]], base: dict[str, Any] | None, out: Path) -> str:
    """Markdown tables: per-method means over seeds, per-seed time to GRPO's peak; and the plot."""
    import numpy as np

    lines = []
    if base:
        lines.append(f"Start (every run): greedy {base['greedy']['accuracy']:.1%} ± {base['greedy']['se']:.1%}, "
                     f"sampled pass@1 {base['sampled']['accuracy']:.1%} ± {base['sampled']['se']:.1%} "
                     f"(n = {base['greedy']['n']}).\n")
    lines += ["| method | seeds | steps | greedy at the end | sampled pass@1 at the end | peak memory (MB) | "
              "completion tokens/s |", "|---|---|---|---|---|---|---|"]
    for m in dict.fromkeys(r["method"] for r in results):
        rs = [r for r in results if r["method"] == m]
        greedy = [r["curve"][-1]["accuracy"] for r in rs]
        sampled = [r["final_sampled"]["accuracy"] for r in rs if r.get("final_sampled")]

        def ms(v: list[float]) -> str:
            if not v:
                return "—"
            se = np.std(v, ddof=1) / math.sqrt(len(v)) if len(v) > 1 else float("nan")
            return f"{np.mean(v):.1%} ± {se:.1%} ({', '.join(f'{x:.0%}' for x in v)})"

        lines.append(f"| {m} | {len(rs)} | {', '.join(str(r['steps']) for r in rs)} | {ms(greedy)} | {ms(sampled)} | "
                     f"{np.mean([r['peak_memory_mb'] for r in rs]):.0f} | {np.mean([r['tokens_per_s'] for r in rs]):.1f} |")
    pt = peak_times(results)
    if pt:
        lines += ["", "| method | seed | GRPO's peak (greedy) | GRPO first at | method first at | ratio |",
                  "|---|---|---|---|---|---|"]
        for p in pt:
            def s(t: float | None) -> str:
                return "never" if t is None else "the start (never above it)" if t == 0 else f"{t:.0f} s"
            ratio = "—" if p["ratio"] is None else f"{p['ratio']:.2f}x"
            lines.append(f"| {p['method']} | {p['seed']} | {p['grpo_peak']:.1%} | {s(p['t_grpo'])} | "
                         f"{s(p['t_method'])} | {ratio} |")
        for m in dict.fromkeys(p["method"] for p in pt):
            ratios = [p["ratio"] for p in pt if p["method"] == m]
            known = [x for x in ratios if x is not None]
            summary = (f"mean {np.mean(known):.2f}x, min {min(known):.2f}x, max {max(known):.2f}x"
                       if known else "no ratio")
            lines.append(f"\n{m}: time to GRPO's peak, ratio over {len(known)} of {len(ratios)} seeds: {summary}; "
                         f"at least 3x in every seed: {'yes' if len(known) == len(ratios) and min(known) >= 3 else 'no'}.")
    plot(results, base, out / "algo_compare.png")
    return "\n".join(lines)


def plot(results: list[dict[str, Any]], base: dict[str, Any] | None, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    colours = {m: f"C{i}" for i, m in enumerate(dict.fromkeys(r["method"] for r in results))}
    for r in results:
        xs = [c["t"] for c in r["curve"]]
        ys = [100 * c["accuracy"] for c in r["curve"]]
        label = r["method"] if r["seed"] == min(x["seed"] for x in results if x["method"] == r["method"]) else None
        ax.plot(xs, ys, marker="o", ms=3, color=colours[r["method"]], alpha=0.8, label=label)
    ax.set_xlabel("training clock (s)")
    ax.set_ylabel("held-out greedy accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def report_saved(out: Path) -> int:
    """``--report``: the tables and results.json from the runs saved under ``out``."""
    runs = sorted(out.glob("*-s*/result.json"))
    if not runs:
        raise SystemExit(f"no <method>-s<seed>/result.json under {out}")
    order = {m: i for i, m in enumerate(METHODS)}
    results = sorted((json.loads(p.read_text()) for p in runs), key=lambda r: (order[r["method"]], r["seed"]))
    base = json.loads((out / "base.json").read_text()) if (out / "base.json").exists() else None
    previous = json.loads((out / "results.json").read_text()) if (out / "results.json").exists() else {}
    meta = {**previous.get("meta", {}), "report_argv": sys.argv, "runs": [str(p.parent.name) for p in runs]}
    (out / "results.json").write_text(json.dumps({"meta": meta, "base": base, "results": results}, indent=2,
                                                 default=float))
    print(report(results, base, out))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        worker(args)
        return 0
    out = Path(args.out)
    if args.report:
        return report_saved(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    load_start = os.getloadavg()
    if args.eval_n and not (out / "base.json").exists():
        print(f"[algo_compare] base evaluation ({time.strftime('%H:%M:%S')})", file=sys.stderr, flush=True)
        skip = ("methods", "worker", "seeds", "seed", "slots", "threads", "report")
        passthrough = [f"--{k.replace('_', '-')}={v}" for k, v in vars(args).items() if k not in skip]
        subprocess.run([sys.executable, __file__, *passthrough, "--worker", "base"], check=True,
                       env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
    base = json.loads((out / "base.json").read_text()) if args.eval_n else None
    results = run_workers(__file__, args, METHODS)
    meta = {"argv": sys.argv, "cpus": os.cpu_count(), "load_avg_start": load_start, "load_avg_end": os.getloadavg(),
            "started": time.strftime("%Y-%m-%d %H:%M", time.gmtime(t0)), "total_s": round(time.time() - t0)}
    (out / "results.json").write_text(json.dumps({"meta": meta, "base": base, "results": results}, indent=2,
                                                 default=float))
    print(report(results, base, out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

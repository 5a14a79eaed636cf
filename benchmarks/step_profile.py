"""Per-phase time of one training step, the old rollout path against the new one, in ONE run.

* ``old``: the step as it was before issue #18: every row's prompt prefilled (GRPO's 8 samples of
  a prompt prefill it 8 times), pi_old's log-probs and the critic's features recomputed by a
  second forward pass over prompt + response, and every row's prompt run again in the update
  (``collect(..., logprobs_from="forward", share_prompts=False)``,
  ``response_logprobs(..., share_prompts=False)``).
* ``new``: the default: log-probs and features read off ``generate``'s own forward passes, and a
  prompt that several rows share (GRPO / RLOO groups) run once, in sampling and in the update
  (``logprobs_from="generate"``, ``share_prompts=True``).

Each repeat runs old then new (ABAB ...) as step 1 of the same seed, from the same state (weights,
optimiser states and every RNG restored before each step), so both paths train on the same prompts
and, up to float rounding, the same samples. One untimed step of each path first warms the sandbox
and the allocator. Phases are timed by wrapping the trainer's own functions, so the step measured
is ``loop.train_step`` itself:

* generation: ``rollout.generate`` (the shared prompt prefill, the sampler, and on the new path
  the hooks that read log-probs off it);
* recompute: ``rollout.recompute`` (old path only);
* scoring: ``envs.step`` (the env judges the batch);
* critic: every critic forward (the values before the update, and those inside it);
* update: ``loop.update`` (policy and critic losses, backward, optimiser steps; includes the
  critic forwards inside it);
* step: the whole ``train_step``.

Prints the medians and old/new, and checks the numerics on one batch: the largest difference
between the new path's log-probs (and features) and a recomputation, and between the update's
log-probs with shared prompts and with whole rows.

    OMP_NUM_THREADS=1 python benchmarks/step_profile.py --algo sppo --repeats 3
    OMP_NUM_THREADS=1 python benchmarks/step_profile.py --env sppo_gym/PythonTests-v0 --max-new-tokens 128
    python benchmarks/step_profile.py --model tiny-random --repeats 1        # smoke run
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import os
import platform
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from sppo_gym.trainer import checkpoint as ckpt
from sppo_gym.trainer import loop, rollout
from sppo_gym.trainer.config import load_config

PATHS = {"old": {"logprobs_from": "forward", "share_prompts": False},
         "new": {"logprobs_from": "generate", "share_prompts": True}}
PHASES = ("generation", "recompute", "scoring", "critic", "update", "step")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="sppo_gym/Arithmetic-v0")
    p.add_argument("--env-kwargs", default="{}", help="JSON keyword arguments of the env")
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--algo", default="sppo", choices=("sppo", "grpo", "rloo", "ppo"))
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-new-tokens", type=int, default=16)
    p.add_argument("--critic", default="head")
    p.add_argument("--repeats", type=int, default=3, help="timed steps per path (interleaved)")
    p.add_argument("--paths", default="old,new", help="comma-separated, in the order each repeat runs them")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="write the per-step times and medians as JSON here")
    return p.parse_args(argv)


class PhaseTimer:
    """Wall-clock and CPU seconds per phase of the current step, from wrappers around the trainer's
    own functions. CPU time (this process's, every thread) is the steadier figure on a shared
    machine; it leaves out the sandbox's containers, so scoring reads near 0 in it."""

    def __init__(self) -> None:
        self.times: dict[str, float] = defaultdict(float)

    def wrap(self, phase: str, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.times[phase] += time.perf_counter() - t0
                self.times[phase + "_cpu"] += time.process_time() - c0
        return timed


def instrument(run: loop.Run, timer: PhaseTimer) -> None:
    """Time the phases (module globals that ``collect`` and ``train_step`` look up at call time)."""
    rollout.generate = timer.wrap("generation", rollout.generate)
    rollout.recompute = timer.wrap("recompute", rollout.recompute)
    loop.update = timer.wrap("update", loop.update)
    run.envs.step = timer.wrap("scoring", run.envs.step)
    if run.critic is not None:
        run.critic.forward = timer.wrap("critic", run.critic.forward)


def snapshot(run: loop.Run) -> dict[str, Any]:
    """Everything a step changes: weights, optimiser states, RNG streams."""
    state = {"policy": run.policy.state_dict(), "opt": run.opt.state_dict(), "rng": ckpt.rng_state()}
    if run.critic is not None:
        state["critic"], state["critic_opt"] = run.critic.state_dict(), run.critic_opt.state_dict()  # type: ignore[union-attr]
    return copy.deepcopy(state)


def restore(run: loop.Run, state: dict[str, Any]) -> None:
    run.policy.load_state_dict(state["policy"])
    run.opt.load_state_dict(copy.deepcopy(state["opt"]))
    if run.critic is not None:
        run.critic.load_state_dict(state["critic"])
        run.critic_opt.load_state_dict(copy.deepcopy(state["critic_opt"]))  # type: ignore[union-attr]
    ckpt.set_rng_state(state["rng"])


def forcing(fn: Callable, **forced: Any) -> Callable:
    """``fn`` with some keyword arguments fixed, whatever the caller passes for them."""
    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **{**kwargs, **forced})
    return call


def one_step(run: loop.Run, state: dict[str, Any], timer: PhaseTimer, path: str,
             collect: Callable) -> tuple[dict[str, float], dict[str, Any]]:
    """Step 1 from ``state`` on ``path``: (seconds per phase, the step's metrics row)."""
    restore(run, state)
    loop.collect = functools.partial(collect, **PATHS[path])
    loop.response_logprobs = forcing(rollout.response_logprobs, share_prompts=PATHS[path]["share_prompts"])
    timer.times.clear()
    t0, c0 = time.perf_counter(), time.process_time()
    row = loop.train_step(run, 1)
    times = {phase + cpu: timer.times.get(phase + cpu, 0.0) for phase in PHASES[:-1] for cpu in ("", "_cpu")}
    times["step"], times["step_cpu"] = time.perf_counter() - t0, time.process_time() - c0
    return times, row


def numerics(run: loop.Run, state: dict[str, Any], collect: Callable) -> dict[str, float]:
    """Largest |new - recomputed| of pi_old's log-probs (response tokens) and features, same batch."""
    restore(run, state)
    cfg = run.cfg
    prompts, _ = run.envs.reset(seed=loop.step_seeds(cfg.seed, 1, cfg.batch_size // cfg.resolved_group_size(),
                                                     cfg.resolved_group_size()))
    batch = collect(run.policy, run.tokenizer, list(prompts), max_prompt_tokens=cfg.max_prompt_tokens,
                    max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature, top_p=cfg.top_p,
                    micro_batch_size=cfg.micro_batch_size, amp=run.amp, **PATHS["new"])
    lp, st = rollout.recompute(run.policy, batch.input_ids, batch.attention_mask, batch.prompt_len,
                               temperature=cfg.temperature, micro_batch_size=cfg.micro_batch_size, amp=run.amp)
    with torch.no_grad(), run.amp():  # the update's forward with each prompt run once, against whole rows
        shared, _, _ = rollout.response_logprobs(run.policy, batch.input_ids, batch.attention_mask, batch.prompt_len,
                                                 temperature=cfg.temperature, share_prompts=True)
    mask = batch.response_mask.bool()
    return {"logprob_max_abs_diff": (batch.old_logprobs - lp)[mask].abs().max().item(),
            "state_max_abs_diff": (batch.states - st).abs().max().item(),
            "state_max_abs": st.abs().max().item(),
            "update_shared_prompt_logprob_max_abs_diff": (shared - lp)[mask].abs().max().item()}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    load_start = loadavg()
    torch.set_num_threads(args.threads)
    paths = args.paths.split(",")
    cfg = load_config(None, {"env": args.env, "env_kwargs": args.env_kwargs, "model": args.model, "algo": args.algo,
                             "batch_size": args.batch_size, "max_new_tokens": args.max_new_tokens,
                             "critic": args.critic, "seed": args.seed, "eval_n": 0, "progress": False,
                             "out": tempfile.mkdtemp(prefix="step_profile_")})
    collect = rollout.collect
    run = loop.setup(cfg)
    timer = PhaseTimer()
    instrument(run, timer)
    state = snapshot(run)
    for path in paths:  # warm-up: sandbox containers, allocator, first-call costs
        one_step(run, state, timer, path, collect)
    steps: dict[str, list[dict[str, float]]] = {p: [] for p in paths}
    rows: dict[str, list[dict[str, Any]]] = {p: [] for p in paths}
    for r in range(args.repeats):
        for path in paths:
            times, row = one_step(run, state, timer, path, collect)
            steps[path].append(times)
            rows[path].append({k: row.get(k) for k in ("reward_mean", "response_len", "approx_kl", "clipfrac",
                                                       "policy_loss")})
            print(f"repeat {r} {path}: " + " ".join(f"{k} {times[k]:.2f} ({times[k + '_cpu']:.2f} cpu)"
                                                     for k in PHASES), flush=True)
    check = numerics(run, state, collect)
    run.envs.close()
    medians = {p: {k: statistics.median(t[k] for t in steps[p]) for k in steps[p][0]} for p in paths}
    result = {"args": vars(args), "machine": machine(), "loadavg": {"start": load_start, "end": loadavg()},"steps": steps, "rows": rows, "medians": medians,
              "numerics": check}
    print(table(medians, paths))
    print("numerics (new path vs recomputed, same batch): " + ", ".join(f"{k} {v:.3g}" for k, v in check.items()))
    print(f"load average: start {load_start}, end {result['loadavg']['end']}")
    print("metrics per path (first repeat): " + json.dumps({p: rows[p][0] for p in paths}))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=1))
    return result


def table(medians: dict[str, dict[str, float]], paths: list[str]) -> str:
    """Markdown: median wall-clock and CPU seconds per phase and path, and old/new of each."""
    ratio = {"old", "new"} <= set(paths)

    def cells(key: str) -> list[str]:
        out = [f"{medians[p][key]:.2f}" for p in paths]
        if ratio:
            new = medians["new"][key]
            out.append(f"{medians['old'][key] / new:.2f}x" if new > 0.005 else "-")
        return out

    cols = [f"{p} (s)" for p in paths] + (["old/new"] if ratio else [])
    head = "| phase | " + " | ".join(cols) + " | " + " | ".join(c.replace("(s)", "(CPU s)") for c in cols) + " |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for ph in PHASES:
        lines.append(f"| {ph} | " + " | ".join(cells(ph) + cells(ph + "_cpu")) + " |")
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    return {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "torch": torch.__version__}


def loadavg() -> str | None:
    """1, 5 and 15-minute load averages (Linux), to judge how quiet the machine was."""
    path = Path("/proc/loadavg")
    return " ".join(path.read_text().split()[:3]) if path.exists() else None


if __name__ == "__main__":
    main()

"""The training loop, CleanRL-style: set up, then per step roll out, score, compute advantages
(critic BEFORE its update), one epoch of clipped-surrogate updates over mini-batches, log.

SPPO (arXiv 2604.08865): one response per prompt, a prompt-only critic V(x) = sigmoid(logit)
trained with BCE, A = R - V(x) broadcast to every token, token-level clipped ratio, token-mean.
GRPO / RLOO / PPO differ only in ``algorithms.py``.
"""

from __future__ import annotations

import copy
import json
import math
import random
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import yaml

from . import checkpoint as ckpt
from .algorithms import Algorithm, get_algorithm
from .config import TrainConfig
from .critic import build_critic
from .curriculum import build_curriculum
from .evaluate import SANDBOX_ERROR, Evaluation, HeldOut
from .metrics import MetricsLog, plot_curriculum, plot_rewards, verdict_counts
from .models import apply_lora, load_policy, resolve_device, save_policy
from .rollout import Rollout, collect
from .update import update


@dataclass
class Run:
    """Everything a step touches."""

    cfg: TrainConfig
    algo: Algorithm
    policy: Any
    tokenizer: Any
    critic: torch.nn.Module | None
    ref: Any
    opt: torch.optim.Optimizer
    critic_opt: torch.optim.Optimizer | None
    envs: Any
    held_out: HeldOut | None
    amp: Callable[[], AbstractContextManager]
    curriculum: Any = None  # trainer/curriculum.py: None, SuccessCurriculum or CriticCurriculum


def make_amp(device: torch.device, dtype: str) -> Callable[[], AbstractContextManager]:
    """One code path for CPU and GPU: bf16 autocast on CUDA (or when asked), else a no-op."""
    if dtype == "bfloat16" or (dtype == "auto" and device.type == "cuda"):
        return lambda: torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext


def setup(cfg: TrainConfig) -> Run:
    """Seed, load policy / critic / reference, optimisers, training and held-out envs."""
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    algo = get_algorithm(cfg.algo)
    device = resolve_device(cfg.device)
    policy, tok = load_policy(cfg.model, device)
    critic = None
    if algo.critic:
        v0 = cfg.critic_init  # SPPO's head outputs a logit, PPO's a value
        bias = math.log(v0 / (1 - v0)) if algo.critic == "sequence" else v0
        critic = build_critic(cfg.critic, policy, device, cfg.max_prompt_tokens, bias)
    ref = None
    if cfg.kl_coef > 0:
        ref = copy.deepcopy(policy).eval().requires_grad_(False)
    if cfg.lora_r > 0:
        policy = apply_lora(policy, cfg.lora_r, cfg.lora_alpha)
    if cfg.gradient_checkpointing:
        enable = getattr(policy, "activation_checkpointing_enable", None) or policy.gradient_checkpointing_enable
        enable({"use_reentrant": False})  # the kwargs dict is the first parameter of both spellings
    params = [p for p in policy.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    critic_opt = None
    if critic is not None:
        critic_params = [p for p in critic.parameters() if p.requires_grad]
        critic_opt = torch.optim.AdamW(critic_params, lr=cfg.critic_lr, weight_decay=cfg.weight_decay)
    envs = gym.make_vec(cfg.env, num_envs=cfg.batch_size, **cfg.env_kwargs)
    held_out = None
    if cfg.eval_n > 0:
        held_out = HeldOut(cfg.env, cfg.env_kwargs, cfg.eval_n, cfg.eval_batch_size, cfg.eval_max_new_tokens,
                           cfg.max_prompt_tokens, cfg.eval_env_kwargs)
    return Run(cfg, algo, policy, tok, critic, ref, opt, critic_opt, envs, held_out,
               make_amp(device, cfg.dtype), build_curriculum(cfg))


def step_seeds(seed: int, step: int, n_prompts: int, group_size: int) -> list[int]:
    """Per-sub-env seeds for this step: distinct prompts, each repeated ``group_size`` times.

    Drawn from SeedSequence([seed, step]) so they depend only on (seed, step): a resumed run
    sees the same prompts as an uninterrupted one.
    """
    prompt_seeds = np.random.SeedSequence([seed, step]).generate_state(n_prompts)  # (n_prompts,)
    return [int(s) for s in np.repeat(prompt_seeds, group_size)]  # (B,)


def rollout_step(run: Run, step: int) -> tuple[Rollout, dict[str, float]]:
    """Sample prompts, generate, score; drop sandbox errors (whole groups for GRPO/RLOO)."""
    cfg, g = run.cfg, run.cfg.resolved_group_size()
    options, picked = run.curriculum.options(run, step) if run.curriculum is not None else (None, {})
    prompts, reset_infos = run.envs.reset(seed=step_seeds(cfg.seed, step, cfg.batch_size // g, g), options=options)
    t0 = time.perf_counter()
    batch = collect(run.policy, run.tokenizer, list(prompts), max_prompt_tokens=cfg.max_prompt_tokens,
                    max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature, top_p=cfg.top_p,
                    micro_batch_size=cfg.micro_batch_size, amp=run.amp)
    t1 = time.perf_counter()
    _, rewards, _, _, infos = run.envs.step(batch.responses)
    t2 = time.perf_counter()
    ok = np.asarray(infos["verdict"]) != SANDBOX_ERROR  # (B,)
    ok = np.repeat(ok.reshape(-1, g).all(-1), g)  # a group is only comparable when complete
    batch.rewards = torch.as_tensor(rewards, dtype=torch.float32, device=batch.old_logprobs.device)  # (B,)
    batch = batch.select(np.flatnonzero(ok).tolist())
    stats = {"sandbox_errors": int((~ok).sum()), "gen_s": t1 - t0, "verify_s": t2 - t1, **picked,
             **verdict_counts("verdict_", infos["verdict"])}  # every response, sandbox errors included
    if "difficulty" in reset_infos:  # envs with levels say which level each problem has
        stats["difficulty"] = float(np.mean(reset_infos["difficulty"]))
    if run.curriculum is not None:
        run.curriculum.observe(np.asarray(rewards)[ok])
    return batch, stats


def train_step(run: Run, step: int) -> dict[str, Any]:
    """One SPPO (or baseline) iteration; returns the metrics row without wall time / eval."""
    cfg = run.cfg
    for group in run.opt.param_groups:
        group["lr"] = lr_at(step, cfg.lr, cfg.warmup_steps)
    batch, stats = rollout_step(run, step)
    row: dict[str, Any] = {"step": step, "lr": run.opt.param_groups[0]["lr"], **stats}
    if len(batch) == 0:  # every sample hit a sandbox error: nothing to learn from this step
        return row
    t0 = time.perf_counter()
    values = None
    if run.critic is not None:
        with torch.no_grad():  # the critic BEFORE its update gives the advantages
            values = run.critic(batch, token_level=run.algo.critic == "token")  # (B,) | (B, T)
    adv, returns = run.algo.advantages(batch.rewards, values, batch.response_mask, cfg.resolved_group_size())
    row.update(update(run, batch, adv, returns))
    row.update(batch_stats(batch, values, run.algo))
    row["update_s"] = time.perf_counter() - t0
    return row


def lr_at(step: int, lr: float, warmup_steps: int) -> float:
    """Linear warm-up over ``warmup_steps`` (1-based steps), then constant (as in the paper)."""
    return lr * min(1.0, step / warmup_steps) if warmup_steps > 0 else lr


def batch_stats(batch: Rollout, values: torch.Tensor | None, algo: Algorithm) -> dict[str, float]:
    """Reward, response length, and how well the critic's prediction matches the rewards."""
    r = batch.rewards.float()  # (B,)
    out = {"reward_mean": r.mean().item(), "samples": len(batch),
           "response_len": batch.response_mask.float().sum(-1).mean().item()}
    if values is not None:
        v = torch.sigmoid(values) if algo.critic == "sequence" else values[:, 0]  # (B,) predicted R
        out["value_mean"] = v.mean().item()
        out["value_brier"] = ((v - r) ** 2).mean().item()
        if len(r) > 1 and r.std() > 0 and v.std() > 0:
            out["value_corr"] = torch.corrcoef(torch.stack([v, r]))[0, 1].item()
    return out


def train(cfg: TrainConfig, resume: bool = False) -> dict[str, Any]:
    """Run training; writes metrics.csv, reward.png (and curriculum.png), checkpoint.pt, summary.json,
    samples.json, final/."""
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump(cfg.model_dump(), sort_keys=False))
    run = setup(cfg)
    start, wall, before = 0, 0.0, None
    if resume:
        start, wall, before = restore(run, ckpt.load(out))
    log = MetricsLog(out, resume_step=start if resume else None, tensorboard=cfg.tensorboard)
    if not resume and run.held_out is not None:
        before = evaluate(run)
        log.write({"step": 0, "wall_s": 0.0, **eval_row(before)})
    after, step, eval_step = None, start, start
    bar = progress(cfg, start)
    for step in range(start + 1, cfg.steps + 1):
        if cfg.max_wall_s and wall >= cfg.max_wall_s:
            step -= 1
            break
        t0 = time.perf_counter()
        row = train_step(run, step)
        wall += time.perf_counter() - t0
        row["wall_s"] = wall
        if run.held_out is not None and (step == cfg.steps or (cfg.eval_every and step % cfg.eval_every == 0)):
            after = evaluate(run)
            row.update(eval_row(after))
            eval_step = step
        log.write(row)
        bar.update(1)
        bar.set_postfix(reward=f"{row.get('reward_mean', float('nan')):.2f}",
                        **({"acc": f"{after.accuracy:.2f}"} if after is not None else {}))
        if cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
            save_checkpoint(run, step, wall, before)
    bar.close()
    if run.held_out is not None and eval_step != step:
        after = evaluate(run)  # stopped by the wall-clock budget before the last step
        log.amend_last(**eval_row(after))
    return finish(run, out, log, step, wall, before, after)


def evaluate(run: Run) -> Evaluation:
    """Held-out greedy accuracy, verdicts and samples (not counted in the training wall clock)."""
    return run.held_out.evaluate(run.policy, run.tokenizer, amp=run.amp)  # type: ignore[union-attr]


def eval_row(ev: Evaluation) -> dict[str, Any]:
    """The metrics.csv entries of one evaluation: accuracy and held-out verdict counts."""
    return {"eval_accuracy": ev.accuracy, **{f"eval_verdict_{v}": n for v, n in ev.verdicts.items()}}


def before_after(before: Evaluation | None, after: Evaluation | None) -> list[dict[str, Any]]:
    """The sampled held-out problems with the answer, verdict and reward before and after training.

    Paired by problem index (every evaluation samples the same first indices); a side that was
    not evaluated (e.g. a resumed run from an old checkpoint) is None.
    """
    rows: dict[int, dict[str, Any]] = {}
    for when, ev in (("before", before), ("after", after)):
        for s in ev.samples if ev is not None else []:
            row = rows.setdefault(s["index"], {"index": s["index"], "prompt": s["prompt"],
                                               "before": None, "after": None})
            row[when] = {k: s[k] for k in ("response", "verdict", "reward")}
    return [rows[i] for i in sorted(rows)]


def progress(cfg: TrainConfig, start: int) -> Any:
    """A tqdm bar with the live reward (disabled with progress=false)."""
    from tqdm.auto import tqdm

    return tqdm(total=cfg.steps, initial=start, desc=f"{cfg.algo} {cfg.env}", disable=not cfg.progress,
                dynamic_ncols=True)


def save_checkpoint(run: Run, step: int, wall: float, before: Evaluation | None) -> None:
    ckpt.save(Path(run.cfg.out), step=step, wall_s=wall, config=run.cfg.model_dump(),
              eval_before=asdict(before) if before is not None else None,
              policy=run.policy.state_dict(), opt=run.opt.state_dict(),
              critic=run.critic.state_dict() if run.critic is not None else None,
              critic_opt=run.critic_opt.state_dict() if run.critic_opt is not None else None,
              curriculum=run.curriculum.state_dict() if run.curriculum is not None else None)


def restore(run: Run, state: dict[str, Any]) -> tuple[int, float, Evaluation | None]:
    """Load a checkpoint into a freshly set-up run; returns (step, wall_s, the evaluation before training)."""
    run.policy.load_state_dict(state["policy"])
    run.opt.load_state_dict(state["opt"])
    if run.critic is not None:
        run.critic.load_state_dict(state["critic"])
        run.critic_opt.load_state_dict(state["critic_opt"])  # type: ignore[union-attr]
    if run.curriculum is not None and state.get("curriculum") is not None:
        run.curriculum.load_state_dict(state["curriculum"])
    ckpt.set_rng_state(state["rng"])
    before = state.get("eval_before")
    if before is None and state.get("accuracy_before") is not None:  # a checkpoint from before eval_before
        before = {"accuracy": state["accuracy_before"]}
    return int(state["step"]), float(state["wall_s"]), Evaluation(**before) if before is not None else None


def finish(run: Run, out: Path, log: MetricsLog, step: int, wall: float, before: Evaluation | None,
           after: Evaluation | None) -> dict[str, Any]:
    """Checkpoint, final policy, plot, summary and the before/after samples (samples.json)."""
    save_checkpoint(run, step, wall, before)
    save_policy(run.policy, run.tokenizer, out / "final")
    log.close()
    plot_rewards(log.rows, out / "reward.png", title=f"{run.cfg.algo} on {run.cfg.env} ({run.cfg.model})")
    if run.cfg.curriculum != "none":
        plot_curriculum(log.rows, out / "curriculum.png", title=f"curriculum={run.cfg.curriculum} on {run.cfg.env}")
    samples = before_after(before, after)
    summary = {"env": run.cfg.env, "model": run.cfg.model, "algo": run.cfg.algo, "steps": step,
               "train_wall_s": round(wall, 2),
               "accuracy_before": before.accuracy if before is not None else None,
               "accuracy_after": after.accuracy if after is not None else None,
               "eval_n": run.cfg.eval_n,
               "verdicts_before": before.verdicts if before is not None else None,
               "verdicts_after": after.verdicts if after is not None else None,
               "reward_curve": [float(r["reward_mean"]) for r in log.rows if r.get("reward_mean") not in (None, "")],
               "samples": samples}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    (out / "samples.json").write_text(json.dumps(samples, indent=2))
    run.envs.close()
    if run.curriculum is not None:
        run.curriculum.close()
    if run.held_out is not None:
        run.held_out.close()
    return summary

"""The SPPO training step, top to bottom (CleanRL-style), and the loop around it.

SPPO (arXiv 2604.08865) treats a whole response as one bandit action. One step (:func:`train_step`):

1. **sample**: reset the vector env to this step's prompts (each ``group_size`` times: 1 for SPPO
   and PPO), generate one response per sub-env, keep pi_old's per-token log-probs;
2. **score**: ``envs.step(responses)`` through the Gymnasium vector API gives R in [0, 1]; a
   response whose verdict is ``sandbox_error`` is an infrastructure failure, dropped (with its
   whole group), never scored as 0;
3. **advantages** (:func:`advantages`): SPPO's A = R - V(x) from the prompt-only critic BEFORE its
   update, one scalar per response; GRPO and RLOO baselines from the group; PPO token-level GAE;
4. **clipped update** (:func:`update`): one epoch of shuffled mini-batches, one optimiser step each,
   split into micro-batches for memory; PPO's clipped surrogate per token, token-mean, dual clip;
5. **critic update**: in the same mini-batches, SPPO's BCE of sigmoid(V(x)) against R (PPO: MSE
   against the returns).

The pure pieces live beside this file: ``losses`` (every loss and advantage formula), ``rollout``
(generation and the batch's tensors), ``critic`` (the critic modules), ``algorithms`` (each
algorithm's defaults, one table), ``checkpoint`` (exact resume), ``metrics`` (metrics.csv, plots,
summary.json), ``evaluation.held_out`` (held-out accuracy before and after training).
"""

from __future__ import annotations

import copy
import random
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import yaml
from tqdm.auto import tqdm

from . import checkpoint as ckpt
from . import losses as L
from .algorithms import Algorithm, get_algorithm
from .config import TrainConfig
from .critic import Critic, build_critic
from .curriculum import build_curriculum
from .evaluation import SANDBOX_ERROR
from .evaluation.held_out import Evaluation, HeldOut
from .metrics import MetricsLog, eval_row, plot_curriculum, plot_rewards, verdict_counts, write_summary
from .models import apply_lora, load_policy, make_amp, resolve_device, save_policy
from .rollout import Rollout, collect, response_logprobs


@dataclass
class Run:
    """Everything a step touches."""

    cfg: TrainConfig
    algo: Algorithm
    policy: Any
    tokenizer: Any
    critic: Critic | None
    ref: Any
    opt: torch.optim.Optimizer
    critic_opt: torch.optim.Optimizer | None
    envs: Any
    held_out: HeldOut | None
    amp: Callable[[], AbstractContextManager]
    curriculum: Any = None  # trainer/curriculum.py: None, SuccessCurriculum or CriticCurriculum
    dist: Any = None  # trainer/distributed.py's DataParallel when torchrun started N processes
    rows: slice = field(default_factory=lambda: slice(None))  # the rows of the step's batch this process samples (all in one process)

    @property
    def main(self) -> bool:
        """The process that writes the outputs (the only one, or rank 0)."""
        return self.dist is None or self.dist.is_main


def setup(cfg: TrainConfig, dist: Any = None) -> Run:
    """Seed, load policy / critic / reference, optimisers, training and held-out envs.

    ``dist`` (trainer/distributed.py, N processes): every rank builds the same initial weights,
    wraps them for gradient sync, samples its block of rows, and draws from its own RNG streams."""
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    algo = get_algorithm(cfg.algo)
    device = resolve_device(cfg.device) if dist is None else dist.device
    policy, tok = load_policy(cfg.model, device)
    critic = None
    if algo.critic is not None:
        critic = build_critic(cfg.critic, policy, device, cfg.max_prompt_tokens, init=cfg.critic_init,
                              token_level=algo.critic == "token")
    ref = None
    if cfg.kl_coef > 0:
        ref = copy.deepcopy(policy).eval().requires_grad_(False)
    if cfg.lora_r > 0:
        policy = apply_lora(policy, cfg.lora_r, cfg.lora_alpha)
    if cfg.gradient_checkpointing:
        enable = getattr(policy, "activation_checkpointing_enable", None) or policy.gradient_checkpointing_enable
        enable({"use_reentrant": False})  # the kwargs dict is the first parameter of both spellings
    if dist is not None:  # DDP / FSDP, before the optimisers take the parameters (FSDP shards them)
        dist.wrap(policy, critic, cfg.dtype)
    params = [p for p in policy.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    critic_opt = None
    if critic is not None:
        critic_params = [p for p in critic.parameters() if p.requires_grad]
        critic_opt = torch.optim.AdamW(critic_params, lr=cfg.critic_lr, weight_decay=cfg.weight_decay)
    rows = slice(None) if dist is None else dist.rows(cfg)
    envs = gym.make_vec(cfg.env, num_envs=len(range(cfg.batch_size)[rows]), **cfg.env_kwargs)
    held_out = None
    if cfg.eval_n > 0 and (dist is None or dist.is_main):
        held_out = HeldOut(cfg.env, cfg.env_kwargs, cfg.eval_n, cfg.eval_batch_size, cfg.eval_max_new_tokens,
                           cfg.max_prompt_tokens, cfg.eval_env_kwargs)
    run = Run(cfg, algo, policy, tok, critic, ref, opt, critic_opt, envs, held_out,
              make_amp(device, cfg.dtype), build_curriculum(cfg), dist, rows)
    if dist is not None:
        dist.seed(cfg.seed)
    return run


# ----- one training step ---------------------------------------------------------------------
def train_step(run: Run, step: int) -> dict[str, Any]:
    """One SPPO (or baseline) iteration; returns the metrics row without wall time / eval."""
    cfg = run.cfg
    for group in run.opt.param_groups:
        group["lr"] = lr_at(step, cfg.lr, cfg.warmup_steps)
    # 1.-2. sample and score: B responses, rewards (B,); sandbox errors already dropped
    batch, stats = rollout_step(run, step)
    row: dict[str, Any] = {"step": step, "lr": run.opt.param_groups[0]["lr"], **stats}
    if len(batch) == 0:  # every sample hit a sandbox error: nothing to learn from this step
        return row
    t0 = time.perf_counter()
    # 3. advantages, from the critic BEFORE its update
    values = None
    if run.critic is not None:
        with torch.no_grad():
            values = run.critic(batch)  # (B,) V(x) logits (SPPO) | (B, T) values (PPO)
    adv, returns = advantages(cfg.algo, batch.rewards, values, batch.response_mask,
                              cfg.resolved_group_size())  # (B,) | (B, T), returns (B, T) | None
    # 4.-5. one epoch of clipped policy updates and critic updates
    row.update(update(run, batch, adv, returns))
    row.update(batch_stats(batch, values, run.critic))
    row["update_s"] = time.perf_counter() - t0
    return row


def rollout_step(run: Run, step: int) -> tuple[Rollout, dict[str, float]]:
    """1. sample this step's prompts and one response each; 2. score them through the env, and drop
    the sandbox errors (whole groups for GRPO / RLOO: a group is only comparable when complete)."""
    cfg, g = run.cfg, run.cfg.resolved_group_size()
    options, picked = run.curriculum.options(run, step) if run.curriculum is not None else (None, {})
    prompts, reset_infos = run.envs.reset(seed=step_seeds(cfg.seed, step, cfg.batch_size // g, g)[run.rows],
                                          options=options)
    t0 = time.perf_counter()
    batch = collect(run.policy, run.tokenizer, list(prompts), max_prompt_tokens=cfg.max_prompt_tokens,
                    max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature, top_p=cfg.top_p,
                    micro_batch_size=cfg.micro_batch_size, amp=run.amp)  # ids (B, P+T), old log-probs (B, T)
    t1 = time.perf_counter()
    _, rewards, _, _, infos = run.envs.step(batch.responses)  # rewards (B,)
    t2 = time.perf_counter()
    ok = np.asarray(infos["verdict"]) != SANDBOX_ERROR  # (B,)
    ok = np.repeat(ok.reshape(-1, g).all(-1), g)  # (B,) whole groups
    batch.rewards = torch.as_tensor(rewards, dtype=torch.float32, device=batch.old_logprobs.device)  # (B,)
    batch = batch.select(np.flatnonzero(ok).tolist())  # B' <= B rows
    stats = {"sandbox_errors": int((~ok).sum()), "gen_s": t1 - t0, "verify_s": t2 - t1, **picked,
             **verdict_counts("verdict_", infos["verdict"])}  # every response, sandbox errors included
    if "difficulty" in reset_infos:  # envs with levels say which level each problem has
        stats["difficulty"] = float(np.mean(reset_infos["difficulty"]))
    if run.curriculum is not None:
        run.curriculum.observe(np.asarray(rewards)[ok])
    return batch, stats


def advantages(algo: str, rewards: torch.Tensor, values: torch.Tensor | None, mask: torch.Tensor,
               group_size: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Advantages of ``algo`` from rewards (B,): (B,) per response, or (B, T) per token with the
    (B, T) returns the critic regresses on (PPO). ``values``: the critic's output, before its update."""
    if algo == "sppo":  # A = R - sigmoid(V(x)), no std normalisation; broadcast to every token later
        return L.sppo_advantages(rewards, values), None  # (B,)
    if algo == "grpo":  # (R - group mean) / group std
        return L.grpo_advantages(rewards, group_size), None  # (B,)
    if algo == "rloo":  # R - mean of the other N-1 rewards of the group
        return L.rloo_advantages(rewards, group_size), None  # (B,)
    if algo == "ppo":  # GAE with gamma = lambda = 1, the outcome reward on the last token
        return L.gae_advantages(rewards, values, mask, gamma=1.0, lam=1.0)  # (B, T), (B, T)
    raise ValueError(f"no advantage for algo={algo!r}")


def update(run: Run, batch: Rollout, adv: torch.Tensor, returns: torch.Tensor | None) -> dict[str, float]:
    """One epoch over the batch in shuffled mini-batches (one optimiser step each), each split into
    micro-batches for memory; returns the mean health metrics.

    Weights keep each loss exactly the mini-batch's token-mean (or sequence-mean) however it is split.
    ``adv``: (B,) sequence advantages or (B, T) token advantages (PPO); ``returns``: (B, T) or None.
    """
    cfg = run.cfg
    perm = torch.randperm(len(batch))  # (B,) global torch RNG: saved in checkpoints, so resume is exact
    sums: dict[str, float] = defaultdict(float)
    n_mb = 0
    for mb_idx in perm.split(cfg.minibatch_size):
        run.opt.zero_grad(set_to_none=True)
        if run.critic_opt is not None:
            run.critic_opt.zero_grad(set_to_none=True)
        mb_tokens = batch.response_mask[mb_idx].sum().clamp(min=1)
        for micro in mb_idx.split(cfg.micro_batch_size):
            mb = batch.select(micro)
            w_seq = len(micro) / len(mb_idx)  # share of the mini-batch's sequences
            w = (mb.response_mask.sum() / mb_tokens).item() if cfg.ratio == "token" else w_seq
            stats = micro_step(run, mb, adv[micro], None if returns is None else returns[micro], w, w_seq)
            for k, v in stats.items():
                sums[k] += v * w
        sums["grad_norm"] += optimizer_step(run)
        n_mb += 1
    return {k: v / n_mb for k, v in sums.items()}


def micro_step(run: Run, mb: Rollout, adv: torch.Tensor, returns: torch.Tensor | None, w: float,
               w_seq: float) -> dict[str, float]:
    """Forward, losses and backward of one micro-batch; each loss is scaled by the micro-batch's share
    of the mini-batch: ``w`` of the policy loss's normaliser (tokens or sequences), ``w_seq`` of sequences."""
    cfg = run.cfg
    mask = mb.response_mask  # (b, T)
    share = run.dist is None  # rows of one prompt (GRPO groups) run it once; DDP allows one forward per backward
    # 4. clipped policy loss: ratio pi_theta / pi_old per token, clipped surrogate, token-mean
    with run.amp():
        logprobs, entropy, _ = response_logprobs(
            run.policy, mb.input_ids, mb.attention_mask, mb.prompt_len,
            temperature=cfg.temperature, with_entropy=True, share_prompts=share,
        )  # (b, T), (b, T)
    pg_loss = L.policy_loss(logprobs, mb.old_logprobs, adv, mask, clip_eps=cfg.clip_eps, ratio=cfg.ratio,
                            dual_clip=cfg.dual_clip)
    ent = L.masked_mean(entropy, mask)
    loss = pg_loss - cfg.entropy_coef * ent if cfg.entropy_coef else pg_loss  # no backward through H unless used
    kl = None
    if run.ref is not None:
        with torch.no_grad(), run.amp():
            ref_lp, _, _ = response_logprobs(run.ref, mb.input_ids, mb.attention_mask, mb.prompt_len,
                                             temperature=cfg.temperature, share_prompts=share)  # (b, T)
        kl = L.kl_penalty(logprobs, ref_lp, mask)
        loss = loss + cfg.kl_coef * kl
    (loss * w).backward()
    out = {"policy_loss": pg_loss.item(), "entropy": ent.item(), **ratio_stats(logprobs, mb.old_logprobs, mask,
                                                                                cfg.clip_eps)}
    if kl is not None:
        out["kl_ref"] = kl.item()
    # 5. critic loss: SPPO's BCE of sigmoid(V(x)) against R, a sequence mean; PPO's MSE, a token mean
    if run.critic is not None:
        with run.amp():
            values = run.critic(mb)  # (b,) logits | (b, T) values
        if run.critic.token_level:
            v_loss, v_w = L.value_loss_mse(values.float(), returns, mask), w
        else:
            v_loss, v_w = L.value_loss_bce(values.float(), mb.rewards), w_seq
        (v_loss * v_w).backward()
        out["value_loss"] = v_loss.item()
    return out


def optimizer_step(run: Run) -> float:
    """Clip gradients and step both optimisers; returns the policy's pre-clip gradient norm."""
    cfg = run.cfg
    params = [p for g in run.opt.param_groups for p in g["params"]]
    max_norm = cfg.max_grad_norm if cfg.max_grad_norm > 0 else float("inf")
    norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
    run.opt.step()
    if run.critic_opt is not None:
        critic_params = [p for g in run.critic_opt.param_groups for p in g["params"]]
        torch.nn.utils.clip_grad_norm_(critic_params, max_norm)
        run.critic_opt.step()
    return float(norm)


# ----- small pure helpers of the step --------------------------------------------------------
def step_seeds(seed: int, step: int, n_prompts: int, group_size: int) -> list[int]:
    """Per-sub-env seeds for this step: distinct prompts, each repeated ``group_size`` times.

    Drawn from SeedSequence([seed, step]) so they depend only on (seed, step): a resumed run
    sees the same prompts as an uninterrupted one.
    """
    prompt_seeds = np.random.SeedSequence([seed, step]).generate_state(n_prompts)  # (n_prompts,)
    return [int(s) for s in np.repeat(prompt_seeds, group_size)]  # (B,)


def lr_at(step: int, lr: float, warmup_steps: int) -> float:
    """Linear warm-up over ``warmup_steps`` (1-based steps), then constant (as in the paper)."""
    return lr * min(1.0, step / warmup_steps) if warmup_steps > 0 else lr


@torch.no_grad()
def ratio_stats(logprobs: torch.Tensor, old: torch.Tensor, mask: torch.Tensor, clip_eps: float) -> dict[str, float]:
    """CleanRL's health metrics: approx KL(pi_old || pi) (k3) and the fraction of clipped tokens."""
    log_r = (logprobs - old) * mask  # (b, T)
    ratio = torch.exp(log_r)  # (b, T)
    return {
        "approx_kl": L.masked_mean((ratio - 1) - log_r, mask).item(),
        "clipfrac": L.masked_mean(((ratio - 1).abs() > clip_eps).float(), mask).item(),
    }


def batch_stats(batch: Rollout, values: torch.Tensor | None, critic: Critic | None) -> dict[str, float]:
    """Reward, response length, and how well the critic's prediction matches the rewards."""
    v = critic.predicted_reward(values) if values is not None and critic is not None else None  # (B,) predicted R
    return reward_stats(batch.rewards.float(), batch.response_mask.float().sum(-1), v)


def reward_stats(r: torch.Tensor, lengths: torch.Tensor, v: torch.Tensor | None) -> dict[str, float]:
    """:func:`batch_stats` from rewards (B,), response lengths (B,) and predicted rewards (B,) or None."""
    out = {"reward_mean": r.mean().item(), "samples": len(r), "response_len": lengths.mean().item()}
    if v is not None:
        out["value_mean"] = v.mean().item()
        out["value_brier"] = ((v - r) ** 2).mean().item()
        if len(r) > 1 and r.std() > 0 and v.std() > 0:
            out["value_corr"] = torch.corrcoef(torch.stack([v, r]))[0, 1].item()
    return out


# ----- the loop ------------------------------------------------------------------------------
def train(cfg: TrainConfig, resume: bool = False, dist: Any = None) -> dict[str, Any]:
    """Run training; writes metrics.csv, reward.png (and curriculum.png), checkpoint.pt, summary.json,
    samples.json, final/. ``dist``: see :func:`setup` (rank 0 writes; every rank returns the summary)."""
    out = Path(cfg.out)
    if dist is None or dist.is_main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.yaml").write_text(yaml.safe_dump(cfg.model_dump(), sort_keys=False))
    run = setup(cfg, dist)
    start, wall, before = 0, 0.0, None
    if resume:
        start, wall, before = restore(run, ckpt.load(out))
    log = (MetricsLog if run.main else dist.quiet_log)(out, resume_step=start if resume else None,
                                                       tensorboard=cfg.tensorboard)
    if not resume and cfg.eval_n > 0:
        before = evaluate(run)
        log.write({"step": 0, "wall_s": 0.0, **eval_row(before)})
    after, step, eval_step = None, start, start
    bar = tqdm(total=cfg.steps, initial=start, desc=f"{cfg.algo} {cfg.env}", disable=not (cfg.progress and run.main),
               dynamic_ncols=True)
    step_fn = train_step if dist is None else dist.train_step
    for step in range(start + 1, cfg.steps + 1):
        if cfg.max_wall_s and wall >= cfg.max_wall_s:
            step -= 1
            break
        t0 = time.perf_counter()
        row = step_fn(run, step)
        wall += time.perf_counter() - t0
        if dist is not None:
            wall = dist.agree(wall)  # every rank stops at the same step
        row["wall_s"] = wall
        if cfg.eval_n > 0 and (step == cfg.steps or (cfg.eval_every and step % cfg.eval_every == 0)):
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
    if cfg.eval_n > 0 and eval_step != step:
        after = evaluate(run)  # stopped by the wall-clock budget before the last step
        log.amend_last(**eval_row(after))
    return finish(run, out, log, step, wall, before, after)


def evaluate(run: Run) -> Evaluation:
    """Held-out greedy accuracy, verdicts and samples (not counted in the training wall clock)."""
    if run.dist is not None:
        return run.dist.evaluate(run)  # rank 0 evaluates, every rank gets the result
    return run.held_out.evaluate(run.policy, run.tokenizer, amp=run.amp)  # type: ignore[union-attr]


def save_checkpoint(run: Run, step: int, wall: float, before: Evaluation | None) -> Path | None:
    """Everything a resumed run needs: weights, optimisers, curriculum, the evaluation before
    training (for samples.json), config, step and wall clock (``checkpoint.save`` adds the RNG states)."""
    if run.dist is not None:
        return run.dist.save_run(run, step, wall, before)  # gathered to rank 0, with every rank's RNG
    return ckpt.save(Path(run.cfg.out), step=step, wall_s=wall, config=run.cfg.model_dump(),
                     eval_before=asdict(before) if before is not None else None,
                     policy=run.policy.state_dict(), opt=run.opt.state_dict(),
                     critic=run.critic.state_dict() if run.critic is not None else None,
                     critic_opt=run.critic_opt.state_dict() if run.critic_opt is not None else None,
                     curriculum=run.curriculum.state_dict() if run.curriculum is not None else None)


def restore(run: Run, state: dict[str, Any]) -> tuple[int, float, Evaluation | None]:
    """Load a checkpoint into a freshly set-up run; returns (step, wall_s, the evaluation before training)."""
    if run.dist is not None:
        return run.dist.restore_run(run, state)
    if state.get("world_size", 1) != 1:
        raise ValueError(f"--resume: the checkpoint was written by {state['world_size']} processes; resume with "
                         f"as many (--nproc {state['world_size']})")
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
    """Checkpoint, final policy, plots, summary.json and samples.json; closes the envs."""
    save_checkpoint(run, step, wall, before)
    if run.dist is not None:
        run.dist.save_policy(run, out / "final")
    else:
        save_policy(run.policy, run.tokenizer, out / "final")
    log.close()
    summary: dict[str, Any] = {}
    if run.main:
        plot_rewards(log.rows, out / "reward.png", title=f"{run.cfg.algo} on {run.cfg.env} ({run.cfg.model})")
        if run.cfg.curriculum != "none":
            plot_curriculum(log.rows, out / "curriculum.png",
                            title=f"curriculum={run.cfg.curriculum} on {run.cfg.env}")
        summary = write_summary(out, run.cfg, log.rows, step, wall, before, after)
    if run.dist is not None:
        summary = run.dist.broadcast(summary)
    run.envs.close()
    if run.curriculum is not None:
        run.curriculum.close()
    if run.held_out is not None:
        run.held_out.close()
    return summary

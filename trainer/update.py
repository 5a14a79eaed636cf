"""One epoch of updates over a scored batch, in shuffled mini-batches (one optimiser step each),
each split into micro-batches for memory. Weights keep the loss exactly the mini-batch's
token-mean (or sequence-mean) however it is split."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

import torch

from . import losses as L
from .rollout import Rollout, response_logprobs

if TYPE_CHECKING:
    from .loop import Run


def update(run: Run, batch: Rollout, adv: torch.Tensor, returns: torch.Tensor | None) -> dict[str, float]:
    """Clipped-surrogate policy update and critic update; returns mean health metrics.

    ``adv``: (B,) sequence advantages or (B, T) token advantages (PPO); ``returns``: (B, T) or None.
    """
    cfg = run.cfg
    B = len(batch)
    perm = torch.randperm(B)  # global torch RNG: saved in checkpoints, so resume is exact
    sums: dict[str, float] = defaultdict(float)
    n_mb = 0
    for mb_idx in perm.split(cfg.minibatch_size):
        run.opt.zero_grad(set_to_none=True)
        if run.critic_opt is not None:
            run.critic_opt.zero_grad(set_to_none=True)
        mb_tokens = batch.response_mask[mb_idx].sum().clamp(min=1)
        for micro in mb_idx.split(cfg.micro_batch_size):
            mb = batch.select(micro)
            w_seq = len(micro) / len(mb_idx)
            w = (mb.response_mask.sum() / mb_tokens).item() if cfg.ratio == "token" else w_seq
            stats = _micro_step(run, mb, adv[micro], None if returns is None else returns[micro], w, w_seq)
            for k, v in stats.items():
                sums[k] += v * w
        sums["grad_norm"] += _step(run)
        n_mb += 1
    return {k: v / n_mb for k, v in sums.items()}


def _micro_step(run: Run, mb: Rollout, adv: torch.Tensor, returns: torch.Tensor | None, w: float,
                w_seq: float) -> dict:
    """Forward, losses, backward for one micro-batch; losses are scaled by its share of the
    mini-batch: ``w`` of the policy loss's normaliser (tokens or sequences), ``w_seq`` of sequences."""
    cfg = run.cfg
    mask = mb.response_mask  # (b, T)
    with run.amp():
        logprobs, entropy, _ = response_logprobs(
            run.policy, mb.input_ids, mb.attention_mask, mb.prompt_len,
            temperature=cfg.temperature, with_entropy=True,
        )  # (b, T), (b, T)
    pg_loss = L.policy_loss(logprobs, mb.old_logprobs, adv, mask, clip_eps=cfg.clip_eps, ratio=cfg.ratio,
                            dual_clip=cfg.dual_clip)
    ent = L.masked_mean(entropy, mask)
    loss = pg_loss - cfg.entropy_coef * ent if cfg.entropy_coef else pg_loss  # no backward through H unless used
    kl = None
    if run.ref is not None:
        with torch.no_grad(), run.amp():
            ref_lp, _, _ = response_logprobs(run.ref, mb.input_ids, mb.attention_mask, mb.prompt_len,
                                             temperature=cfg.temperature)  # (b, T)
        kl = L.kl_penalty(logprobs, ref_lp, mask)
        loss = loss + cfg.kl_coef * kl
    (loss * w).backward()
    out = {"policy_loss": pg_loss.item(), "entropy": ent.item(), **_ratio_stats(logprobs, mb.old_logprobs, mask, cfg)}
    if kl is not None:
        out["kl_ref"] = kl.item()
    if run.critic is not None:
        with run.amp():
            values = run.critic(mb, token_level=run.algo.critic == "token")  # (b,) | (b, T)
        v_loss = run.algo.critic_loss(values.float(), returns, mb.rewards, mask)
        (v_loss * (w if run.algo.critic == "token" else w_seq)).backward()
        out["value_loss"] = v_loss.item()
    return out


@torch.no_grad()
def _ratio_stats(logprobs: torch.Tensor, old: torch.Tensor, mask: torch.Tensor, cfg: Any) -> dict[str, float]:
    """CleanRL's health metrics: approx KL(pi_old || pi) (k3) and the fraction of clipped tokens."""
    log_r = (logprobs - old) * mask  # (b, T)
    ratio = torch.exp(log_r)  # (b, T)
    return {
        "approx_kl": L.masked_mean((ratio - 1) - log_r, mask).item(),
        "clipfrac": L.masked_mean(((ratio - 1).abs() > cfg.clip_eps).float(), mask).item(),
    }


def _step(run: Run) -> float:
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

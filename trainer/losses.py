"""Loss functions of the trainer (public: names and signatures are fixed by docs/CONTRACT.md,
"Loss functions").

Shapes: B = sequences in the (mini-)batch, T = response tokens (right-padded, ``mask`` marks
valid tokens). Every function is pure: tensors in, tensor out, no module state.

SPPO (arXiv 2604.08865) treats a whole response as one bandit action: a prompt-only critic
predicts the solve probability V(x) = sigmoid(logit), the advantage is A = R - V(x), and the
policy is trained with PPO's clipped surrogate per token with A broadcast over the response.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

RATIOS = ("token", "sequence", "sequence_mean")

#: log-ratios are clamped here before ``exp`` so a long response cannot overflow to inf.
_MAX_LOG_RATIO = 20.0


def masked_mean(x: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Mean of ``x`` over positions where ``mask`` is 1 (all of them, or along ``dim``)."""
    mask = mask.to(x.dtype)
    if dim is None:
        return (x * mask).sum() / mask.sum().clamp(min=1.0)
    return (x * mask).sum(dim) / mask.sum(dim).clamp(min=1.0)


def _clipped_surrogate(
    ratio: torch.Tensor, adv: torch.Tensor, clip_eps: float, dual_clip: float | None
) -> torch.Tensor:
    """PPO's pessimistic objective as a loss: -min(r*A, clip(r)*A), optionally dual-clipped.

    Dual clip (Ye et al. 2020, kept by verl and SPPO's released code) bounds the loss of a
    negative-advantage sample at -c*A when the ratio has run far above 1 + eps.
    """
    unclipped = -ratio * adv
    clipped = -torch.clamp(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * adv
    loss = torch.maximum(unclipped, clipped)
    if dual_clip is not None:
        loss = torch.where(adv < 0, torch.minimum(loss, -dual_clip * adv), loss)
    return loss


def policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    clip_eps: float = 0.2,
    ratio: str = "token",
    dual_clip: float | None = None,
) -> torch.Tensor:
    """Clipped surrogate loss (to minimise).

    ``logprobs``/``old_logprobs``/``mask``: (B, T). ``advantages``: (B,) sequence advantages
    broadcast to every token; (B, T) token advantages (PPO with GAE) are accepted for
    ``ratio="token"``. ``ratio``: ``"token"`` (SPPO paper: one ratio per token, token-mean over
    every valid token of the batch), ``"sequence"`` (one ratio per response, exp of the summed
    log-ratio, clipped once), ``"sequence_mean"`` (GSPO: exp of the mean log-ratio); the two
    sequence variants average over sequences.
    """
    if ratio not in RATIOS:
        raise ValueError(f"ratio must be one of {RATIOS}, got {ratio!r}")
    if logprobs.shape != old_logprobs.shape or logprobs.shape != mask.shape:
        raise ValueError(
            f"logprobs {tuple(logprobs.shape)}, old_logprobs {tuple(old_logprobs.shape)} and "
            f"mask {tuple(mask.shape)} must all have shape (batch, tokens)"
        )
    mask = mask.to(logprobs.dtype)  # (B, T)
    log_ratio = (logprobs - old_logprobs) * mask  # (B, T), 0 on padding
    if ratio == "token":
        adv = advantages if advantages.dim() == 2 else advantages.unsqueeze(-1)  # (B, T) | (B, 1)
        r = torch.exp(log_ratio.clamp(-_MAX_LOG_RATIO, _MAX_LOG_RATIO))  # (B, T)
        per_token = _clipped_surrogate(r, adv, clip_eps, dual_clip)  # (B, T)
        return masked_mean(per_token, mask)  # token-mean over the whole batch
    if advantages.dim() != 1:
        raise ValueError(f"ratio={ratio!r} needs sequence advantages of shape (batch,)")
    seq_log_ratio = log_ratio.sum(-1)  # (B,)
    if ratio == "sequence_mean":
        seq_log_ratio = seq_log_ratio / mask.sum(-1).clamp(min=1.0)  # (B,)
    r = torch.exp(seq_log_ratio.clamp(-_MAX_LOG_RATIO, _MAX_LOG_RATIO))  # (B,)
    return _clipped_surrogate(r, advantages, clip_eps, dual_clip).mean()


def sppo_advantages(rewards: torch.Tensor, value_logits: torch.Tensor) -> torch.Tensor:
    """SPPO advantage A = R - sigmoid(logit), shape (B,); no std normalisation, no gradient."""
    return (rewards - torch.sigmoid(value_logits)).detach()


def value_loss_bce(value_logits: torch.Tensor, rewards: torch.Tensor) -> torch.Tensor:
    """SPPO critic loss: binary cross-entropy of sigmoid(logit) against R in [0, 1], batch mean."""
    return F.binary_cross_entropy_with_logits(value_logits, rewards.to(value_logits.dtype))


def grpo_advantages(rewards: torch.Tensor, group_size: int, eps: float = 1e-6) -> torch.Tensor:
    """GRPO: (R - group mean) / (group std + eps). ``rewards`` (B,) holds consecutive groups."""
    g = _groups(rewards, group_size)  # (B/N, N)
    adv = (g - g.mean(-1, keepdim=True)) / (g.std(-1, keepdim=True) + eps)  # (B/N, N)
    return adv.reshape(-1)  # (B,)


def rloo_advantages(rewards: torch.Tensor, group_size: int) -> torch.Tensor:
    """RLOO: R minus the mean of the other N-1 rewards of its group. (B,) -> (B,)."""
    if group_size < 2:
        raise ValueError("RLOO needs group_size >= 2 (a leave-one-out baseline needs others)")
    g = _groups(rewards, group_size)  # (B/N, N)
    others = (g.sum(-1, keepdim=True) - g) / (group_size - 1)  # (B/N, N)
    return (g - others).reshape(-1)  # (B,)


def gae_advantages(
    rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0, lam: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Token-level GAE for PPO with the outcome reward on the last valid token.

    ``rewards`` (B,), ``values`` (B, T) = V(s_t) before token t, ``mask`` (B, T).
    Returns (advantages, returns), both (B, T) and zero on padding.
    """
    mask = mask.to(values.dtype)
    values = values.detach() * mask  # (B, T)
    last = (mask.cumsum(-1) == mask.sum(-1, keepdim=True)) & (mask > 0)  # (B, T) last valid token
    token_rewards = last.to(values.dtype) * rewards.unsqueeze(-1)  # (B, T)
    adv = torch.zeros_like(values)  # (B, T)
    running = torch.zeros_like(rewards, dtype=values.dtype)  # (B,)
    for t in reversed(range(values.shape[1])):
        next_v = values[:, t + 1] if t + 1 < values.shape[1] else torch.zeros_like(running)  # (B,)
        delta = token_rewards[:, t] + gamma * next_v - values[:, t]  # (B,)
        running = (delta + gamma * lam * running) * mask[:, t]  # (B,)
        adv[:, t] = running
    return adv, (adv + values) * mask


def value_loss_mse(values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """PPO token-level critic loss: 0.5 * (V - return)^2, token-mean over valid tokens."""
    return masked_mean(0.5 * (values - returns.detach()) ** 2, mask)


def kl_penalty(logprobs: torch.Tensor, ref_logprobs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """KL(pi || ref) per token with the unbiased, non-negative k3 estimator; token-mean."""
    log_r = (ref_logprobs - logprobs).clamp(-_MAX_LOG_RATIO, _MAX_LOG_RATIO)  # (B, T)
    return masked_mean(torch.exp(log_r) - log_r - 1.0, mask)


def _groups(rewards: torch.Tensor, group_size: int) -> torch.Tensor:
    """View (B,) rewards as (B/N, N) groups of consecutive samples of the same prompt."""
    if group_size < 1 or rewards.numel() % group_size:
        raise ValueError(f"batch of {rewards.numel()} rewards is not a multiple of group_size={group_size}")
    return rewards.reshape(-1, group_size).to(torch.float32)

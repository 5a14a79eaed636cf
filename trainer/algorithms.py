"""Each algorithm is a small spec: how many samples per prompt, whether a critic is used and
at which granularity, how advantages come from rewards, and the critic's loss. The training
loop is shared; only these functions differ.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from . import losses as L


@dataclass(frozen=True)
class Algorithm:
    """What differs between SPPO and its baselines."""

    name: str
    critic: str | None  # None | "sequence" (prompt-only logit) | "token" (value per response token)
    # (rewards (B,), values (B,) | (B, T) | None, response_mask (B, T), group_size) -> (adv, returns)
    advantages: Callable[..., tuple[torch.Tensor, torch.Tensor | None]]
    # (values with grad, returns, rewards, response_mask) -> scalar critic loss
    critic_loss: Callable[..., torch.Tensor] | None = None


def _sppo(rewards, values, mask, group_size):
    return L.sppo_advantages(rewards, values), None  # (B,)


def _grpo(rewards, values, mask, group_size):
    return L.grpo_advantages(rewards, group_size), None  # (B,)


def _rloo(rewards, values, mask, group_size):
    return L.rloo_advantages(rewards, group_size), None  # (B,)


def _ppo(rewards, values, mask, group_size):
    return L.gae_advantages(rewards, values, mask, gamma=1.0, lam=1.0)  # (B, T), (B, T)


def _bce(values, returns, rewards, mask):
    return L.value_loss_bce(values, rewards)


def _mse(values, returns, rewards, mask):
    return L.value_loss_mse(values, returns, mask)


ALGORITHMS: dict[str, Algorithm] = {
    "sppo": Algorithm("sppo", "sequence", _sppo, _bce),
    "grpo": Algorithm("grpo", None, _grpo),
    "rloo": Algorithm("rloo", None, _rloo),
    "ppo": Algorithm("ppo", "token", _ppo, _mse),
}


def get_algorithm(name: str) -> Algorithm:
    """The spec for ``name``, with a clear error for a typo."""
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise ValueError(f"algo must be one of {sorted(ALGORITHMS)}, got {name!r}") from None

"""Critics. SPPO's critic reads the PROMPT ONLY and outputs one logit; sigmoid(logit) is the
predicted probability that the policy solves the prompt. PPO's critic outputs a value per
response token instead. Three ways to build either:

* ``head`` — a linear head on the policy's frozen last hidden state (taken from the behaviour
  forward pass that the rollout runs anyway): no extra forward pass, the cheapest.
* ``copy`` — a separate copy of the policy's transformer with a scalar head, trained fully.
* a model directory / preset — a (smaller) separate transformer with its own tokenizer.

A critic knows its granularity (``token_level``), so the training step calls ``critic(batch)``
and reads ``critic.predicted_reward(values)`` without asking which algorithm it serves.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import nn

from .models import load_policy
from .rollout import Rollout, encode_prompts, position_ids


def _scalar_head(hidden: int, bias: float = 0.0) -> nn.Linear:
    """Zero weights and a chosen bias: the critic starts with the same prediction for every prompt."""
    head = nn.Linear(hidden, 1)
    nn.init.zeros_(head.weight)
    nn.init.constant_(head.bias, bias)
    return head


class Critic(nn.Module):
    """What both critics share: their granularity, and how an output reads as a predicted reward.

    ``token_level`` False (SPPO): ``forward`` gives one logit per prompt, (B,), V(x) = sigmoid(logit).
    True (PPO): a value before each response token, (B, T). It is a plain attribute, not part of
    ``state_dict``: checkpoints hold weights only.
    """

    token_level: bool = False

    def predicted_reward(self, values: torch.Tensor) -> torch.Tensor:
        """(B,) the reward the critic expects: sigmoid(V(x)) (SPPO), or the value before the first
        response token (PPO)."""
        return values[:, 0] if self.token_level else torch.sigmoid(values)


class HeadCritic(Critic):
    """Scalar head on the policy's detached features: V(x) from the last prompt token."""

    def __init__(self, hidden: int, bias: float = 0.0, token_level: bool = False):
        super().__init__()
        self.head = _scalar_head(hidden, bias)
        self.token_level = token_level

    def forward(self, batch: Rollout, token_level: bool | None = None) -> torch.Tensor:
        """(B,) logits from the last prompt token, or (B, T) values before each response token
        (``token_level`` defaults to the critic's own)."""
        token_level = self.token_level if token_level is None else token_level
        x = batch.states if token_level else batch.states[:, 0]  # (B, T, H) | (B, H)
        return self.head(x.to(self.head.weight.dtype)).squeeze(-1)


class ModelCritic(Critic):
    """A transformer backbone with a scalar head; ``tokenizer`` set when it differs from the policy's."""

    def __init__(self, backbone: nn.Module, hidden: int, tokenizer: Any = None, max_prompt_tokens: int = 512,
                 bias: float = 0.0, token_level: bool = False):
        super().__init__()
        self.backbone = backbone
        self.head = _scalar_head(hidden, bias)
        self.tokenizer = tokenizer
        self.max_prompt_tokens = max_prompt_tokens
        self.token_level = token_level

    def _last_hidden(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        out = self.backbone(input_ids=ids, attention_mask=mask, position_ids=position_ids(mask), use_cache=False)
        return out.last_hidden_state  # (B, L, H)

    def forward(self, batch: Rollout, token_level: bool | None = None) -> torch.Tensor:
        """(B,) prompt-only logits, or (B, T) per-token values (PPO; policy tokenizer only)."""
        token_level = self.token_level if token_level is None else token_level
        P = batch.prompt_len
        if token_level:
            if self.tokenizer is not None:
                raise ValueError("a token-level (PPO) critic must share the policy's tokenizer: use critic=head or copy")
            h = self._last_hidden(batch.input_ids, batch.attention_mask)[:, P - 1 : -1]  # (B, T, H)
        elif self.tokenizer is None:
            h = self._last_hidden(batch.input_ids[:, :P], batch.attention_mask[:, :P])[:, -1]  # (B, H)
        else:
            device = self.head.weight.device
            enc = encode_prompts(self.tokenizer, batch.prompts, self.max_prompt_tokens, device)  # (B, P')
            h = self._last_hidden(enc["input_ids"], enc["attention_mask"])[:, -1]  # (B, H)
        return self.head(h.float()).squeeze(-1)


def build_critic(kind: str, policy: Any, device: torch.device, max_prompt_tokens: int = 512,
                 init: float | None = None, token_level: bool = False) -> Critic:
    """``head`` | ``copy`` | a model directory or preset name (see the module docstring).

    ``init``: the prediction before any update (the head starts constant): a probability for SPPO,
    stored as its logit, a value for PPO; None starts the head at 0.
    """
    bias = 0.0 if init is None else init if token_level else math.log(init / (1 - init))
    hidden = policy.config.hidden_size
    if kind == "head":
        return HeadCritic(hidden, bias, token_level).to(device)
    if kind == "copy":
        backbone = copy.deepcopy(policy.get_base_model() if hasattr(policy, "get_base_model") else policy)
        return ModelCritic(backbone.base_model, hidden, bias=bias, token_level=token_level).to(device)
    try:
        model, tok = load_policy(kind, device)
    except ValueError as e:
        raise ValueError(f"critic={kind!r}: use 'head', 'copy', a preset or a model directory ({e})") from e
    return ModelCritic(model.base_model, model.config.hidden_size, tok, max_prompt_tokens, bias, token_level).to(device)

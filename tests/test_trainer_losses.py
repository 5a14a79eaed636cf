"""Losses of sppo_gym.trainer.losses against values worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch
from sppo_gym.trainer import losses as L


def _t(x):
    return torch.tensor(x, dtype=torch.float64)


def test_sppo_advantages_and_bce_by_hand():
    rewards = _t([1.0, 0.0, 1.0])
    logits = _t([0.0, math.log(3.0), -math.log(3.0)])  # sigmoid: 0.5, 0.75, 0.25
    adv = L.sppo_advantages(rewards, logits)
    assert torch.allclose(adv, _t([0.5, -0.75, 0.75]))
    # BCE: -[log .5 + log(1-.75) + log .25] / 3
    expected = -(math.log(0.5) + math.log(0.25) + math.log(0.25)) / 3
    assert L.value_loss_bce(logits, rewards).item() == pytest.approx(expected)


def test_token_ratio_is_token_mean_with_clipping_by_hand():
    # seq 0: 2 valid tokens, ratios e^0.1 (inside clip) and e^0.5 (clipped at 1.2), A = +1
    # seq 1: 1 valid token + 1 padding, ratio e^-0.5 (below 0.8), A = -2 -> min picks clip 0.8
    old = _t([[0.0, 0.0], [0.0, 0.0]])
    new = _t([[0.1, 0.5], [-0.5, 7.0]])  # 7.0 sits on padding and must not count
    mask = _t([[1, 1], [1, 0]])
    adv = _t([1.0, -2.0])
    loss = L.policy_loss(new, old, adv, mask, clip_eps=0.2, ratio="token")
    # per-token losses: -e^0.1*1, -1.2*1, -(max(... )): -min(e^-0.5*-2, 0.8*-2) = 1.6
    expected = (-math.exp(0.1) - 1.2 + 1.6) / 3
    assert loss.item() == pytest.approx(expected)


def test_dual_clip_bounds_negative_advantage_by_hand():
    old, new, mask = _t([[0.0]]), _t([[math.log(5.0)]]), _t([[1.0]])
    adv = _t([-1.0])
    # plain PPO: -min(5*-1, 1.2*-1) = 5; dual clip c=3 caps it at 3
    assert L.policy_loss(new, old, adv, mask).item() == pytest.approx(5.0)
    assert L.policy_loss(new, old, adv, mask, dual_clip=3.0).item() == pytest.approx(3.0)


def test_sequence_ratios_by_hand():
    old = _t([[0.0, 0.0, 0.0]])
    new = _t([[0.05, 0.05, 9.0]])
    mask = _t([[1, 1, 0]])
    adv = _t([1.0])
    # sequence: ratio e^0.1 = 1.105 (inside 1.2) -> loss -1.105
    assert L.policy_loss(new, old, adv, mask, ratio="sequence").item() == pytest.approx(-math.exp(0.1))
    # sequence_mean: ratio e^0.05
    got = L.policy_loss(new, old, adv, mask, ratio="sequence_mean").item()
    assert got == pytest.approx(-math.exp(0.05))
    # a large summed log-ratio clips once, at 1 + eps
    new_big = _t([[0.3, 0.3, 0.0]])
    assert L.policy_loss(new_big, old, adv, mask, ratio="sequence").item() == pytest.approx(-1.2)
    # sequence variants average over sequences, not tokens
    two_old, two_mask = _t([[0.0, 0.0], [0.0, 0.0]]), _t([[1, 1], [1, 0]])
    got = L.policy_loss(two_old, two_old, _t([1.0, 3.0]), two_mask, ratio="sequence").item()
    assert got == pytest.approx(-2.0)


def test_sequence_ratio_survives_long_responses():
    old = torch.zeros(1, 5000, dtype=torch.float64)
    new = torch.full((1, 5000), 0.5, dtype=torch.float64, requires_grad=True)
    loss = L.policy_loss(new, old, _t([-1.0]), torch.ones(1, 5000), ratio="sequence")
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(new.grad).all()


def test_padding_gets_no_gradient():
    logprobs = torch.randn(3, 6, requires_grad=True)
    old = logprobs.detach() + 0.1 * torch.randn(3, 6)
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 0, 0, 0, 0], [1, 1, 1, 0, 0, 0]], dtype=torch.float32)
    for ratio in L.RATIOS:
        logprobs.grad = None
        L.policy_loss(logprobs, old, torch.tensor([1.0, -1.0, 0.5]), mask, ratio=ratio).backward()
        assert (logprobs.grad[mask == 0] == 0).all(), ratio
        assert (logprobs.grad[mask == 1] != 0).any(), ratio


def test_grpo_and_rloo_by_hand():
    rewards = _t([1.0, 0.0, 0.0, 1.0, 1.0, 1.0])  # groups of 3: [1,0,0], [1,1,1]
    grpo = L.grpo_advantages(rewards, 3)
    std = math.sqrt(((2 / 3) ** 2 + 2 * (1 / 3) ** 2) / 2)  # unbiased std of [1, 0, 0]
    assert grpo[:3].tolist() == pytest.approx([(2 / 3) / std, -(1 / 3) / std, -(1 / 3) / std], rel=1e-5)
    assert grpo[3:].tolist() == pytest.approx([0.0, 0.0, 0.0])
    rloo = L.rloo_advantages(rewards, 3)
    assert rloo.tolist() == pytest.approx([1.0, -0.5, -0.5, 0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="group_size"):
        L.grpo_advantages(rewards, 4)


def test_gae_with_unit_gamma_lambda_is_reward_minus_value():
    rewards = _t([1.0, 0.0])
    values = _t([[0.2, 0.4, 0.9], [0.5, 0.1, 0.3]])
    mask = _t([[1, 1, 1], [1, 1, 0]])
    adv, ret = L.gae_advantages(rewards, values, mask)
    assert torch.allclose(adv, _t([[0.8, 0.6, 0.1], [-0.5, -0.1, 0.0]]))
    assert torch.allclose(ret, _t([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]))
    assert L.value_loss_mse(values, ret, mask).item() == pytest.approx(
        0.5 * (0.64 + 0.36 + 0.01 + 0.25 + 0.01) / 5
    )


def test_kl_penalty_zero_at_reference_and_positive_elsewhere():
    lp = _t([[-1.0, -2.0]])
    mask = _t([[1, 1]])
    assert L.kl_penalty(lp, lp, mask).item() == pytest.approx(0.0)
    # k3 for log(ref/pi) = 0.5: e^0.5 - 0.5 - 1
    assert L.kl_penalty(lp, lp + 0.5, mask).item() == pytest.approx(math.exp(0.5) - 1.5)


def test_bad_ratio_name_is_a_clear_error():
    x = torch.zeros(1, 2)
    with pytest.raises(ValueError, match="ratio must be one of"):
        L.policy_loss(x, x, torch.zeros(1), x, ratio="tokens")

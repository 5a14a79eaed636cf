"""The rollout's fast path equals the reference path on the same samples: pi_old's log-probs and
features read off ``generate`` (``logprobs_from="generate"``) against a second forward pass
(``"forward"``), with repeated prompts prefilled once (``share_prompts``) against once per row;
and the update's log-probs, entropies and gradients with a group's prompt run once against once
per row.

The comparisons run at a temperature below 1 with top-p on, where log-probs taken after the
sampler's logits processors (or before the temperature) would differ by far more than the
tolerance, with left padding, early EOS, LoRA, groups of repeated prompts (GRPO), and on the real
SmolLM2-135M.
"""

from __future__ import annotations

import gymnasium as gym
import pytest
import sppo_gym.envs  # noqa: F401  (registers the sppo_gym ids)
import torch
from sppo_gym.trainer.config import load_config
from sppo_gym.trainer.loop import setup, train_step
from sppo_gym.trainer.models import apply_lora, load_policy
from sppo_gym.trainer.rollout import (
    Rollout,
    collect,
    encode_prompts,
    position_ids,
    prompt_prefix,
    response_logprobs,
)
from transformers import LogitsProcessorList, TemperatureLogitsWarper, TopPLogitsWarper

PROMPTS = ["What is 12 + 30?", "hi", "Write the number seven.", "a much longer prompt than the others, about sums"]
GROUPS = [p for p in PROMPTS for _ in range(3)]  # GRPO's layout: each prompt sampled 3 times in a row


def _both(model, tok, prompts: list[str], **kw) -> tuple[Rollout, Rollout]:
    """The same samples (same seed) by the fast path and by the reference path."""
    out = []
    for fast in (True, False):
        torch.manual_seed(0)
        out.append(collect(model, tok, prompts, max_prompt_tokens=256, micro_batch_size=3,
                           logprobs_from="generate" if fast else "forward", share_prompts=fast, **kw))
    return out[0], out[1]


def _assert_same(fast: Rollout, ref: Rollout, atol: float) -> None:
    assert torch.equal(fast.input_ids, ref.input_ids) and torch.equal(fast.response_mask, ref.response_mask)
    assert fast.old_logprobs.shape == ref.old_logprobs.shape == fast.response_mask.shape
    assert fast.states.shape == ref.states.shape
    assert torch.allclose(fast.old_logprobs, ref.old_logprobs, atol=atol, rtol=0)  # every slot, after EOS too
    assert torch.allclose(fast.states, ref.states, atol=atol, rtol=atol)


@pytest.mark.parametrize("prompts", [PROMPTS, GROUPS], ids=["distinct", "groups"])
@pytest.mark.parametrize("lora", [False, True], ids=["full", "lora"])
@pytest.mark.parametrize(("temperature", "top_p"), [(1.0, 1.0), (0.7, 0.9)])
def test_tiny_random_fast_rollout_matches_the_reference(prompts, lora, temperature, top_p):
    model, tok = load_policy("tiny-random")
    if lora:
        model = apply_lora(model, 4, 8)
    enc = encode_prompts(tok, prompts, 256, torch.device("cpu"))
    with torch.no_grad():  # the shared prefill runs exactly when prompts repeat
        assert bool(prompt_prefix(model, enc["input_ids"], enc["attention_mask"])) == (prompts is GROUPS)
    fast, ref = _both(model, tok, prompts, max_new_tokens=7, temperature=temperature, top_p=top_p)
    assert (fast.attention_mask[:, : fast.prompt_len] == 0).any()  # left padding in the batch
    _assert_same(fast, ref, atol=1e-4)
    # the tolerance tells the distributions apart: the untempered and the top-p-processed ones differ
    if top_p < 1:
        assert (_logprobs(model, ref, 1.0, 1.0) - fast.old_logprobs).abs().max() > 1e-2
        assert (_logprobs(model, ref, temperature, top_p) - fast.old_logprobs).abs().max() > 1e-2


@torch.no_grad()
def _logprobs(model, batch: Rollout, temperature: float, top_p: float) -> torch.Tensor:
    """(B, T) log-probs of the sampled tokens under temperature, then top-p (HF's own warpers)."""
    T = batch.input_ids.shape[1] - batch.prompt_len
    logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                   position_ids=position_ids(batch.attention_mask)).logits[:, -T - 1 : -1].float()  # (B, T, V)
    warp = LogitsProcessorList([TemperatureLogitsWarper(temperature), TopPLogitsWarper(top_p)])
    flat = warp(batch.input_ids, logits.flatten(0, 1))  # (B*T, V)
    logp = torch.log_softmax(flat, -1).view_as(logits)  # (B, T, V)
    return logp.gather(-1, batch.input_ids[:, batch.prompt_len :, None]).squeeze(-1)

def test_fast_rollout_when_every_response_ends_early():
    model, tok = load_policy("tiny-random")
    eos = tok.eos_token_id
    model.lm_head.bias = torch.nn.Parameter(torch.zeros(model.config.vocab_size))
    with torch.no_grad():
        model.lm_head.bias[eos] = 8.0  # EOS very likely at each step: generation stops before max_new_tokens
    fast, ref = _both(model, tok, GROUPS, max_new_tokens=12, temperature=1.0, top_p=1.0)
    assert fast.input_ids.shape[1] - fast.prompt_len < 12
    _assert_same(fast, ref, atol=1e-4)


def test_smollm2_fast_rollout_matches_the_reference():
    model, tok = load_policy("smollm2-135m")
    envs = gym.make_vec("sppo_gym/Arithmetic-v0", num_envs=3)
    prompts, _ = envs.reset(seed=3)
    envs.close()
    prompts = [prompts[0], prompts[1], *[prompts[2]] * 3]  # two prompts alone, one sampled 3 times
    fast, ref = _both(model, tok, prompts, max_new_tokens=8, temperature=0.7, top_p=0.9)
    _assert_same(fast, ref, atol=1e-4)


@pytest.mark.parametrize("algo", ["sppo", "ppo", "grpo"])
def test_first_minibatch_ratio_is_one(tmp_path, algo):
    """One mini-batch per step: the update's ratio pi_theta / pi_old is taken before any optimiser step,
    so it must be 1 on every token (approx KL 0, nothing clipped) when pi_old's log-probs are right."""
    cfg = load_config(None, {"model": "tiny-random", "algo": algo, "group_size": 4 if algo == "grpo" else 0,
                             "batch_size": 8, "minibatch_size": 8, "micro_batch_size": 4, "max_new_tokens": 6,
                             "temperature": 0.7, "top_p": 0.9, "eval_n": 0, "progress": False,
                             "out": str(tmp_path)})
    run = setup(cfg)
    try:
        row = train_step(run, 1)
    finally:
        run.envs.close()
    assert row["samples"] == 8
    assert abs(row["approx_kl"]) < 1e-8 and row["clipfrac"] == 0.0


@pytest.mark.parametrize("lora", [False, True], ids=["full", "lora"])
def test_update_with_a_shared_prompt_prefix_matches_the_full_forward(lora):
    """The update's forward (train mode, gradients on) with each group's prompt run once: same
    log-probs, entropies, states and parameter gradients as one full forward per row."""
    model, tok = load_policy("tiny-random")
    if lora:
        model = apply_lora(model, 4, 8)
    torch.manual_seed(0)
    batch = collect(model, tok, GROUPS, max_prompt_tokens=256, max_new_tokens=6, temperature=1.0, top_p=1.0,
                    micro_batch_size=4)
    batch = batch.select(torch.randperm(len(batch))[:8])  # a micro-batch: some prompts twice, some once
    model.train()
    out = {}
    for share in (False, True):
        model.zero_grad(set_to_none=True)
        lp, ent, st = response_logprobs(model, batch.input_ids, batch.attention_mask, batch.prompt_len,
                                        temperature=0.7, with_entropy=True, with_states=True, share_prompts=share)
        ((lp + 0.1 * ent) * batch.response_mask).sum().backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        out[share] = (lp.detach(), ent.detach(), st, grads)
    (lp0, ent0, st0, g0), (lp1, ent1, st1, g1) = out[False], out[True]
    assert torch.allclose(lp0, lp1, atol=1e-5) and torch.allclose(ent0, ent1, atol=1e-5)
    assert torch.allclose(st0, st1, atol=1e-5)
    assert g0.keys() == g1.keys() and len(g0) > 0
    for n in g0:
        assert torch.allclose(g0[n], g1[n], atol=1e-5, rtol=1e-4), n


def test_no_prompt_prefix_under_gradient_checkpointing():
    """Gradient checkpointing turns the KV cache off in training: the update then runs whole rows."""
    model, tok = load_policy("tiny-random")
    enc = encode_prompts(tok, GROUPS, 256, torch.device("cpu"))
    model.gradient_checkpointing_enable({"use_reentrant": False})
    model.train()
    assert prompt_prefix(model, enc["input_ids"], enc["attention_mask"]) == {}
    model.eval()
    with torch.no_grad():
        assert prompt_prefix(model, enc["input_ids"], enc["attention_mask"])

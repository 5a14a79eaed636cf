"""Rollouts and critics with the real tiny-random transformers model."""

from __future__ import annotations

import pytest
import torch
from sppo_gym.trainer.critic import HeadCritic, build_critic
from sppo_gym.trainer.models import load_policy
from sppo_gym.trainer.rollout import collect, encode_prompts, response_logprobs


@pytest.fixture(scope="module")
def tiny():
    return load_policy("tiny-random")


def test_tiny_random_is_deterministic_and_chat_formatted(tiny):
    model, tok = tiny
    other, _ = load_policy("tiny-random")
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), other.state_dict().values(), strict=True))
    text = tok.apply_chat_template([{"role": "user", "content": "2+2?"}], add_generation_prompt=True, tokenize=False)
    assert "2+2?" in text
    assert tok.decode(tok("Answer: 42\n")["input_ids"]) == "Answer: 42\n"
    assert tok.padding_side == "left"


def test_recomputed_logprobs_match_the_sampler_under_left_padding(tiny):
    model, tok = tiny
    enc = encode_prompts(tok, ["What is 12 + 30?", "hi"], 256, torch.device("cpu"))
    assert (enc["attention_mask"][1] == 0).any()  # the short prompt is left-padded
    torch.manual_seed(0)
    out = model.generate(**enc, max_new_tokens=6, do_sample=True, top_k=0, output_logits=True,
                         return_dict_in_generate=True, pad_token_id=tok.pad_token_id)
    P = enc["input_ids"].shape[1]
    sampler = torch.log_softmax(torch.stack(out.logits, 1).float(), -1)  # (B, T, V)
    sampler_lp = sampler.gather(-1, out.sequences[:, P:, None]).squeeze(-1)  # (B, T)
    mask = torch.cat([enc["attention_mask"], torch.ones_like(out.sequences[:, P:])], 1)
    with torch.no_grad():
        lp, _, _ = response_logprobs(model, out.sequences, mask, P)
    assert torch.allclose(lp, sampler_lp, atol=1e-4)


def test_left_padding_does_not_change_a_sequence(tiny):
    model, tok = tiny
    batch = collect(model, tok, ["a much longer prompt than the other one", "hi"], max_prompt_tokens=256,
                    max_new_tokens=5, temperature=1.0, top_p=1.0, micro_batch_size=2)
    alone = collect(model, tok, ["hi"], max_prompt_tokens=256, max_new_tokens=5, temperature=1.0, top_p=1.0,
                    micro_batch_size=1)
    P, P1 = batch.prompt_len, alone.prompt_len
    ids = torch.cat([alone.input_ids[:, :P1], batch.input_ids[1:, P:]], 1)  # "hi" + the batch's response
    with torch.no_grad():
        lp_alone, _, _ = response_logprobs(model, ids, torch.ones_like(ids), P1)
    assert torch.allclose(lp_alone, batch.old_logprobs[1:], atol=1e-4)
    # whatever sits in the padded slots is invisible: replace the pad ids and nothing moves
    ids = batch.input_ids.clone()
    ids[batch.attention_mask == 0] = tok.convert_tokens_to_ids("7")
    with torch.no_grad():
        lp_other, _, _ = response_logprobs(model, ids, batch.attention_mask, P)
    assert torch.allclose(lp_other, batch.old_logprobs, atol=1e-5)


def test_critics_read_only_the_prompt(tiny):
    model, tok = tiny
    batch = collect(model, tok, ["What is 1 + 1?", "What is 2 + 2?"], max_prompt_tokens=256, max_new_tokens=4,
                    temperature=1.0, top_p=1.0, micro_batch_size=2)
    for kind in ("head", "copy"):
        critic = build_critic(kind, model, torch.device("cpu"))
        torch.nn.init.normal_(critic.head.weight)
        v = critic(batch)  # (B,)
        assert v.shape == (2,)
        if kind == "head":  # features come from pi_old's forward pass: a fresh rollout resamples responses
            fresh = collect(model, tok, batch.prompts, max_prompt_tokens=256, max_new_tokens=4, temperature=1.0,
                            top_p=1.0, micro_batch_size=2)
            assert torch.allclose(critic(fresh), v, atol=1e-5)
        else:  # overwrite every response token: the prompt-only value must not move
            changed = batch.select([0, 1])
            changed.input_ids = changed.input_ids.clone()
            changed.input_ids[:, batch.prompt_len :] = tok.convert_tokens_to_ids("x")
            assert torch.allclose(critic(changed), v, atol=1e-5)
        assert critic(batch, token_level=True).shape == batch.response_mask.shape
    assert isinstance(build_critic("head", model, torch.device("cpu")), HeadCritic)
    with pytest.raises(ValueError, match="critic="):
        build_critic("no-such-critic", model, torch.device("cpu"))

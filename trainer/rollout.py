"""Rollouts: chat-formatted prompts, batched sampling, behaviour log-probs by a forward pass.

Layout of a batch: B sequences of ``P`` left-padded prompt tokens followed by ``T`` generated
tokens (right-padded). ``response_mask`` (B, T) marks tokens up to and including the first EOS.
Position ids follow the attention mask so left padding does not shift positions.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, fields, replace
from typing import Any

import torch


@dataclass
class Rollout:
    """One batch of prompts and sampled responses, with everything the update needs."""

    prompts: list[str]  # env prompt texts (before the chat template)
    responses: list[str]  # decoded responses, what the env scores
    input_ids: torch.Tensor  # (B, P+T) prompt (left-padded) + response (right-padded)
    attention_mask: torch.Tensor  # (B, P+T) 1 on real prompt tokens and every response slot
    response_mask: torch.Tensor  # (B, T) 1 on response tokens up to and including the first EOS
    prompt_len: int  # P
    old_logprobs: torch.Tensor  # (B, T) log pi_old(y_t | x, y_<t), at the sampling temperature
    states: torch.Tensor  # (B, T, H) pi_old's last hidden state before each response token, detached
    rewards: torch.Tensor | None = None  # (B,) in [0, 1], set after the env scored the batch

    def __len__(self) -> int:
        return len(self.prompts)

    def select(self, idx: torch.Tensor | list[int]) -> Rollout:
        """Rows ``idx`` of every field (a mini-batch, or the samples that survived scoring)."""
        idx_t = torch.as_tensor(idx, dtype=torch.long)
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, torch.Tensor):
                out[f.name] = v[idx_t.to(v.device)]
            elif isinstance(v, list):
                out[f.name] = [v[i] for i in idx_t.tolist()]
            else:
                out[f.name] = v
        return replace(self, **out)


def encode_prompts(tokenizer: Any, prompts: list[str], max_tokens: int, device: torch.device) -> dict:
    """Apply the chat template (user turn + generation prompt) and left-pad: ids/mask (B, P)."""
    texts = [
        tokenizer.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True, tokenize=False)
        for p in prompts
    ]
    tokenizer.truncation_side = "left"
    enc = tokenizer(
        texts, return_tensors="pt", padding=True, truncation=True, max_length=max_tokens, add_special_tokens=False
    )
    return {"input_ids": enc["input_ids"].to(device), "attention_mask": enc["attention_mask"].to(device)}


def position_ids(attention_mask: torch.Tensor) -> torch.Tensor:
    """Positions that skip left padding, as ``generate`` uses them: (B, L) -> (B, L)."""
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)


def eos_ids(model: Any, tokenizer: Any) -> list[int]:
    """Every token id that ends a response (generation config and tokenizer)."""
    ids = model.generation_config.eos_token_id
    ids = [ids] if isinstance(ids, int) else list(ids or [])
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.append(tokenizer.eos_token_id)
    return ids


@torch.no_grad()
def generate(
    model: Any,
    tokenizer: Any,
    enc: dict,
    *,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_p: float = 1.0,
    greedy: bool = False,
    amp: Callable[[], AbstractContextManager] = nullcontext,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample (or greedily decode) responses: returns response ids (B, T) and their mask (B, T)."""
    was_training = model.training
    model.eval()
    sampling = {} if greedy else {"temperature": temperature, "top_p": top_p, "top_k": 0}
    with amp():
        seq = model.generate(
            **enc,
            max_new_tokens=max_new_tokens,
            do_sample=not greedy,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=eos_ids(model, tokenizer),
            synced_gpus=False,  # whole weights on every rank (FSDP shards gathered first): no lockstep
            **sampling,
        )  # (B, P+T)
    model.train(was_training)
    response = seq[:, enc["input_ids"].shape[1] :]  # (B, T)
    is_eos = torch.isin(response, torch.tensor(eos_ids(model, tokenizer), device=response.device))  # (B, T)
    after_eos = (is_eos.long().cumsum(-1) - is_eos.long()) > 0  # (B, T) strictly after the first EOS
    return response, (~after_eos).long()


def decode(tokenizer: Any, response: torch.Tensor, mask: torch.Tensor) -> list[str]:
    """Response texts (special tokens such as EOS dropped)."""
    return [tokenizer.decode(r[m.bool()], skip_special_tokens=True) for r, m in zip(response, mask, strict=True)]


def response_logprobs(
    model: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    prompt_len: int,
    *,
    temperature: float = 1.0,
    with_entropy: bool = False,
    with_states: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """log pi(y_t | x, y_<t) for every response token: (B, T); optional entropy (B, T), states (B, T, H).

    Only the last T+1 positions go through the LM head (``logits_to_keep``), which saves the
    vocabulary projection of the prompt.
    """
    T = input_ids.shape[1] - prompt_len
    out = model(
        input_ids=input_ids,
        attention_mask=attention_mask,
        position_ids=position_ids(attention_mask),
        logits_to_keep=T + 1,
        output_hidden_states=with_states,
        use_cache=False,
    )
    logits = out.logits[:, :-1].float() / temperature  # (B, T, V) predicts response token t
    logp_all = torch.log_softmax(logits, dim=-1)  # (B, T, V)
    targets = input_ids[:, prompt_len:]  # (B, T)
    logprobs = logp_all.gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # (B, T)
    entropy = -(logp_all.exp() * logp_all).sum(-1) if with_entropy else None  # (B, T), differentiable
    states = out.hidden_states[-1][:, prompt_len - 1 : -1].detach().float() if with_states else None  # (B, T, H)
    return logprobs, entropy, states


@torch.no_grad()
def collect(
    model: Any,
    tokenizer: Any,
    prompts: list[str],
    *,
    max_prompt_tokens: int,
    max_new_tokens: int,
    temperature: float,
    top_p: float,
    micro_batch_size: int,
    amp: Callable[[], AbstractContextManager] = nullcontext,
) -> Rollout:
    """Sample one response per prompt and recompute pi_old's log-probs and features."""
    device = next(model.parameters()).device
    enc = encode_prompts(tokenizer, prompts, max_prompt_tokens, device)  # ids/mask (B, P)
    response, response_mask = generate(
        model, tokenizer, enc, max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p,
        amp=amp,
    )  # (B, T), (B, T)
    input_ids = torch.cat([enc["input_ids"], response], dim=1)  # (B, P+T)
    attention_mask = torch.cat([enc["attention_mask"], torch.ones_like(response)], dim=1)  # (B, P+T)
    P = enc["input_ids"].shape[1]
    was_training = model.training
    model.eval()
    logprobs, states = [], []
    for s in range(0, len(prompts), micro_batch_size):
        with amp():
            lp, _, st = response_logprobs(
                model, input_ids[s : s + micro_batch_size], attention_mask[s : s + micro_batch_size], P,
                temperature=temperature, with_states=True,
            )
        logprobs.append(lp)
        states.append(st)
    model.train(was_training)
    return Rollout(
        prompts=list(prompts),
        responses=decode(tokenizer, response, response_mask),
        input_ids=input_ids,
        attention_mask=attention_mask,
        response_mask=response_mask,
        prompt_len=P,
        old_logprobs=torch.cat(logprobs),  # (B, T)
        states=torch.cat(states),  # (B, T, H)
    )

"""Rollouts: chat-formatted prompts, batched sampling, behaviour log-probs read off the sampler.

Layout of a batch: B sequences of ``P`` left-padded prompt tokens followed by ``T`` generated
tokens (right-padded). ``response_mask`` (B, T) marks tokens up to and including the first EOS.
Position ids follow the attention mask so left padding does not shift positions.

pi_old's log-probs and the last hidden states (the head critic's features) come from the forward
passes ``generate`` runs anyway (:class:`SamplerRecorder`); ``collect(..., logprobs_from="forward")``
recomputes them with a second forward pass over prompt + response instead, the way this module did
before (kept as the reference the tests and ``benchmarks/step_profile.py`` compare against).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, fields, replace
from typing import Any, Literal

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
    share_prompts: bool = False,
    recorder: SamplerRecorder | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample (or greedily decode) responses: returns response ids (B, T) and their mask (B, T).

    ``share_prompts``: prefill a prompt that several rows have once (:func:`prompt_prefix`);
    ``generate`` then runs the last prompt token of every row itself, as its first step.
    ``recorder``: reads pi_old's log-probs and features off the sampling steps (not the prefix)."""
    was_training = model.training
    model.eval()
    sampling = {} if greedy else {"temperature": temperature, "top_p": top_p, "top_k": 0}
    with amp():
        prefix = prompt_prefix(model, enc["input_ids"], enc["attention_mask"]) if share_prompts else {}
        with recorder or nullcontext():
            seq = model.generate(
                **enc,
                max_new_tokens=max_new_tokens,
                do_sample=not greedy,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=eos_ids(model, tokenizer),
                synced_gpus=False,  # whole weights on every rank (FSDP shards gathered first): no lockstep
                **sampling,
                **prefix,
            )  # (B, P+T)
    model.train(was_training)
    response = seq[:, enc["input_ids"].shape[1] :]  # (B, T)
    is_eos = torch.isin(response, torch.tensor(eos_ids(model, tokenizer), device=response.device))  # (B, T)
    after_eos = (is_eos.long().cumsum(-1) - is_eos.long()) > 0  # (B, T) strictly after the first EOS
    return response, (~after_eos).long()


def prompt_prefix(model: Any, ids: torch.Tensor, mask: torch.Tensor) -> dict[str, Any]:
    """Keyword arguments for the model (or ``generate``) holding a KV cache of every prompt token but
    the last, computed once per distinct prompt and repeated to each row that has it: GRPO / RLOO
    sample ``group_size`` responses per prompt, which would otherwise run each prompt that many
    times. ``ids``/``mask``: (B, P) left-padded prompts; rows are the same prompt when both agree.
    Empty when no prompt repeats, or under gradient checkpointing (which turns the cache off)."""
    checkpointing = getattr(model, "is_activation_checkpointing", None)  # transformers 5's name
    if checkpointing is None:
        checkpointing = getattr(model, "is_gradient_checkpointing", False)
    if ids.shape[1] < 2 or (model.training and checkpointing):
        return {}
    key = torch.cat([ids[:, :-1], mask[:, :-1]], dim=1)  # (B, 2(P-1))
    distinct, rows = torch.unique(key, dim=0, return_inverse=True)  # (U, .), (B,) each row's prompt
    if len(distinct) == len(rows):
        return {}
    first = torch.zeros(len(distinct), dtype=torch.long, device=ids.device).scatter_(
        0, rows, torch.arange(len(rows), device=ids.device))  # (U,) a row that has each prompt
    m = mask[first, :-1]  # (U, P-1)
    out = model(input_ids=ids[first, :-1], attention_mask=m, position_ids=position_ids(m), use_cache=True,
                logits_to_keep=1)
    # transformers 5 names the cache ``cache`` (output field and argument), 4.x ``past_key_values``
    name = "cache" if getattr(out, "cache", None) is not None else "past_key_values"
    cache = getattr(out, name)
    cache.batch_select_indices(rows)  # (U, ...) -> (B, ...) per layer; differentiable indexing
    return {name: cache}


def decode(tokenizer: Any, response: torch.Tensor, mask: torch.Tensor) -> list[str]:
    """Response texts (special tokens such as EOS dropped)."""
    return [tokenizer.decode(r[m.bool()], skip_special_tokens=True) for r, m in zip(response, mask, strict=True)]


class SamplerRecorder:
    """pi_old's per-token log-probs (B, T) and last hidden states (B, T, H), read off ``generate``'s
    own forward passes, so the rollout needs no second forward over prompt + response.

    Two forward hooks, which fire whatever wraps the model (LoRA, FSDP): the LM head's input is the
    last hidden state and its output the raw logits at the newest position (before temperature,
    top-p or any other logits processor); the input embedding then sees the token sampled from
    those logits, as the next step's input. Only the newest step's log-softmax is held, so memory
    stays at (B, V) where ``output_logits=True`` would keep T of them. The log-probs are those of
    the temperature-scaled distribution, exactly what :func:`response_logprobs` computes.
    """

    def __init__(self, model: Any, temperature: float):
        self.model = model
        self.temperature = temperature
        self.logprobs: list[torch.Tensor] = []  # one (B,) per sampled token
        self.states: list[torch.Tensor] = []  # one (B, H) per sampled token: the state it was sampled from
        self.pending: torch.Tensor | None = None  # (B, V) newest step's log-probs; its token is not known yet
        self.handles: list[Any] = []

    def __enter__(self) -> SamplerRecorder:
        self.handles = [self.model.get_output_embeddings().register_forward_hook(self._head),
                        self.model.get_input_embeddings().register_forward_hook(self._next_input)]
        return self

    def __exit__(self, *exc: object) -> None:
        for h in self.handles:
            h.remove()

    def _head(self, module: Any, args: tuple, logits: torch.Tensor) -> None:
        self.states.append(args[0][:, -1].detach().float())  # (B, H)
        self.pending = torch.log_softmax(logits[:, -1].float() / self.temperature, dim=-1)  # (B, V)

    def _next_input(self, module: Any, args: tuple, out: torch.Tensor) -> None:
        if self.pending is not None:  # a decoding step: its input is the token sampled at the step before
            self._take(args[0][:, -1])

    def _take(self, token: torch.Tensor) -> None:
        self.logprobs.append(self.pending.gather(-1, token[:, None]).squeeze(-1))  # type: ignore[union-attr]
        self.pending = None

    def read(self, response: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T) log-probs and (B, T, H) states of ``response`` (B, T), the tokens just sampled."""
        if self.pending is not None:  # the last token: no forward pass runs after it
            self._take(response[:, len(self.logprobs)])
        if len(self.logprobs) != response.shape[1] or len(self.states) != response.shape[1]:
            raise RuntimeError(f"expected one LM-head call per sampled token ({response.shape[1]}), saw "
                               f"{len(self.states)}: use collect(..., logprobs_from='forward') with this model")
        return torch.stack(self.logprobs, 1), torch.stack(self.states, 1)


def response_logprobs(
    model: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    prompt_len: int,
    *,
    temperature: float = 1.0,
    with_entropy: bool = False,
    with_states: bool = False,
    share_prompts: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """log pi(y_t | x, y_<t) for every response token: (B, T); optional entropy (B, T), states (B, T, H).

    Only the last T+1 positions go through the LM head (``logits_to_keep``), which saves the
    vocabulary projection of the prompt. ``share_prompts``: rows with the same prompt run it once
    (:func:`prompt_prefix`, with gradients when they are on), then each row runs its last prompt
    token and its response; the same values up to float rounding. Not under DDP, which allows one
    forward call per backward.
    """
    T = input_ids.shape[1] - prompt_len
    prefix = prompt_prefix(model, input_ids[:, :prompt_len], attention_mask[:, :prompt_len]) if share_prompts else {}
    start = prompt_len - 1 if prefix else 0  # the prefix holds every prompt token but the last
    out = model(
        input_ids=input_ids[:, start:],
        attention_mask=attention_mask,
        position_ids=position_ids(attention_mask)[:, start:],
        logits_to_keep=T + 1,
        output_hidden_states=with_states,
        use_cache=bool(prefix),
        **prefix,
    )
    logits = out.logits[:, :-1].float() / temperature  # (B, T, V) predicts response token t
    logp_all = torch.log_softmax(logits, dim=-1)  # (B, T, V)
    targets = input_ids[:, prompt_len:]  # (B, T)
    logprobs = logp_all.gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # (B, T)
    entropy = -(logp_all.exp() * logp_all).sum(-1) if with_entropy else None  # (B, T), differentiable
    states = out.hidden_states[-1][:, -T - 1 : -1].detach().float() if with_states else None  # (B, T, H)
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
    logprobs_from: Literal["generate", "forward"] = "generate",
    share_prompts: bool = True,
) -> Rollout:
    """Sample one response per prompt, with pi_old's log-probs and features: read off the sampler's
    forward passes (``generate``), or recomputed by a second forward pass (``forward``, the reference).
    ``share_prompts``: prefill a prompt that several rows sample once (:func:`prompt_prefix`)."""
    device = next(model.parameters()).device
    enc = encode_prompts(tokenizer, prompts, max_prompt_tokens, device)  # ids/mask (B, P)
    recorder = SamplerRecorder(model, temperature) if logprobs_from == "generate" else None
    response, response_mask = generate(model, tokenizer, enc, max_new_tokens=max_new_tokens, temperature=temperature,
                                       top_p=top_p, amp=amp, share_prompts=share_prompts,
                                       recorder=recorder)  # (B, T), (B, T)
    if recorder is not None:
        old_logprobs, states = recorder.read(response)  # (B, T), (B, T, H)
    input_ids = torch.cat([enc["input_ids"], response], dim=1)  # (B, P+T)
    attention_mask = torch.cat([enc["attention_mask"], torch.ones_like(response)], dim=1)  # (B, P+T)
    P = enc["input_ids"].shape[1]
    if logprobs_from == "forward":
        old_logprobs, states = recompute(model, input_ids, attention_mask, P, temperature=temperature,
                                         micro_batch_size=micro_batch_size, amp=amp)
    return Rollout(
        prompts=list(prompts),
        responses=decode(tokenizer, response, response_mask),
        input_ids=input_ids,
        attention_mask=attention_mask,
        response_mask=response_mask,
        prompt_len=P,
        old_logprobs=old_logprobs,  # (B, T)
        states=states,  # (B, T, H)
    )


@torch.no_grad()
def recompute(
    model: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    prompt_len: int,
    *,
    temperature: float,
    micro_batch_size: int,
    amp: Callable[[], AbstractContextManager] = nullcontext,
) -> tuple[torch.Tensor, torch.Tensor]:
    """pi_old's log-probs (B, T) and last hidden states (B, T, H) by a second forward pass over
    prompt + response, in micro-batches (eval mode, as during sampling)."""
    was_training = model.training
    model.eval()
    logprobs, states = [], []
    for s in range(0, input_ids.shape[0], micro_batch_size):
        with amp():
            lp, _, st = response_logprobs(
                model, input_ids[s : s + micro_batch_size], attention_mask[s : s + micro_batch_size], prompt_len,
                temperature=temperature, with_states=True,
            )
        logprobs.append(lp)
        states.append(st)
    model.train(was_training)
    return torch.cat(logprobs), torch.cat(states)  # type: ignore[arg-type]

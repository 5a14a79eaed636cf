"""Held-out accuracy: greedy responses to fixed test-split problems the policy never trains on."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from ..rollout import decode, encode_prompts, generate
from . import SANDBOX_ERROR

N_SAMPLES = 5
"""Held-out problems (indices 0..N_SAMPLES-1) whose prompt, answer and verdict every evaluation keeps."""


@dataclass
class Evaluation:
    """One pass over the held-out problems: the accuracy, and what lies behind it."""

    accuracy: float
    """Mean reward, sandbox errors left out."""
    verdicts: dict[str, int] = field(default_factory=dict)
    """``info["verdict"]`` counts over all n responses (sandbox errors included), so a rise in a
    verdict such as ``restated`` shows even where the accuracy does not move."""
    samples: list[dict[str, Any]] = field(default_factory=list)
    """The first problems' ``index``, ``prompt``, ``response``, ``reward`` and ``verdict``: the
    same indices on every evaluation, so answers before and after training can be set side by side."""


@dataclass
class Scored:
    """Per-problem rewards of one pass (``NaN`` where the sandbox failed), with what lies behind them."""

    rewards: np.ndarray
    """(n,) reward of each held-out problem's response; ``NaN`` for a ``sandbox_error``."""
    verdicts: dict[str, int] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        """Mean reward, sandbox errors left out."""
        return float(np.nanmean(self.rewards))


class HeldOut:
    """Problems 0..n-1 of ``split="test"``, scored through the env's vector API.

    Responses whose verdict is ``sandbox_error`` are left out of the mean (and counted).
    """

    def __init__(self, env_id: str, env_kwargs: dict, n: int, batch_size: int, max_new_tokens: int,
                 max_prompt_tokens: int = 512, eval_env_kwargs: dict | None = None):
        if n < 1:
            raise ValueError(f"eval_n must be >= 1, got {n}")
        self.n = n
        self.batch_size = min(batch_size, n)
        self.max_new_tokens = max_new_tokens
        self.max_prompt_tokens = max_prompt_tokens
        kwargs = {**env_kwargs, "split": "test", **(eval_env_kwargs or {})}
        self.envs = gym.make_vec(env_id, num_envs=self.batch_size, **kwargs)
        self.sandbox_errors = 0

    def accuracy(self, model: Any, tokenizer: Any, amp: Callable[[], AbstractContextManager] = nullcontext) -> float:
        """Mean reward of greedy responses over the held-out problems."""
        return self.evaluate(model, tokenizer, amp=amp).accuracy

    def evaluate(self, model: Any, tokenizer: Any, amp: Callable[[], AbstractContextManager] = nullcontext,
                 n_samples: int = N_SAMPLES) -> Evaluation:
        """Greedy responses to every held-out problem: accuracy, verdict counts, the first samples."""
        scored = self.score(model, tokenizer, greedy=True, amp=amp, n_samples=n_samples)
        return Evaluation(scored.accuracy, scored.verdicts, scored.samples)

    def score(self, model: Any, tokenizer: Any, *, greedy: bool = True, temperature: float = 1.0,
              seed: int | None = None, amp: Callable[[], AbstractContextManager] = nullcontext,
              n_samples: int = N_SAMPLES) -> Scored:
        """One response per held-out problem, each reward kept (for standard errors over problems).

        ``greedy=False`` samples at ``temperature``; with ``seed`` it runs under its own RNG
        (``torch.random.fork_rng``), so an evaluation never moves the training's random streams.
        """
        rewards = np.full(self.n, np.nan)  # (n,)
        verdicts: Counter[str] = Counter()
        samples: list[dict[str, Any]] = []
        self.sandbox_errors = 0
        device = next(model.parameters()).device
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            if seed is not None:
                torch.manual_seed(seed)
            for start in range(0, self.n, self.batch_size):
                k = min(self.batch_size, self.n - start)
                index = [start + (i % k) for i in range(self.batch_size)]  # pad the last batch by repeats
                prompts, _ = self.envs.reset(options={"index": index})
                enc = encode_prompts(tokenizer, list(prompts), self.max_prompt_tokens, device)
                ids, mask = generate(model, tokenizer, enc, max_new_tokens=self.max_new_tokens, greedy=greedy,
                                     temperature=temperature, amp=amp)
                responses = decode(tokenizer, ids, mask)
                _, r, _, _, infos = self.envs.step(responses)
                for i in range(k):
                    verdict = str(infos["verdict"][i])
                    verdicts[verdict] += 1
                    if start + i < n_samples:
                        samples.append({"index": start + i, "prompt": str(prompts[i]), "response": responses[i],
                                        "reward": float(r[i]), "verdict": verdict})
                    if verdict == SANDBOX_ERROR:
                        self.sandbox_errors += 1
                    else:
                        rewards[start + i] = float(r[i])
        if np.isnan(rewards).all():
            raise RuntimeError(f"every held-out response hit a sandbox error ({self.sandbox_errors}); "
                               "check `sppo-gym sandbox doctor`")
        return Scored(rewards, dict(sorted(verdicts.items())), samples)

    def close(self) -> None:
        self.envs.close()

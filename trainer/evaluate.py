"""Held-out accuracy: greedy responses to fixed test-split problems the policy never trains on."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import gymnasium as gym
import numpy as np

from .rollout import decode, encode_prompts, generate

SANDBOX_ERROR = "sandbox_error"


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
        self.last_samples: list[dict[str, Any]] = []

    def accuracy(self, model: Any, tokenizer: Any, amp: Callable[[], AbstractContextManager] = nullcontext) -> float:
        """Mean reward of greedy responses over the held-out problems."""
        rewards: list[float] = []
        self.sandbox_errors = 0
        self.last_samples = []
        for start in range(0, self.n, self.batch_size):
            k = min(self.batch_size, self.n - start)
            index = [start + (i % k) for i in range(self.batch_size)]  # pad the last batch by repeats
            prompts, _ = self.envs.reset(options={"index": index})
            device = next(model.parameters()).device
            enc = encode_prompts(tokenizer, list(prompts), self.max_prompt_tokens, device)
            ids, mask = generate(model, tokenizer, enc, max_new_tokens=self.max_new_tokens, greedy=True,
                                 amp=amp)
            responses = decode(tokenizer, ids, mask)
            _, r, _, _, infos = self.envs.step(responses)
            verdicts = np.asarray(infos["verdict"])
            for i in range(k):
                if verdicts[i] == SANDBOX_ERROR:
                    self.sandbox_errors += 1
                    continue
                rewards.append(float(r[i]))
                if len(self.last_samples) < 5:
                    self.last_samples.append({"prompt": prompts[i], "response": responses[i], "reward": float(r[i])})
        if not rewards:
            raise RuntimeError(f"every held-out response hit a sandbox error ({self.sandbox_errors}); "
                               "check `sppo-gym sandbox doctor`")
        return float(np.mean(rewards))

    def close(self) -> None:
        self.envs.close()

"""The shared base of the trainer tests' own Gymnasium envs (tests/test_trainer_drop.py,
tests/trainer_crash_env.py): a single-step text env over ``n_problems`` indexed problems, run
under the stock ``SyncVectorEnv`` with each sub-env told its slot, so that a vector ``reset`` with
one index per slot (as the trainer's held-out split passes them) gives each sub-env its own.
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium.spaces import Text
from gymnasium.vector import SyncVectorEnv


class IndexedTextEnv(gym.Env):
    """Text in, text out, one step; subclasses give ``n_problems``, the prompt and ``step``."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}
    n_problems: ClassVar[int]

    def __init__(self, slot: int = 0, split: str = "train"):
        self.slot, self.split = slot, split
        self.observation_space = Text(64)
        self.action_space = Text(10_000)
        self.index = 0

    def prompt(self, index: int) -> str:
        raise NotImplementedError

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[str, dict]:
        super().reset(seed=seed)
        index = (options or {}).get("index")
        if isinstance(index, (list, tuple, np.ndarray)):  # the vector API: one index per slot
            index = index[self.slot]
        self.index = int(self.np_random.integers(self.n_problems)) if index is None else int(index)
        return self.prompt(self.index), {"index": self.index}


def _slot_vector_env(env_cls: type[IndexedTextEnv], num_envs: int, **kwargs: Any) -> SyncVectorEnv:
    return SyncVectorEnv([functools.partial(env_cls, slot=i, **kwargs) for i in range(num_envs)])


def register(env_id: str, env_cls: type[IndexedTextEnv]) -> None:
    """Register ``env_cls`` once, with a vector entry point that tells each sub-env its slot."""
    if env_id not in gym.registry:
        gym.register(id=env_id, entry_point=env_cls,
                     vector_entry_point=functools.partial(_slot_vector_env, env_cls))

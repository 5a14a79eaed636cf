"""Use sppo-gym environments with TRL's ``GRPOTrainer``: a dataset of prompts + a reward function.

Example (``pip install sppo-gym[trl]``)::

    from trl import GRPOConfig, GRPOTrainer
    from sppo_gym.envs.trl_adapter import trl_task

    dataset, reward = trl_task("sppo_gym/Arithmetic-v0", n=2000)
    trainer = GRPOTrainer(model="path/to/model", reward_funcs=reward, train_dataset=dataset,
                          args=GRPOConfig(output_dir="out", num_generations=8))
    trainer.train()

Each dataset row holds the prompt (as a one-turn conversation, so TRL applies the model's chat
template, or as plain text with ``conversational=False``) and the problem's ``task_id``; TRL
passes that column back to the reward function, which rebuilds the exact problem through the
env and scores the completion with the env's own verifier (through the sandbox where the env
uses one). A completion whose verdict is ``sandbox_error`` gets ``None``, which TRL treats as
"no reward" rather than 0 (TRL >= 1.6, the lower bound in pyproject): infrastructure failures
must not read as wrong answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from sppo_gym.verifiers.score import SANDBOX_ERROR

_PROCEDURAL = 10**9  # a source this large is a generator, not a dataset


def trl_dataset(env_id: str, n: int | None = None, *, split: str = "train", seed: int = 0,
                conversational: bool = True, **env_kwargs: Any) -> Any:
    """A ``datasets.Dataset`` with columns ``prompt`` and ``task_id`` for ``n`` problems.

    Dataset envs: the first ``n`` problems in file order (all when ``n`` is None). Procedural
    envs (effectively unbounded): ``n`` problems drawn from ``seed`` (``n`` is required).
    """
    from datasets import Dataset  # lazy: optional dependency ([trl] extra), ~0.9 s to import

    env = gym.make(env_id, split=split, **env_kwargs)
    size = len(env.unwrapped.source)
    if size > _PROCEDURAL:  # procedural: draw n problems from the seed
        if n is None:
            raise ValueError(f"{env_id} is procedural: pass n=<number of prompts>")
        resets = [{"seed": int(s)} for s in np.random.SeedSequence(seed).generate_state(n)]
    else:
        if n is not None and n > size:
            raise ValueError(f"{env_id} ({split}) has {size} problems; n={n} is too many")
        resets = [{"options": {"index": i}} for i in range(size if n is None else n)]
    rows = []
    for kwargs in resets:
        prompt, info = env.reset(**kwargs)
        rows.append((prompt, info["task_id"]))
    env.close()
    to_prompt = (lambda p: [{"role": "user", "content": p}]) if conversational else (lambda p: p)
    return Dataset.from_dict({"prompt": [to_prompt(p) for p, _ in rows], "task_id": [t for _, t in rows]})


class EnvReward:
    """A TRL reward function backed by an env: ``reward(prompts, completions, task_id, **kw)``."""

    def __init__(self, env_id: str, *, split: str = "train", **env_kwargs: Any):
        self.env_id = env_id
        self.env_kwargs = {**env_kwargs, "split": split}
        self.__name__ = "sppo_gym:" + env_id  # TRL logs each reward function under its __name__
        self._envs: dict[int, Any] = {}
        self.sandbox_errors = 0

    def _vector_env(self, n: int) -> Any:
        if n not in self._envs:
            self._envs[n] = gym.make_vec(self.env_id, num_envs=n, **self.env_kwargs)
        return self._envs[n]

    def __call__(self, prompts: Sequence[Any] | None = None, completions: Sequence[Any] = (),
                 task_id: Sequence[str] = (), **kwargs: Any) -> list[float | None]:
        if len(task_id) != len(completions):
            raise ValueError("the dataset must carry the task_id column (build it with trl_dataset)")
        if not completions:
            return []
        texts = [_completion_text(c) for c in completions]
        envs = self._vector_env(len(texts))
        envs.reset(options={"task_id": list(task_id)})
        _, rewards, _, _, infos = envs.step(texts)
        verdicts = np.asarray(infos["verdict"])
        self.sandbox_errors += int((verdicts == SANDBOX_ERROR).sum())
        return [None if v == SANDBOX_ERROR else float(r) for r, v in zip(rewards, verdicts, strict=True)]

    def close(self) -> None:
        for envs in self._envs.values():
            envs.close()
        self._envs.clear()


def _completion_text(completion: Any) -> str:
    """TRL passes plain strings, or for conversational data a list of messages."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion and isinstance(completion[-1], dict):
        return str(completion[-1].get("content", ""))
    raise TypeError(f"unexpected completion type {type(completion).__name__}: expected str or a list of messages")


def trl_task(env_id: str, n: int | None = None, *, split: str = "train", seed: int = 0,
             conversational: bool = True, **env_kwargs: Any) -> tuple[Any, EnvReward]:
    """``(dataset, reward_function)`` ready for ``GRPOTrainer(train_dataset=..., reward_funcs=...)``."""
    dataset = trl_dataset(env_id, n, split=split, seed=seed, conversational=conversational, **env_kwargs)
    return dataset, EnvReward(env_id, split=split, **env_kwargs)

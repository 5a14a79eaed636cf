"""Curricula for the training loop: which problems each step trains on.

* ``success`` drives the env's difficulty level with :class:`sppo_gym.envs.curriculum.SuccessSchedule`
  from the rewards of the previous steps: every sub-env resets with ``options={"difficulty": level}``.
* ``critic`` (SPPO/PPO) draws a pool of ``curriculum_pool x prompts`` candidates from a second
  vector env of the same id, scores every candidate's V(x) with the critic in one batched pass,
  and keeps the prompts whose V(x) is closest to 0.5 (or samples them with weights V(1 - V)):
  there the policy-gradient signal ``R - V`` has the largest expected magnitude. The training
  env is then reset to exactly those problems with ``options={"difficulty": [...], "index": [...]}``
  taken from the pool's reset infos (``index`` alone when the env has no levels).

Only the Gymnasium API reaches the env (reset options and infos). Pool seeds come from
``SeedSequence([seed, step, 1])`` and sampling from ``[seed, step, 2]``: the global RNG streams
are untouched and a resumed run picks the same problems.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from sppo_gym.envs.curriculum import SuccessSchedule

from .critic import HeadCritic
from .rollout import Rollout, encode_prompts, position_ids


class SuccessCurriculum:
    """Every prompt of a step at the schedule's level; the level follows the success rate."""

    def __init__(self, cfg: Any):
        self.schedule = SuccessSchedule(cfg.resolved_curriculum_levels(), promote=cfg.curriculum_promote,
                                        demote=cfg.curriculum_demote, window=cfg.curriculum_window)

    def options(self, run: Any, step: int) -> tuple[dict[str, Any], dict[str, float]]:
        return {"difficulty": [self.schedule.level] * run.cfg.batch_size}, {}

    def observe(self, rewards: np.ndarray) -> None:
        self.schedule.update(rewards.tolist())

    def state_dict(self) -> dict[str, Any]:
        return self.schedule.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.schedule.load_state_dict(state)

    def close(self) -> None:
        pass


class CriticCurriculum:
    """Prompts whose predicted solve probability V(x) is nearest 0.5, out of a larger pool."""

    def __init__(self, cfg: Any):
        self.levels = cfg.resolved_curriculum_levels()
        self.n_prompts = cfg.batch_size // cfg.resolved_group_size()
        self.pool = gym.make_vec(cfg.env, num_envs=self.n_prompts * cfg.curriculum_pool, **cfg.env_kwargs)
        self.last: dict[str, Any] = {}  # the latest pool, values and choice (for tests and analysis)

    def options(self, run: Any, step: int) -> tuple[dict[str, Any], dict[str, float]]:
        cfg, n = run.cfg, self.pool.num_envs
        seeds = [int(s) for s in np.random.SeedSequence([cfg.seed, step, 1]).generate_state(n)]
        pool_opts = {"difficulty": [self.levels[i % len(self.levels)] for i in range(n)]} if self.levels else None
        prompts, infos = self.pool.reset(seed=seeds, options=pool_opts)
        values = prompt_values(run, list(prompts)).cpu().numpy()  # (n,) predicted reward
        chosen = choose(values, self.n_prompts, cfg.curriculum_sample, np.random.SeedSequence([cfg.seed, step, 2]))
        g = cfg.resolved_group_size()
        rep = np.repeat(chosen, g)
        options: dict[str, Any] = {"index": [int(i) for i in np.asarray(infos["index"])[rep]]}
        if "difficulty" in infos:
            options["difficulty"] = [int(d) for d in np.asarray(infos["difficulty"])[rep]]
        self.last = {"prompts": list(prompts), "values": values, "chosen": chosen}
        return options, {"v_chosen": float(values[chosen].mean()), "v_pool": float(values.mean())}

    def observe(self, rewards: np.ndarray) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        return {}  # the choice depends on (seed, step) and the critic, which the checkpoint holds

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass

    def close(self) -> None:
        self.pool.close()


def build_curriculum(cfg: Any) -> SuccessCurriculum | CriticCurriculum | None:
    """The curriculum ``cfg.curriculum`` names (None for ``none``)."""
    if cfg.curriculum == "success":
        return SuccessCurriculum(cfg)
    if cfg.curriculum == "critic":
        return CriticCurriculum(cfg)
    return None


def choose(values: np.ndarray, k: int, sample: bool, seq: np.random.SeedSequence) -> np.ndarray:
    """Indices of the ``k`` candidates nearest V = 0.5 (stable order), or sampled ∝ V(1 - V)."""
    if not sample:
        return np.argsort(np.abs(values - 0.5), kind="stable")[:k]
    w = np.clip(values * (1.0 - values), 1e-6, None)
    return np.random.default_rng(seq).choice(len(values), size=k, replace=False, p=w / w.sum())


@torch.no_grad()
def prompt_values(run: Any, prompts: list[str]) -> torch.Tensor:
    """The critic's predicted reward V(x) for each prompt: (N,), one batched pass.

    The head critic reads the policy's last hidden state at the last prompt token (what the
    rollout gives it); model critics read the prompt themselves. A placeholder response token
    makes the token-level (PPO) path return the value before the first response token.
    """
    device = next(run.policy.parameters()).device
    enc = encode_prompts(run.tokenizer, prompts, run.cfg.max_prompt_tokens, device)  # (N, P)
    ids, mask = enc["input_ids"], enc["attention_mask"]
    P = ids.shape[1]
    states = torch.zeros(len(prompts), 1, 1, device=device)
    if isinstance(run.critic, HeadCritic):
        was_training = run.policy.training
        run.policy.eval()
        with run.amp():
            out = run.policy(input_ids=ids, attention_mask=mask, position_ids=position_ids(mask),
                             output_hidden_states=True, use_cache=False, logits_to_keep=1)
        run.policy.train(was_training)
        states = out.hidden_states[-1][:, -1:].float()  # (N, 1, H) last prompt token (left padding)
    pad = torch.full((len(prompts), 1), run.tokenizer.eos_token_id or 0, dtype=ids.dtype, device=device)
    batch = Rollout(prompts=prompts, responses=[""] * len(prompts), input_ids=torch.cat([ids, pad], 1),
                    attention_mask=torch.cat([mask, torch.ones_like(pad)], 1),
                    response_mask=torch.ones_like(pad), prompt_len=P, old_logprobs=torch.zeros(pad.shape),
                    states=states)
    with run.amp():
        out_v = run.critic(batch)  # (N,) logits | (N, 1) values
    return run.critic.predicted_reward(out_v.float())  # (N,)

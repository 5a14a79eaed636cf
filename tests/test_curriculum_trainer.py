"""Trainer curricula (success, critic) with the real tiny-random model on in-process tasks."""

from __future__ import annotations

import csv
import functools

import gymnasium as gym
import numpy as np
import pytest
import torch
from sppo_gym.envs import register_task
from sppo_gym.envs.base import SingleStepEnv
from sppo_gym.envs.levels import LeveledEnv, parse_levels
from sppo_gym.envs.problems import as_source
from sppo_gym.envs.vector import SingleStepVectorEnv
from sppo_gym.trainer.config import load_config
from sppo_gym.trainer.loop import setup, train
from sppo_gym.trainer.rollout import collect
from sppo_gym.verifiers.composition.callable import CallableVerifier

DIGITS = "curriculum_test/Digits-v0"
LEVELS = "curriculum_test/LevelDigits-v0"


def _gen(rng, level=1):
    return {"d": str(int(rng.integers(10 ** level))), "difficulty": level}


def digit_share(response: str, problem: dict) -> float:
    return sum(c.isdigit() for c in response) / max(1, len(response))


def level_one_only(response: str, problem: dict) -> float:
    """Level 1 is always solved, higher levels never: the success schedule must go up, then down."""
    return 1.0 if problem["difficulty"] == 1 else 0.0


class LevelDigits(LeveledEnv, SingleStepEnv):
    """A three-level in-process task built on the same mixin as the built-in envs."""

    valid_levels = (1, 2, 3)

    def __init__(self, difficulty=1, split="train", dataset_seed=0, **kwargs):
        self.levels = parse_levels(difficulty, self.valid_levels)
        self._args = {"split": split, "seed": dataset_seed}
        self._sources = {}
        super().__init__(self.level_source(self.levels[0]), verifier=CallableVerifier(level_one_only),
                         prompt="Write digits like {d}", split=split, **kwargs)

    def level_source(self, level):
        if level not in self._sources:
            self._sources[level] = as_source(functools.partial(_gen, level=level), **self._args)
        return self._sources[level]


if DIGITS not in gym.registry:
    register_task(DIGITS, problems=_gen, verifier=digit_share, prompt="Write digits like {d}")
    gym.register(LEVELS, entry_point=LevelDigits,
                 vector_entry_point=functools.partial(SingleStepVectorEnv, env_fn=LevelDigits))

TINY = {"model": "tiny-random", "batch_size": 8, "minibatch_size": 4, "micro_batch_size": 4, "max_new_tokens": 4,
        "eval_n": 0, "lr": 1e-3, "progress": False}


def _rows(out):
    with open(out / "metrics.csv") as f:
        return list(csv.DictReader(f))


def test_success_curriculum_moves_the_level_and_logs_it(tmp_path):
    cfg = load_config(None, {**TINY, "env": LEVELS, "steps": 3, "out": str(tmp_path), "curriculum": "success",
                             "curriculum_levels": "[1,2,3]", "curriculum_window": 8})
    train(cfg)
    rows = _rows(tmp_path)
    # level 1 is always solved (promote), level 2 never (demote)
    assert [r["difficulty"] for r in rows] == ["1", "2", "1"]
    assert [r["reward_mean"] for r in rows] == ["1", "0", "1"]
    assert (tmp_path / "curriculum.png").stat().st_size > 1000


def test_critic_curriculum_keeps_the_prompts_nearest_one_half(tmp_path):
    cfg = load_config(None, {**TINY, "env": DIGITS, "steps": 1, "out": str(tmp_path), "curriculum": "critic"})
    train(cfg)
    rows = _rows(tmp_path)
    assert all(r["v_chosen"] != "" and r["v_pool"] != "" for r in rows)
    run = setup(cfg)
    torch.manual_seed(1)
    torch.nn.init.normal_(run.critic.head.weight, std=1.0)  # a critic that tells prompts apart
    run.curriculum.options(run, step=7)
    v0 = run.curriculum.last["values"]
    with torch.no_grad():  # centre its predictions on 0.5
        run.critic.head.bias -= float(np.median(np.log(v0 / (1 - v0))))
    options, stats = run.curriculum.options(run, step=7)
    pool = run.curriculum.last
    assert len(pool["prompts"]) == 4 * cfg.batch_size
    # the critic directly, on the rollout path: V(x) = sigmoid(head(last prompt token state))
    batch = collect(run.policy, run.tokenizer, pool["prompts"], max_prompt_tokens=cfg.max_prompt_tokens,
                    max_new_tokens=1, temperature=1.0, top_p=1.0, micro_batch_size=8)
    with torch.no_grad():
        v = torch.sigmoid(run.critic(batch)).numpy()
    np.testing.assert_allclose(pool["values"], v, atol=1e-4)
    assert np.ptp(v) > 0.05
    dist = np.abs(v - 0.5)
    chosen = set(pool["chosen"].tolist())
    assert len(chosen) == cfg.batch_size
    assert max(dist[list(chosen)]) <= min(dist[[i for i in range(len(v)) if i not in chosen]]) + 1e-4
    assert stats["v_chosen"] == pytest.approx(float(v[list(chosen)].mean()), abs=1e-4)
    # the training env is reset to exactly those problems
    prompts, _ = run.envs.reset(options=options)
    assert list(prompts) == [pool["prompts"][i] for i in pool["chosen"]]
    run.curriculum.close()


def test_critic_curriculum_draws_candidates_across_levels(tmp_path):
    cfg = load_config(None, {**TINY, "env": LEVELS, "env_kwargs": '{"difficulty": [1, 2, 3]}', "steps": 1,
                             "out": str(tmp_path), "curriculum": "critic", "curriculum_pool": 3})
    run = setup(cfg)
    options, _ = run.curriculum.options(run, step=1)
    chosen = run.curriculum.last["chosen"].tolist()
    assert len(run.curriculum.last["prompts"]) == 24 and len(chosen) == len(options["index"]) == 8
    assert options["difficulty"] == [[1, 2, 3][c % 3] for c in chosen]  # candidate c is drawn at level c mod 3
    _, infos = run.envs.reset(options=options)
    assert list(infos["difficulty"]) == options["difficulty"]
    run.curriculum.close()


@pytest.mark.parametrize("overrides", [
    {"env": LEVELS, "curriculum": "success", "curriculum_levels": "[1,2,3]", "curriculum_window": 12},
    {"env": DIGITS, "curriculum": "critic", "curriculum_sample": True},
])
def test_resume_with_a_curriculum_reproduces_exactly(tmp_path, overrides):
    base = {**TINY, **overrides, "checkpoint_every": 2}
    straight, split = tmp_path / "straight", tmp_path / "split"
    train(load_config(None, {**base, "steps": 3, "out": str(straight)}))
    train(load_config(None, {**base, "steps": 2, "out": str(split)}))
    train(load_config(None, {**base, "steps": 3, "out": str(split)}), resume=True)
    timing = {"wall_s", "gen_s", "update_s", "verify_s"}
    a, b = _rows(straight), _rows(split)
    assert [r["step"] for r in b] == ["1", "2", "3"]
    for ra, rb in zip(a, b, strict=True):
        assert {k: v for k, v in ra.items() if k not in timing} == {k: v for k, v in rb.items() if k not in timing}


def test_curriculum_config_errors():
    with pytest.raises(ValueError, match="algo=sppo or ppo"):
        load_config(None, {"curriculum": "critic", "algo": "grpo"})
    with pytest.raises(ValueError, match="needs levels"):
        load_config(None, {"curriculum": "success"})
    with pytest.raises(ValueError, match="JSON list"):
        load_config(None, {"curriculum": "success", "curriculum_levels": "[1,2"})
    with pytest.raises(ValueError, match="curriculum"):
        load_config(None, {"curriculum": "hard-first"})
    assert load_config(None, {"curriculum": "none"}).curriculum == "none"  # a choice, not null
    assert load_config(None, {"curriculum": "success", "curriculum_levels": "[2,3]"}).curriculum_levels == [2, 3]

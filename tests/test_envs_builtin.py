"""Every built-in id: registered by the package, makeable without a prior import, check_env-clean."""

from __future__ import annotations

import subprocess
import sys

import gymnasium as gym
import pytest
from gymnasium.envs.registration import load_env_creator
from gymnasium.utils.env_checker import check_env
from sppo_gym.envs import BUILTIN_ENVS, builtin_ids

IDS = builtin_ids()
#: Keyword arguments that keep each id's check cheap (one small task, problems bundled).
KWARGS = {"sppo_gym/ReasoningGym-v0": {"task": "basic_arithmetic"}}


def test_registry_lists_every_contract_id():
    assert [f"sppo_gym/{n}-v0" for n in (
        "Arithmetic", "MathAnswer", "PythonTests", "HumanEval", "StdioCode", "CoqProof", "ReasoningGym")] == IDS
    for env in BUILTIN_ENVS:
        spec = gym.spec(env.id)
        assert isinstance(spec.entry_point, str) and isinstance(spec.vector_entry_point, str)


def test_import_is_light_and_module_prefix_works():
    code = ("import sys, sppo_gym.envs; heavy = [m for m in ('torch', 'sympy', 'reasoning_gym', 'datasets', "
            "'sppo_gym.envs.base', 'sppo_gym.verifiers') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    code = ("import gymnasium; env = gymnasium.make('sppo_gym.envs:sppo_gym/ReasoningGym-v0'); "
            "print(type(env.unwrapped).__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "ReasoningGymEnv"


@pytest.mark.parametrize("env_id", IDS)
def test_vector_entry_point_resolves(env_id):
    cls = load_env_creator(gym.spec(env_id).vector_entry_point)
    assert cls.env_entry_point == gym.spec(env_id).entry_point


@pytest.mark.docker
@pytest.mark.parametrize("env_id", IDS)
def test_check_env(env_id, sandbox_pool):
    env = gym.make(env_id, **KWARGS.get(env_id, {}))
    check_env(env.unwrapped)
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs) and isinstance(info["task_id"], str)
    env.close()

"""Bad ``reward=`` / speed options and missing reference solutions fail early and clearly (no sandbox)."""

from __future__ import annotations

import gymnasium as gym
import pytest
import sppo_gym.envs  # noqa: F401  (registers the ids)
from sppo_gym.verifiers.code.python_tests import PythonTestsVerifier, reference_source

ROW = {"task_id": "t/add", "prompt": "Write add(a, b).", "entry_point": "add", "test": "assert add(1, 2) == 3\n"}


@pytest.mark.parametrize("env_id", ["sppo_gym/PythonTests-v0", "sppo_gym/HumanEval-v0"])
def test_bad_reward_names_the_field(env_id):
    with pytest.raises(ValueError, match=r"reward must be one of 'pass', 'speed'"):
        gym.make(env_id, reward="fast")


@pytest.mark.parametrize(("opts", "field"), [({"reward": "time"}, "reward"), ({"speed_floor": 0.0}, "speed_floor"),
                                             ({"speed_min_rounds": 0}, "speed_min_rounds"),
                                             ({"speed_min_time_s": -1.0}, "speed_min_time_s")])
def test_bad_verifier_options(opts, field):
    with pytest.raises(ValueError, match=field):
        PythonTestsVerifier(**opts)


def test_speed_needs_a_reference_at_make_time():
    with pytest.raises(ValueError, match="canonical_solution"):
        gym.make("sppo_gym/PythonTests-v0", data=[ROW], reward="speed")
    env = gym.make("sppo_gym/PythonTests-v0", data=[ROW])  # reward="pass" does not need one
    env.reset(options={"index": 0})


def test_reference_source_forms():
    whole = {**ROW, "canonical_solution": "def add(a, b):\n    return a + b\n"}
    assert reference_source(whole) == whole["canonical_solution"]
    he = {**ROW, "prompt": "def add(a, b):\n    \"\"\"Sum.\"\"\"\n", "canonical_solution": "    return a + b\n"}
    assert reference_source(he) == he["prompt"] + he["canonical_solution"]
    with pytest.raises(ValueError, match="neither defines"):
        reference_source({**ROW, "canonical_solution": "return 3"})

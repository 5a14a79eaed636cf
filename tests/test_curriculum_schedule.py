"""Difficulty schedules (envs/curriculum.py) and per-reset difficulty levels of the built-in envs."""

from __future__ import annotations

import collections

import gymnasium as gym
import pytest
import sppo_gym.envs  # noqa: F401  (registers the ids)
from sppo_gym.envs import arithmetic
from sppo_gym.envs.curriculum import FixedSchedule, SuccessSchedule

# ----- schedules --------------------------------------------------------------------------


def test_fixed_schedule_breakpoints_and_function():
    s = FixedSchedule([(0, 1), (10, 2), (25, 4)])
    assert [s.level_at(t) for t in (0, 9, 10, 24, 25, 1000)] == [1, 1, 2, 2, 4, 4]
    assert FixedSchedule(lambda step: 1 + step // 5).level_at(12) == 3
    with pytest.raises(ValueError, match="increase strictly"):
        FixedSchedule([(0, 1), (5, 2), (5, 3)])
    with pytest.raises(ValueError, match="start at 0"):
        FixedSchedule([(3, 1)])
    with pytest.raises(ValueError, match="pairs"):
        FixedSchedule([])
    with pytest.raises(TypeError, match="must return an int"):
        FixedSchedule(lambda step: "2").level_at(0)


def test_success_schedule_promotes_only_after_a_full_window():
    s = SuccessSchedule([1, 2, 3], promote=0.75, demote=0.25, window=4)
    assert s.update([1, 1, 1]) == 1  # window not full yet
    assert s.success_rate == 1.0
    assert s.update([1]) == 2 and s.changes == 1
    assert s.success_rate is None  # the window restarts at the new level
    assert s.update([1, 1, 0, 1]) == 3  # 0.75 >= promote
    assert s.update([1] * 12) == 3  # top level: stays
    assert s.changes == 2


def test_success_schedule_demotes_and_respects_the_bottom():
    s = SuccessSchedule([2, 4, 6], promote=0.9, demote=0.2, window=5, start=4)
    assert s.level == 4
    assert s.update([0, 0, 0, 1, 0]) == 2  # 0.2 <= demote
    assert s.update([0] * 20) == 2  # bottom level: stays
    s2 = SuccessSchedule([1, 2], promote=0.9, demote=0.1, window=3)
    assert s2.update([0.5] * 9) == 1  # in between: no change, the window slides
    assert s2.update([1, 1, 1]) == 2  # the last 3 episodes decide


def test_success_schedule_window_slides_over_partial_credit():
    s = SuccessSchedule([1, 2], promote=0.8, demote=0.0, window=4)
    s.update([0.0, 1.0, 1.0, 1.0])  # 0.75: stay
    assert s.level == 1
    s.update([0.9])  # last four: 1, 1, 1, 0.9 -> 0.975
    assert s.level == 2


def test_success_schedule_state_round_trip():
    a = SuccessSchedule([1, 2, 3], window=6)
    a.update([1, 1, 1, 1, 1, 1, 1, 0])
    b = SuccessSchedule([1, 2, 3], window=6)
    b.load_state_dict(a.state_dict())
    assert (b.level, b.success_rate, b.changes) == (a.level, a.success_rate, a.changes)
    for r in ([1, 1, 1, 1], [0] * 6):
        assert a.update(r) == b.update(r)


@pytest.mark.parametrize("kwargs, match", [
    ({"levels": []}, "non-empty"),
    ({"levels": [1, 1]}, "distinct"),
    ({"levels": [1, 2], "promote": 0.2, "demote": 0.5}, "demote < promote"),
    ({"levels": [1, 2], "window": 0}, "window"),
    ({"levels": [1, 2], "start": 3}, "start"),
])
def test_success_schedule_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SuccessSchedule(**kwargs)


def test_success_schedule_rejects_rewards_outside_unit_interval():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        SuccessSchedule([1, 2]).update([1.5])


# ----- env difficulty options --------------------------------------------------------------


def test_arithmetic_per_reset_difficulty_and_info():
    env = gym.make("sppo_gym/Arithmetic-v0")
    _, info = env.reset(seed=0)
    assert info["difficulty"] == 1
    for level in (3, 5, 7):
        _, info = env.reset(seed=1, options={"difficulty": level})
        assert info["difficulty"] == level
    # (difficulty, index) names a problem exactly
    a, info = env.reset(options={"difficulty": 4, "index": 11})
    b, _ = gym.make("sppo_gym/Arithmetic-v0", difficulty=4).reset(options={"index": 11})
    assert a == b and info["index"] == 11 and info["task_id"].startswith("arithmetic-d4/")


def test_arithmetic_mixed_levels_draw_every_level_and_map_indices():
    env = gym.make("sppo_gym/Arithmetic-v0", difficulty=[1, 2, 3])
    env.reset(seed=0)
    counts = collections.Counter(env.reset()[1]["difficulty"] for _ in range(300))
    assert set(counts) == {1, 2, 3} and min(counts.values()) > 60
    by_index = [env.reset(options={"index": i})[1] for i in range(6)]
    assert [i["difficulty"] for i in by_index] == [1, 2, 3, 1, 2, 3]
    assert [i["index"] for i in by_index] == [0, 0, 0, 1, 1, 1]
    # the info of a mixed draw reproduces the problem through options
    prompt, info = env.reset(seed=5)
    again, _ = env.reset(options={"difficulty": info["difficulty"], "index": info["index"]})
    assert again == prompt
    _, by_id = env.reset(options={"task_id": info["task_id"]})
    assert by_id["index"] == info["index"] and by_id["difficulty"] == info["difficulty"]


def test_held_out_split_stays_disjoint_per_level():
    env = gym.make("sppo_gym/Arithmetic-v0", split="test", difficulty=[2, 3])
    for level in (2, 3, 6):
        for i in range(15):
            prompt, _ = env.reset(options={"difficulty": level, "index": i})
            assert arithmetic.in_test_split(prompt.split("\n")[0]), (level, prompt)
    train = gym.make("sppo_gym/Arithmetic-v0")
    for i in range(15):
        prompt, _ = train.reset(options={"difficulty": 3, "index": i})
        assert not arithmetic.in_test_split(prompt.split("\n")[0])


@pytest.mark.parametrize("make_kwargs, options, match", [
    ({"difficulty": 0}, None, "difficulty must be an int from 1 to 7"),
    ({"difficulty": "2"}, None, "difficulty must be an int"),
    ({"difficulty": [1, 1]}, None, "repeats a level"),
    ({"difficulty": []}, None, "non-empty list"),
    ({}, {"difficulty": 8}, "difficulty must be an int from 1 to 7"),
    ({}, {"difficulty": True}, "difficulty must be an int"),
])
def test_bad_difficulty_values_are_clear_errors(make_kwargs, options, match):
    with pytest.raises(ValueError, match=match):
        gym.make("sppo_gym/Arithmetic-v0", **make_kwargs).reset(options=options)


def test_env_without_levels_rejects_a_difficulty_option():
    env = gym.make("sppo_gym/MathAnswer-v0")
    with pytest.raises(ValueError, match="no difficulty levels"):
        env.reset(options={"difficulty": 2})


def test_vector_env_takes_one_level_per_sub_env():
    envs = gym.make_vec("sppo_gym/Arithmetic-v0", num_envs=4)
    _, infos = envs.reset(seed=3, options={"difficulty": [5, 1, 7, 1], "index": [0, 0, 0, 2]})
    assert list(infos["difficulty"]) == [5, 1, 7, 1] and list(infos["index"]) == [0, 0, 0, 2]
    _, infos = envs.reset(seed=3, options={"difficulty": 6})
    assert list(infos["difficulty"]) == [6] * 4
    with pytest.raises(ValueError, match="one entry per sub-env"):
        envs.reset(options={"difficulty": [1, 2]})


def test_coq_levels_within_the_family_filter():
    env = gym.make("sppo_gym/CoqProof-v0", family="nat", difficulty=[1, 2])
    _, info = env.reset(seed=0)
    assert info["difficulty"] in (1, 2) and info["task_id"].startswith("nat")
    for level in (1, 3, 5):  # any level of the family, not only the make-time filter
        _, info = env.reset(options={"difficulty": level, "index": 0})
        assert info["difficulty"] == level and info["task_id"].startswith("nat")
    with pytest.raises(ValueError, match="from 1 to 5"):
        env.reset(options={"difficulty": 6})


def test_reasoning_gym_curriculum_levels():
    env = gym.make("sppo_gym/ReasoningGym-v0", task="basic_arithmetic", difficulty=[1, 5])
    infos = [env.reset(options={"index": i})[1] for i in range(4)]
    assert [i["difficulty"] for i in infos] == [1, 5, 1, 5]
    easy, _ = env.reset(options={"difficulty": 1, "index": 0})
    assert easy.count(" + ") + easy.count(" - ") + easy.count(" * ") + easy.count(" / ") <= 1  # two terms
    plain = gym.make("sppo_gym/ReasoningGym-v0", task="basic_arithmetic")
    assert "difficulty" not in plain.reset(seed=0)[1]
    _, info = plain.reset(options={"difficulty": 3})
    assert info["difficulty"] == 3
    with pytest.raises(ValueError, match="sets \\['max_terms'\\]"):
        gym.make("sppo_gym/ReasoningGym-v0", task="basic_arithmetic", difficulty=2, max_terms=3)


@pytest.mark.docker
def test_mixed_levels_are_scored_through_the_sandbox():
    envs = gym.make_vec("sppo_gym/Arithmetic-v0", num_envs=6, difficulty=[1, 4, 5])
    _, infos = envs.reset(seed=0, options={"difficulty": [1, 4, 5, 1, 4, 5]})
    answers = [f"Answer: {a}" for a in infos["answer"]]
    answers[-1] = "Answer: 123456789"
    _, rewards, _, _, out = envs.step(answers)
    assert list(rewards) == [1.0] * 5 + [0.0], out["verdict"]
    assert list(out["difficulty"]) == [1, 4, 5, 1, 4, 5]
    envs.close()

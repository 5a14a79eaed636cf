"""The env layer itself: spaces, seeding, options, info, problem sources, the vector env.

Uses register_task with in-process callable verifiers, so nothing here needs Docker.
"""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import ResetNeeded
from gymnasium.utils.env_checker import check_env
from sppo_gym.envs import register_task
from sppo_gym.envs.base import UnicodeText
from sppo_gym.envs.problems import ProceduralSource, as_source, item_rng
from sppo_gym.verifiers import Score

ROWS = [{"task_id": f"t{i}", "q": f"What is {i} + {i}? Ünïcödé ∑ 😀", "answer": str(2 * i)} for i in range(50)]


def exact(response: str, problem: dict) -> float:
    return float(response.strip() == problem["answer"])


def addition(rng: np.random.Generator) -> dict:
    a, b = (int(x) for x in rng.integers(0, 1000, size=2))
    return {"q": f"{a} + {b} = ?", "answer": str(a + b)}


register_task("test_envs/List-v0", problems=ROWS, prompt="{q}", verifier=exact)
register_task("test_envs/Proc-v0", problems=addition, prompt="Compute {q}", verifier=exact)


@pytest.mark.parametrize("env_id", ["test_envs/List-v0", "test_envs/Proc-v0"])
def test_check_env(env_id):
    env = gym.make(env_id)
    check_env(env.unwrapped)
    env.close()


def test_unicode_text_space():
    space = UnicodeText(100, min_length=1)
    assert space.contains("naïve ∑ 中文 😀\n\t{}")
    assert not space.contains("")
    assert not space.contains("x" * 101)
    assert not space.contains("\ud800")  # lone surrogate: not encodable text
    assert not space.contains(b"bytes")
    space.seed(0)
    samples = [space.sample() for _ in range(20)]
    assert all(space.contains(s) for s in samples)
    assert not gym.spaces.Text(100).contains("naïve ∑")  # the trap this space avoids


def test_step_reward_info_and_episode_end():
    env = gym.make("test_envs/List-v0")
    obs, info = env.reset(options={"task_id": "t7"})
    assert obs == ROWS[7]["q"] and env.observation_space.contains(obs)
    assert info["task_id"] == "t7" and info["index"] == 7 and info["answer"] == "14"
    assert set(info["versions"]) == {"sppo_gym", "verifier", "dataset"}
    obs2, reward, terminated, truncated, info = env.step(" 14 ")
    assert (obs2, reward, terminated, truncated) == (obs, 1.0, True, False)
    assert info["verdict"] == "correct" and info["passed"] is True and info["task_id"] == "t7"
    assert isinstance(info["verify_s"], float) and isinstance(info["detail"], str)
    with pytest.raises(ResetNeeded):
        env.step("14")
    env.reset(options={"index": 3})
    assert env.step("7")[1] == 0.0


def test_non_str_action_raises_and_long_response_scored():
    env = gym.make("test_envs/List-v0", max_response_chars=10)
    env.reset(seed=0)
    with pytest.raises(TypeError, match="str"):
        env.step(14)
    _, reward, terminated, _, info = env.step("1" * 11)
    assert (reward, terminated, info["verdict"]) == (0.0, True, "response_too_long")
    env.reset(seed=0)
    assert env.step("\ud800")[4]["verdict"] == "invalid_response"


def test_seeded_reset_determinism():
    for env_id in ("test_envs/List-v0", "test_envs/Proc-v0"):
        a, b = gym.make(env_id), gym.make(env_id)
        seq_a = [a.reset(seed=5)[0]] + [a.reset()[0] for _ in range(5)]
        seq_b = [b.reset(seed=5)[0]] + [b.reset()[0] for _ in range(5)]
        assert seq_a == seq_b
        assert len(set(seq_a)) > 1
        assert a.reset(seed=6)[0] != seq_a[0] or a.reset(seed=7)[0] != seq_a[0]


def test_options_select_and_errors():
    env = gym.make("test_envs/List-v0")
    assert env.reset(options={"index": np.int64(4)})[1]["task_id"] == "t4"
    with pytest.raises(IndexError, match="out of range"):
        env.reset(options={"index": 50})
    with pytest.raises(ValueError, match="task_id"):
        env.reset(options={"task_id": "nope"})
    with pytest.raises(ValueError, match="unknown reset option"):
        env.reset(options={"idx": 1})
    with pytest.raises(TypeError, match="vector env"):
        env.reset(options={"index": [1, 2]})


def test_procedural_items_are_random_access_and_seed_independent():
    src = ProceduralSource(addition, seed=3)
    assert src[10] == src[10] == addition(item_rng(3, "train", 10))
    assert src.index_of(src.task_id(12345)) == 12345
    # neighbouring seeds must not produce shifted copies of each other (the seed + index trap)
    a = [ProceduralSource(addition, seed=0)[i]["q"] for i in range(1, 200)]
    b = [ProceduralSource(addition, seed=1)[i]["q"] for i in range(0, 199)]
    assert sum(x == y for x, y in zip(a, b, strict=True)) < 5
    assert ProceduralSource(addition, seed=0, split="test")[0] != ProceduralSource(addition, seed=0)[0]
    env = gym.make("test_envs/Proc-v0", dataset_seed=9)
    obs, info = env.reset(options={"index": 42})
    assert obs == "Compute " + ProceduralSource(addition, seed=9)[42]["q"]
    assert env.reset(options={"task_id": info["task_id"]})[0] == obs


def test_jsonl_and_datasets_files(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in ROWS[:5]) + "\n")
    src = as_source(path)
    assert len(src) == 5 and src[2] == ROWS[2] and src.task_id(2) == "t2"
    path2 = tmp_path / "rows2.jsonl"
    path2.write_text("\n".join(json.dumps(r) for r in ROWS[:4]))
    assert as_source(path2).fingerprint != src.fingerprint
    import datasets  # the [test] extra installs it (CSV and Parquet files load through it)
    csv = tmp_path / "rows.csv"
    datasets.Dataset.from_list(ROWS[:6]).to_csv(str(csv))
    src_csv = as_source(csv)
    assert len(src_csv) == 6 and src_csv[5]["answer"] in ("10", 10)
    parquet = tmp_path / "rows.parquet"
    datasets.Dataset.from_list(ROWS[:3]).to_parquet(str(parquet))
    assert as_source(parquet)[1] == ROWS[1]


def test_vector_env_shapes_options_and_batch():
    envs = gym.make_vec("test_envs/List-v0", num_envs=4)
    assert envs.unwrapped.__class__.__name__ == "SingleStepVectorEnv"
    obs, infos = envs.reset(seed=0, options={"index": [0, 1, 1, None]})
    assert isinstance(obs, tuple) and len(obs) == 4 and obs[:3] == (ROWS[0]["q"], ROWS[1]["q"], ROWS[1]["q"])
    assert envs.observation_space.contains(obs)
    assert list(infos["task_id"][:3]) == ["t0", "t1", "t1"] and infos["answer"].shape == (4,)
    _, rewards, term, trunc, infos = envs.step(["0", "2", "3", "x"])
    assert rewards.dtype == np.float64 and rewards.tolist() == [1.0, 1.0, 0.0, 0.0]
    assert term.all() and not trunc.any()
    assert infos["verdict"].tolist() == ["correct", "correct", "wrong", "wrong"]
    assert infos["passed"].dtype == bool and infos["_verdict"].all()
    with pytest.raises(ResetNeeded):
        envs.step(["0"] * 4)
    obs, infos = envs.reset(options={"task_id": ["t9", "t8", "t7", "t6"]})
    assert obs == tuple(ROWS[i]["q"] for i in (9, 8, 7, 6))
    with pytest.raises(ValueError, match="one entry per sub-env"):
        envs.reset(options={"index": [1, 2]})
    with pytest.raises(TypeError, match=r"actions\[1\]"):
        envs.step(["a", 2, "b", "c"])
    with pytest.raises(ValueError, match="3 actions"):
        envs.step(["a", "b", "c"])


def test_vector_seeding_and_reset_mask():
    a = gym.make_vec("test_envs/Proc-v0", num_envs=3)
    b = gym.make_vec("test_envs/Proc-v0", num_envs=3)
    assert a.reset(seed=1)[0] == b.reset(seed=1)[0]
    assert len(set(a.reset(seed=1)[0])) == 3
    assert a.reset(seed=1)[0][1:] != a.reset(seed=2)[0][:2]  # no shifted overlap between neighbouring seeds
    single = gym.make("test_envs/Proc-v0")
    assert a.reset(seed=[7, 8, 9])[0][1] == single.reset(seed=8)[0]
    before, _ = a.reset(seed=1)
    after, infos = a.reset(options={"reset_mask": np.array([False, True, False])})
    assert after[0] == before[0] and after[2] == before[2]
    assert infos["_task_id"].tolist() == [False, True, False]


def test_vector_same_step_autoreset():
    envs = gym.make_vec("test_envs/List-v0", num_envs=2, autoreset_mode="same_step")
    assert envs.metadata["autoreset_mode"] == gym.vector.AutoresetMode.SAME_STEP
    obs, _ = envs.reset(seed=3, options={"index": [2, 5]})
    new_obs, rewards, term, _, infos = envs.step(["4", "0"])
    assert rewards.tolist() == [1.0, 0.0] and term.all()
    assert infos["final_info"]["verdict"].tolist() == ["correct", "wrong"]
    assert tuple(infos["final_obs"]) == obs
    assert all(o in {r["q"] for r in ROWS} for o in new_obs)
    assert infos["task_id"].tolist() == [ROWS[int(i)]["task_id"] for i in infos["index"]]
    envs.step(["x", "y"])  # no reset needed between steps


def test_sync_vectorization_mode():
    envs = gym.make_vec("test_envs/List-v0", num_envs=2, vectorization_mode="sync")
    assert isinstance(envs, gym.vector.SyncVectorEnv)
    obs, _ = envs.reset(seed=[0, 1], options={"index": 6})  # sync: the same options for every sub-env
    assert obs == (ROWS[6]["q"], ROWS[6]["q"])
    _, rewards, term, _, infos = envs.step(["12", "11"])
    assert rewards.tolist() == [1.0, 0.0] and term.all() and infos["verdict"].tolist() == ["correct", "wrong"]
    # NEXT_STEP trap: without a reset, the next step only resets; resetting before each step avoids it
    obs, _ = envs.reset(options={"index": 1})
    assert envs.step(["2", "2"])[1].tolist() == [1.0, 1.0]


def test_sandbox_error_passes_through_unchanged():
    """The env layer never rewrites a verdict: trainers must be able to drop sandbox_error samples."""
    def infra_down(response: str, problem: dict) -> Score:
        return Score(0.0, "sandbox_error", detail="engine unreachable")

    register_task("test_envs/Infra-v0", problems=ROWS[:2], prompt="{q}", verifier=infra_down)
    env = gym.make("test_envs/Infra-v0")
    env.reset(seed=0)
    _, reward, _, _, info = env.step("2")
    assert (reward, info["verdict"], info["passed"], info["detail"]) == (0.0, "sandbox_error", False,
                                                                        "engine unreachable")
    envs = gym.make_vec("test_envs/Infra-v0", num_envs=2)
    envs.reset(seed=0)
    infos = envs.step(["0", "2"])[4]
    assert (infos["verdict"] != "sandbox_error").tolist() == [False, False]

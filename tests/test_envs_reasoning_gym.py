"""ReasoningGym-v0: task config, clear errors, and reference answers scoring 1 through the sandbox."""

from __future__ import annotations

import base64
import pickle

import gymnasium as gym
import numpy as np
import pytest
import sppo_gym.envs  # noqa: F401  (registers the ids)
from sppo_gym.envs.reasoning_gym_env import PROMPT_SUFFIX, TaskItems, task_names
from sppo_gym.sandbox import Limits
from sppo_gym.verifiers.reasoning_gym.verifier import ReasoningGymVerifier

#: Tasks whose entries carry no reference answer (their scorers check a solution), need extra
#: config (composite), or take seconds per item (arc_agi loads its corpus, knight_swap searches).
SKIP = {"boxnet", "graph_color", "propositional_logic", "rubiks_cube", "rush_hour", "composite", "arc_agi",
        "knight_swap"}


#: Sandbox wall time per verification: generous, so a loaded CI machine does not turn into timeouts.
SLOW_MACHINE_S = 60.0


def sample_tasks() -> list[str]:
    """Every third eligible task: a fixed sample of about 30 across all categories."""
    eligible = [t for t in task_names() if t not in SKIP]
    return eligible[::3]


def test_prompt_config_and_determinism():
    env = gym.make("sppo_gym/ReasoningGym-v0", task="basic_arithmetic", min_terms=2, max_terms=2, min_digits=1,
                   max_digits=1, operators=["+"])
    obs, info = env.reset(seed=1)
    assert obs.endswith(PROMPT_SUFFIX) and "<answer>" in obs and str(info["answer"]) not in PROMPT_SUFFIX
    assert obs.count("+") >= 1 and info["task_id"].startswith("reasoning_gym/basic_arithmetic/train/0/")
    again = gym.make("sppo_gym/ReasoningGym-v0", task="basic_arithmetic", min_terms=2, max_terms=2, min_digits=1,
                     max_digits=1, operators=["+"])
    assert again.reset(seed=1)[0] == obs
    assert again.reset(options={"task_id": info["task_id"]})[0] == obs
    other = gym.make("sppo_gym/ReasoningGym-v0", task="basic_arithmetic", dataset_seed=1)
    assert other.unwrapped.versions()["dataset"] != env.unwrapped.versions()["dataset"]


@pytest.mark.parametrize("task", ["propositional_logic", "graph_color"])
def test_answer_is_none_for_tasks_without_a_unique_answer(task):
    """Their scorer checks the reply against the puzzle: info["answer"] is None (not the string 'None')."""
    _, info = gym.make("sppo_gym/ReasoningGym-v0", task=task).reset(seed=0)
    assert info["answer"] is None
    envs = gym.make_vec("sppo_gym/ReasoningGym-v0", num_envs=2, task=task)
    _, infos = envs.reset(seed=0)
    assert list(infos["answer"]) == [None, None]
    envs.close()


def test_items_are_hashed_not_seed_plus_index():
    gen = TaskItems("basic_arithmetic", {})
    seeds = {gen(np.random.default_rng(i))["seed"] for i in range(50)}
    assert len(seeds) == 50  # every item its own reasoning-gym seed
    item = gen(np.random.default_rng(0))
    entry = pickle.loads(base64.b64decode(item["entry"]))  # the exact entry goes to the scorer
    assert (entry["question"], entry["answer"]) == (item["question"], item["answer"])


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"task": "basic_arithmetc"}, ValueError, "did you mean.*basic_arithmetic"),
    ({"task": "basic_arithmetic", "max_termz": 3}, TypeError, r"unknown config field.*max_termz.*max_terms"),
    ({"task": "basic_arithmetic", "seed": 3}, ValueError, "dataset_seed"),
    ({"task": "basic_arithmetic", "min_terms": 5, "max_terms": 2}, ValueError, "invalid config"),
])
def test_bad_task_or_config(kwargs, error, message):
    with pytest.raises(error, match=message):
        gym.make("sppo_gym/ReasoningGym-v0", **kwargs)


@pytest.mark.docker
def test_reference_answers_score_one(sandbox_pool):
    tasks = sample_tasks()
    assert len(tasks) >= 20
    problems = [TaskItems(t, {})(np.random.default_rng(7)) for t in tasks]
    verifier = ReasoningGymVerifier(limits=Limits(wall_s=SLOW_MACHINE_S))
    scores = verifier.verify_batch([(f"Reasoning...\n<answer>{p['answer']}</answer>", p) for p in problems])
    failed = {t: (s.verdict, s.detail) for t, s in zip(tasks, scores, strict=True) if s.reward != 1.0}
    assert not failed, failed


@pytest.mark.docker
def test_vector_batch_verdicts(sandbox_pool):
    envs = gym.make_vec("sppo_gym/ReasoningGym-v0", num_envs=4, task="basic_arithmetic", timeout_s=SLOW_MACHINE_S)
    _, infos = envs.reset(seed=0, options={"index": [3, 3, 3, 3]})
    gold = infos["answer"][0]
    responses = [f"<answer>{gold}</answer>", "<answer>-123456789</answer>", f"The answer is {gold}",
                 f"<answer>{gold}</answer> <answer>0.5</answer>"]  # the last span counts
    _, rewards, _, _, infos = envs.step(responses)
    assert infos["verdict"].tolist() == ["correct", "wrong", "no_answer", "wrong"], infos["detail"]
    assert rewards.tolist() == [1.0, 0.0, 0.0, 0.0]


@pytest.mark.docker
def test_partial_credit_switch(sandbox_pool):
    # the base scorer gives len(gold)/len(answer) when the gold string is inside a longer answer:
    # a hedge earns nothing by default, a fraction only when partial credit is asked for
    kwargs = {"task": "letter_counting", "timeout_s": SLOW_MACHINE_S}
    env = gym.make("sppo_gym/ReasoningGym-v0", **kwargs)
    _, info = env.reset(seed=2)
    hedge = f"<answer>{info['answer']} 99</answer>"
    lenient = gym.make("sppo_gym/ReasoningGym-v0", partial_credit=True, **kwargs)
    lenient.reset(seed=2)
    (r_default, i_default), r_lenient = env.step(hedge)[1::3], lenient.step(hedge)[1]
    assert r_default == 0.0 and i_default["verdict"] == "wrong" and 0.0 < r_lenient < 1.0

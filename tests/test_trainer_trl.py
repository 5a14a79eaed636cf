"""The TRL adapter: our envs as a GRPOTrainer dataset + reward function."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import pytest
from sppo_gym.envs import register_task
from sppo_gym.envs.trl_adapter import EnvReward, trl_dataset, trl_task
from sppo_gym.verifiers import Score

CAPITALS = "trainer_test/Capitals-v0"
PROBLEMS = [
    {"task_id": "fr", "country": "France", "answer": "Paris"},
    {"task_id": "it", "country": "Italy", "answer": "Rome"},
    {"task_id": "xx", "country": "Atlantis", "answer": "?"},
]


def _verify(response: str, problem: dict):
    if problem["task_id"] == "xx":
        return Score(0.0, "sandbox_error", detail="simulated pool failure")
    return float(response.strip() == problem["answer"])


if CAPITALS not in gym.registry:
    register_task(CAPITALS, problems=PROBLEMS, verifier=_verify, prompt="Capital of {country}?")

HALF_BROKEN = "trainer_test/HalfBroken-v0"


def _always_right_or_broken(response: str, problem: dict):
    """Every answer to problem "ok" earns 1.0; every answer to "xx" hits a (simulated) sandbox failure."""
    if problem["task_id"] == "xx":
        return Score(0.0, "sandbox_error", detail="simulated pool failure")
    return 1.0


if HALF_BROKEN not in gym.registry:
    register_task(HALF_BROKEN, problems=[{"task_id": "ok", "q": "anything"}, {"task_id": "xx", "q": "broken"}],
                  verifier=_always_right_or_broken, prompt="Say {q}")


def test_dataset_holds_chat_prompts_and_task_ids():
    ds = trl_dataset(CAPITALS)
    assert ds["task_id"] == ["fr", "it", "xx"]
    assert ds[0]["prompt"] == [{"role": "user", "content": "Capital of France?"}]
    assert trl_dataset(CAPITALS, 2, conversational=False)["prompt"] == ["Capital of France?", "Capital of Italy?"]
    with pytest.raises(ValueError, match="has 3 problems"):
        trl_dataset(CAPITALS, 5)


def test_procedural_env_needs_n_and_is_seeded():
    with pytest.raises(ValueError, match="procedural"):
        trl_dataset("sppo_gym/Arithmetic-v0")
    a = trl_dataset("sppo_gym/Arithmetic-v0", 4, seed=1)
    assert a["task_id"] == trl_dataset("sppo_gym/Arithmetic-v0", 4, seed=1)["task_id"]
    assert len(set(a["task_id"])) == 4


def test_reward_scores_in_trl_call_convention_and_drops_sandbox_errors():
    reward = EnvReward(CAPITALS)
    completions = [[{"role": "assistant", "content": "Paris"}], [{"role": "assistant", "content": "Milan"}],
                   [{"role": "assistant", "content": "Paris"}]]
    out = reward(prompts=[None] * 3, completions=completions, task_id=["fr", "it", "xx"], trainer_state=None)
    assert out == [1.0, 0.0, None]  # None: TRL skips it instead of learning from a fake 0
    assert reward(completions=["Rome"], task_id=["it"]) == [1.0]
    assert reward.sandbox_errors == 1
    with pytest.raises(ValueError, match="task_id"):
        reward(completions=["Rome"], task_id=[])
    reward.close()


def test_trl_grpo_trainer_leaves_sandbox_errors_out_of_the_reward(tmp_path):
    """Each step holds one group of problem "ok" (reward 1.0 every time) and one of "xx" (sandbox
    error, None from the adapter). TRL >= 1.6 leaves the None rows out, so the logged mean reward
    is exactly 1.0; a TRL that counts None as 0, or an adapter that returns 0, logs 0.5."""
    from sppo_gym.trainer.models import load_policy
    from trl import GRPOConfig, GRPOTrainer

    model, tok = load_policy("tiny-random")
    dataset, reward = trl_task(HALF_BROKEN)
    assert dataset["task_id"] == ["ok", "xx"]
    args = GRPOConfig(output_dir=str(tmp_path), per_device_train_batch_size=4, num_generations=2, max_steps=2,
                      max_completion_length=4, report_to=[], logging_steps=1, use_cpu=True, save_strategy="no")
    trainer = GRPOTrainer(model=model, processing_class=tok, reward_funcs=reward, train_dataset=dataset, args=args)
    trainer.train()
    logged = [rec for rec in trainer.state.log_history if "reward" in rec]
    assert len(logged) == 2 and reward.sandbox_errors == 2 * 2  # both steps scored an "xx" group of 2
    assert [rec["reward"] for rec in logged] == [1.0, 1.0]
    assert all(rec[f"rewards/{reward.__name__}/mean"] == 1.0 for rec in logged)
    reward.close()


def test_gpu_throughput_script_stops_every_leg_at_its_step_count(tmp_path):
    """The benchmarks' wall-clock callback once reset the stop flag that TRL sets at max_steps:
    with no wall-clock budget, TRL's leg then trained through the whole dataset."""
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_throughput.py"
    cmd = [sys.executable, str(script), "--hidden", "32", "--layers", "1", "--heads", "2", "--kv-heads", "1",
           "--intermediate", "64", "--vocab", "256", "--batch-size", "16", "--max-new-tokens", "4",
           "--steps", "2", "--methods", "trl-grpo", "--out", str(tmp_path)]
    subprocess.run(cmd, check=True, timeout=300, capture_output=True)
    result = json.loads((tmp_path / "trl-grpo" / "result.json").read_text())
    assert result["steps"] == 2

"""End-to-end training runs with the real tiny-random model on in-process tasks (no Docker),
plus one run through the sandboxed Arithmetic env."""

from __future__ import annotations

import csv
import json

import gymnasium as gym
import pytest
from sppo_gym.envs import register_task
from sppo_gym.trainer import train
from sppo_gym.trainer.cli import app
from sppo_gym.trainer.config import load_config
from sppo_gym.verifiers import Score
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from typer.testing import CliRunner

DIGITS = "trainer_test/Digits-v0"
FLAKY = "trainer_test/FlakyDigits-v0"


def _gen(rng):
    return {"d": str(int(rng.integers(10))), "infra_fails": bool(rng.random() < 0.25)}


def digit_share(response: str, problem: dict) -> float:
    """Share of the response's characters that are digits: learnable by a random char-level model."""
    return sum(c.isdigit() for c in response) / max(1, len(response))


FLAKY_SCORED: list[Score] = []  # what the flaky verifier returned, in call order


def flaky_digit_share(response: str, problem: dict) -> Score:
    """Same task, but a quarter of the problems fail 'in the infrastructure' (sandbox_error)."""
    if problem["infra_fails"]:
        score = Score(0.0, "sandbox_error", detail="simulated pool failure")
    else:
        reward = digit_share(response, problem)
        score = Score(reward, "correct" if reward == 1.0 else "wrong" if reward == 0.0 else "partial")
    FLAKY_SCORED.append(score)
    return score


if DIGITS not in gym.registry:
    register_task(DIGITS, problems=_gen, verifier=digit_share, prompt="Write digits like {d}")
    register_task(FLAKY, problems=_gen, verifier=flaky_digit_share, prompt="Write digits like {d}")

TINY = {"model": "tiny-random", "batch_size": 8, "minibatch_size": 4, "micro_batch_size": 2, "max_new_tokens": 6,
        "eval_n": 6, "eval_batch_size": 3, "eval_max_new_tokens": 6, "lr": 1e-3, "progress": False}


def _rows(out):
    with open(out / "metrics.csv") as f:
        return list(csv.DictReader(f))


def test_cli_run_writes_every_artifact(tmp_path):
    # ~1.7 s on top of torch (measured); only this test of the file needs it
    from transformers import AutoModelForCausalLM

    out = tmp_path / "run"
    args = ["train", "--env", DIGITS, "--model", "tiny-random", "--algo", "sppo", "--steps", "2", "--out", str(out)]
    for k, v in TINY.items():
        if k not in ("model", "progress"):
            args += [f"--{k.replace('_', '-')}", str(v)]
    args.append("--no-progress")  # booleans are --flag / --no-flag
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "held-out accuracy" in result.output and "before" in result.output
    rows = _rows(out)
    assert [r["step"] for r in rows] == ["0", "1", "2"]
    assert rows[0]["eval_accuracy"] != "" and rows[2]["eval_accuracy"] != ""
    for col in ("reward_mean", "wall_s", "policy_loss", "value_loss", "clipfrac", "approx_kl", "entropy",
                "response_len", "value_mean", "value_brier"):
        assert rows[2][col] != "", col
    assert (out / "reward.png").stat().st_size > 1000
    assert (out / "checkpoint.pt").exists() and (out / "config.yaml").exists()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 2 and summary["accuracy_after"] is not None
    model = AutoModelForCausalLM.from_pretrained(out / "final")
    assert model.config.vocab_size == 100


def test_sandbox_errors_are_dropped_not_scored(tmp_path):
    """Through register_task's vector env: reward_mean is the mean over what the verifier scored,
    sandbox errors left out (tests/test_trainer_drop.py checks which rows, by batch position)."""
    FLAKY_SCORED.clear()
    cfg = load_config(None, {**TINY, "env": FLAKY, "steps": 1, "batch_size": 16, "minibatch_size": 16,
                             "micro_batch_size": 4, "out": str(tmp_path), "eval_n": 0})
    train(cfg)
    row = _rows(tmp_path)[-1]
    errors = sum(s.verdict == "sandbox_error" for s in FLAKY_SCORED)
    scored = [s.reward for s in FLAKY_SCORED if s.verdict != "sandbox_error"]
    assert 0 < errors < 16 and int(row["sandbox_errors"]) == errors and int(row["samples"]) == 16 - errors
    assert int(row["verdict_sandbox_error"]) == errors
    # responses scored without calling the verifier (e.g. too long) earn 0, so the sum is complete
    assert float(row["reward_mean"]) == pytest.approx(sum(scored) / (16 - errors), rel=1e-5)


@pytest.mark.parametrize("overrides", [
    {"algo": "grpo", "group_size": 4},
    {"algo": "rloo", "group_size": 4},
    {"algo": "ppo"},
    {"algo": "sppo", "ratio": "sequence", "kl_coef": 0.1, "entropy_coef": 0.01},
    {"algo": "sppo", "ratio": "sequence_mean", "critic": "copy", "dual_clip": None},
    {"algo": "sppo", "lora_r": 4, "gradient_checkpointing": True, "critic": "tiny-random"},
])
def test_every_algorithm_and_option_runs(tmp_path, overrides):
    cfg = load_config(None, {**TINY, "env": DIGITS, "steps": 1, "out": str(tmp_path), "eval_n": 0, **overrides})
    train(cfg)
    row = _rows(tmp_path)[-1]
    assert float(row["samples"]) == 8 and row["policy_loss"] != ""
    if cfg.algo in ("sppo", "ppo"):
        assert row["value_loss"] != ""
    assert (tmp_path / "final" / "config.json").exists()


def test_resume_reproduces_metrics_exactly(tmp_path):
    base = {**TINY, "env": DIGITS, "eval_every": 2, "checkpoint_every": 2}
    straight, split = tmp_path / "straight", tmp_path / "split"
    train(load_config(None, {**base, "steps": 4, "out": str(straight)}))
    train(load_config(None, {**base, "steps": 2, "out": str(split)}))
    train(load_config(None, {**base, "steps": 4, "out": str(split)}), resume=True)
    timing = {"wall_s", "gen_s", "update_s", "verify_s"}
    a, b = _rows(straight), _rows(split)
    assert [r["step"] for r in b] == ["0", "1", "2", "3", "4"]
    for ra, rb in zip(a, b, strict=True):
        assert {k: v for k, v in ra.items() if k not in timing} == {k: v for k, v in rb.items() if k not in timing}
    assert float(b[-1]["wall_s"]) > float(b[2]["wall_s"])  # the clock continues from the checkpoint


@pytest.mark.slow
def test_sppo_learns_a_tiny_task(tmp_path):
    cfg = load_config(None, {**TINY, "env": DIGITS, "steps": 40, "batch_size": 16, "minibatch_size": 8,
                             "micro_batch_size": 8, "max_new_tokens": 8, "lr": 3e-3, "out": str(tmp_path),
                             "eval_n": 0})
    train(cfg)
    rewards = [float(r["reward_mean"]) for r in _rows(tmp_path)]
    first, last = sum(rewards[:5]) / 5, sum(rewards[-5:]) / 5
    assert last > first + 0.2, rewards


@pytest.mark.docker
def test_trains_through_the_sandboxed_arithmetic_env(tmp_path):
    cfg = load_config(None, {**TINY, "env": "sppo_gym/Arithmetic-v0", "steps": 1, "out": str(tmp_path),
                             "eval_n": 3, "eval_batch_size": 3})
    summary = train(cfg)
    row = _rows(tmp_path)[-1]
    assert int(row["sandbox_errors"]) == 0 and int(row["samples"]) == 8  # a healthy sandbox scores every sample
    verdicts = {k: int(v) for k, v in row.items() if k.startswith("verdict_")}  # the math verifier's own
    assert sum(verdicts.values()) == 8 and "verdict_sandbox_error" not in verdicts
    assert len(summary["samples"]) == 3 and all(s["before"] and s["after"] for s in summary["samples"])
    # the reported held-out answers score the same when the env judges them again, one by one
    env = gym.make("sppo_gym/Arithmetic-v0", split="test")
    for when in ("before", "after"):
        for s in summary["samples"]:
            prompt, _ = env.reset(options={"index": s["index"]})
            _, reward, _, _, info = env.step(s[when]["response"])
            assert (prompt, reward, info["verdict"]) == (s["prompt"], s[when]["reward"], s[when]["verdict"])
        assert summary[f"accuracy_{when}"] == pytest.approx(sum(s[when]["reward"] for s in summary["samples"]) / 3)
    env.close()


def test_tensorboard_flag_writes_the_metrics_as_event_files(tmp_path):

    out = tmp_path / "run"
    args = ["train", "--env", DIGITS, "--model", "tiny-random", "--steps", "2", "--out", str(out), "--eval-n", "0",
            "--batch-size", "8", "--minibatch-size", "4", "--micro-batch-size", "2", "--max-new-tokens", "6",
            "--tensorboard", "--no-progress"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert list((out / "tb").glob("events.out.tfevents.*"))
    acc = EventAccumulator(str(out / "tb"))
    acc.Reload()
    rows = _rows(out)
    for tag in ("reward_mean", "policy_loss", "approx_kl", "value_loss", "samples"):
        events = acc.Scalars(tag)
        assert [e.step for e in events] == [1, 2], tag
        assert [e.value for e in events] == pytest.approx([float(r[tag]) for r in rows], rel=1e-4), tag

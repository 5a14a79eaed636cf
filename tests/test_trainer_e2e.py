"""End-to-end training runs with the real tiny-random model on in-process tasks (no Docker),
plus one run through the sandboxed Arithmetic env."""

from __future__ import annotations

import csv
import json

import gymnasium as gym
import pytest
from sppo_gym.envs import register_task
from sppo_gym.trainer.config import load_config
from sppo_gym.trainer.loop import train
from sppo_gym.verifiers import Score
from typer.testing import CliRunner

DIGITS = "trainer_test/Digits-v0"
FLAKY = "trainer_test/FlakyDigits-v0"


def _gen(rng):
    return {"d": str(int(rng.integers(10))), "infra_fails": bool(rng.random() < 0.25)}


def digit_share(response: str, problem: dict) -> float:
    """Share of the response's characters that are digits: learnable by a random char-level model."""
    return sum(c.isdigit() for c in response) / max(1, len(response))


def flaky_digit_share(response: str, problem: dict):
    """Same task, but a quarter of the problems fail 'in the infrastructure' (sandbox_error)."""
    if problem["infra_fails"]:
        return Score(0.0, "sandbox_error", detail="simulated pool failure")
    return digit_share(response, problem)


if DIGITS not in gym.registry:
    register_task(DIGITS, problems=_gen, verifier=digit_share, prompt="Write digits like {d}")
    register_task(FLAKY, problems=_gen, verifier=flaky_digit_share, prompt="Write digits like {d}")

TINY = {"model": "tiny-random", "batch_size": 8, "minibatch_size": 4, "micro_batch_size": 2, "max_new_tokens": 6,
        "eval_n": 6, "eval_batch_size": 3, "eval_max_new_tokens": 6, "lr": 1e-3, "progress": False}


def _rows(out):
    with open(out / "metrics.csv") as f:
        return list(csv.DictReader(f))


def test_cli_run_writes_every_artifact(tmp_path):
    from sppo_gym.trainer.cli import app
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
    cfg = load_config(None, {**TINY, "env": FLAKY, "steps": 2, "batch_size": 16, "minibatch_size": 16,
                             "micro_batch_size": 4, "out": str(tmp_path), "eval_n": 0})
    train(cfg)
    rows = _rows(tmp_path)
    errors = sum(int(r["sandbox_errors"]) for r in rows)
    samples = sum(int(r["samples"]) for r in rows)
    assert errors > 0
    assert errors + samples == 2 * 16


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
    assert summary["accuracy_before"] is not None
    row = _rows(tmp_path)[-1]
    assert int(row["samples"]) + int(row["sandbox_errors"]) == 8
    verdicts = {k: int(v) for k, v in row.items() if k.startswith("verdict_")}  # the math verifier's own
    assert sum(verdicts.values()) == 8 and int(row.get("verdict_sandbox_error") or 0) == int(row["sandbox_errors"])
    assert len(summary["samples"]) == 3 and all(s["before"] and s["after"] for s in summary["samples"])


def test_tensorboard_scalars(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train(load_config(None, {**TINY, "env": DIGITS, "steps": 1, "out": str(tmp_path), "eval_n": 0,
                             "tensorboard": True}))
    acc = EventAccumulator(str(tmp_path / "tb"))
    acc.Reload()
    assert {"reward_mean", "policy_loss", "approx_kl"} <= set(acc.Tags()["scalars"])

"""What a run learned, in its outputs: verdict counts per step in metrics.csv, and held-out answers
before and after training (printed, and saved in samples.json / summary.json). Real tiny-random
model, real registered env whose verifier returns several verdicts."""

from __future__ import annotations

import csv
import json

import gymnasium as gym
from sppo_gym.envs import register_task
from sppo_gym.trainer.cli import app
from sppo_gym.trainer.config import load_config
from sppo_gym.trainer.loop import train
from sppo_gym.trainer.metrics import COLUMNS, MetricsLog
from sppo_gym.verifiers import Score
from typer.testing import CliRunner

ENV = "trainer_test/VerdictDigits-v0"


def digits_verdict(response: str, problem: dict) -> Score:
    """Three outcomes a random char-level model hits: no digit at all, some digits, mostly digits."""
    share = sum(c.isdigit() for c in response) / max(1, len(response))
    if share == 0:
        return Score(0.0, "no_answer")
    return Score(1.0, "correct", passed=True) if share >= 0.5 else Score(share, "partial")


if ENV not in gym.registry:
    register_task(ENV, problems=lambda rng: {"d": str(int(rng.integers(10)))}, verifier=digits_verdict,
                  prompt="Write digits like {d}")

TINY = {"model": "tiny-random", "batch_size": 8, "minibatch_size": 4, "micro_batch_size": 2, "max_new_tokens": 6,
        "eval_n": 7, "eval_batch_size": 3, "eval_max_new_tokens": 6, "lr": 1e-3, "progress": False}


def _read(out):
    with open(out / "metrics.csv") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or ()), list(reader)


def test_metrics_count_verdicts_per_step_and_per_evaluation(tmp_path):
    cfg = load_config(None, {**TINY, "env": ENV, "steps": 3, "eval_every": 2, "out": str(tmp_path)})
    train(cfg)
    header, rows = _read(tmp_path)
    train_cols = [c for c in header if c.startswith("verdict_")]
    eval_cols = [c for c in header if c.startswith("eval_verdict_")]
    assert header[: len(COLUMNS)] == list(COLUMNS)
    assert set(train_cols) <= {"verdict_correct", "verdict_partial", "verdict_no_answer"} and train_cols
    assert eval_cols and all(len(r) == len(header) for r in rows)  # rectangular
    assert [r["step"] for r in rows] == ["0", "1", "2", "3"]
    assert all(r[c] == "" for c in train_cols for r in rows[:1])  # step 0 is an evaluation only
    for r in rows[1:]:
        assert sum(int(r[c]) for c in train_cols) == cfg.batch_size
    for r in (rows[0], rows[2], rows[3]):  # before, eval_every=2, after
        assert sum(int(r[c]) for c in eval_cols) == cfg.eval_n
    assert all(r[c] == "" for c in eval_cols for r in rows[1:2])  # step 1: no evaluation
    # the counts are the env's own verdicts: the no-digit outcome is counted, not dropped
    assert sum(int(r[c]) for r in rows[1:] for c in train_cols if c != "verdict_correct") > 0


def test_verdict_columns_widen_and_the_csv_stays_rectangular(tmp_path):
    log = MetricsLog(tmp_path)
    log.write({"step": 0, "eval_accuracy": 0.5, "eval_verdict_wrong": 2})
    log.write({"step": 1, "reward_mean": 0.0, "verdict_wrong": 4})
    log.write({"step": 2, "reward_mean": 0.5, "verdict_correct": 2, "verdict_restated": 1, "verdict_wrong": 1})
    header, rows = _read(tmp_path)
    assert header[len(COLUMNS):] == ["verdict_correct", "verdict_restated", "verdict_wrong", "eval_verdict_wrong"]
    assert [(r["verdict_correct"], r["verdict_restated"], r["verdict_wrong"]) for r in rows] == [
        ("", "", ""), ("0", "0", "4"), ("2", "1", "1")]
    assert [r["eval_verdict_wrong"] for r in rows] == ["2", "", ""]
    resumed = MetricsLog(tmp_path, resume_step=1)  # a resume keeps the columns seen so far
    assert resumed.columns == header
    assert [r["step"] for r in _read(tmp_path)[1]] == ["0", "1"]


def test_cli_prints_and_saves_answers_before_and_after(tmp_path):

    out = tmp_path / "run"
    args = ["train", "--env", ENV, "--steps", "2", "--out", str(out), "--no-progress"]
    for k, v in TINY.items():
        if k != "progress":
            args += [f"--{k.replace('_', '-')}", str(v)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "samples.json").read_text())
    summary = json.loads((out / "summary.json").read_text())
    assert summary["samples"] == saved
    assert [s["index"] for s in saved] == [0, 1, 2, 3, 4]  # the same first problems on both sides
    for s in saved:
        assert s["prompt"].startswith("Write digits like ")
        for when in ("before", "after"):
            assert set(s[when]) == {"response", "verdict", "reward"}
            assert s[when]["verdict"] in {"correct", "partial", "no_answer"}
    assert sum(summary["verdicts_before"].values()) == sum(summary["verdicts_after"].values()) == 7
    lines = result.output.splitlines()
    assert any(line.startswith("held-out verdicts: before ") and " -> after " in line for line in lines)
    head = lines.index("held-out samples (greedy; verdict, reward):")
    shown = lines[head + 1 : head + 1 + 3 * len(saved)]
    for i, s in enumerate(saved):
        assert shown[3 * i].startswith(f"  #{s['index']} Write digits like ")
        for j, when in enumerate(("before", "after"), start=1):
            label, verdict = shown[3 * i + j].split(None, 1)
            assert label == when and verdict.startswith(f"[{s[when]['verdict']}, {s[when]['reward']:g}]")


def test_resume_keeps_the_answers_before_training(tmp_path):
    base = {**TINY, "env": ENV, "checkpoint_every": 1}
    straight, split = tmp_path / "straight", tmp_path / "split"
    train(load_config(None, {**base, "steps": 2, "out": str(straight)}))
    train(load_config(None, {**base, "steps": 1, "out": str(split)}))
    summary = train(load_config(None, {**base, "steps": 2, "out": str(split)}), resume=True)
    expected = json.loads((straight / "samples.json").read_text())
    assert summary["samples"] == expected and expected[0]["before"] is not None

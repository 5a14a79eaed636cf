"""``--resume`` after a crash between two checkpoints reproduces the uninterrupted run exactly:
every metric (timings aside), the held-out evaluations, the final weights and optimiser states.

The crash comes from the env (tests/trainer_crash_env.py) at a known step, after the checkpoint
of an earlier step and after metrics.csv got rows the checkpoint does not cover: an exception in
process for each algorithm and option, and a real SIGKILL of a ``sppo-gym train`` subprocess.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from sppo_gym.trainer import train
from sppo_gym.trainer.config import load_config
from trainer_crash_env import CRASH_VAR, ENV_ID, InjectedCrash

TESTS = Path(__file__).resolve().parent
TIMING = {"wall_s", "gen_s", "update_s", "verify_s"}
BASE = {"model": "tiny-random", "env": ENV_ID, "batch_size": 8, "minibatch_size": 4, "micro_batch_size": 2,
        "max_new_tokens": 6, "lr": 1e-3, "eval_n": 3, "eval_batch_size": 3, "eval_max_new_tokens": 4,
        "eval_every": 2, "checkpoint_every": 2, "steps": 5, "progress": False}
CRASH_AT = 4  # checkpoints at steps 2 and 4: the crash in step 4 leaves step 3 logged but not checkpointed


def _rows(out: Path) -> list[dict[str, str]]:
    with open(out / "metrics.csv") as f:
        return [{k: v for k, v in r.items() if k not in TIMING} for r in csv.DictReader(f)]


def _tensors(obj: Any, prefix: str = "") -> dict[str, torch.Tensor]:
    """Every tensor in a (nested) state dict, by path."""
    if isinstance(obj, torch.Tensor):
        return {prefix: obj}
    if isinstance(obj, dict):
        return {k: v for key, val in obj.items() for k, v in _tensors(val, f"{prefix}/{key}").items()}
    if isinstance(obj, (list, tuple)):
        return {k: v for i, val in enumerate(obj) for k, v in _tensors(val, f"{prefix}/{i}").items()}
    return {}


def assert_same_run(straight: Path, resumed: Path) -> None:
    """Metrics, summary, samples and the final checkpoint's weights and optimiser states agree exactly."""
    a, b = _rows(straight), _rows(resumed)
    assert [r["step"] for r in b] == [str(s) for s in range(BASE["steps"] + 1)]
    assert a == b
    sa, sb = (json.loads((d / "summary.json").read_text()) for d in (straight, resumed))
    sa.pop("train_wall_s"), sb.pop("train_wall_s")
    assert sa == sb
    assert (straight / "samples.json").read_text() == (resumed / "samples.json").read_text()
    ca, cb = (torch.load(d / "checkpoint.pt", map_location="cpu", weights_only=False) for d in (straight, resumed))
    assert ca["step"] == cb["step"] == BASE["steps"]
    for part in ("policy", "opt", "critic", "critic_opt"):
        ta, tb = _tensors(ca[part]), _tensors(cb[part])
        assert ta.keys() == tb.keys(), part
        assert all(torch.equal(ta[k], tb[k]) for k in ta), part


@pytest.mark.parametrize("overrides", [
    pytest.param({}, id="sppo"),
    pytest.param({"algo": "grpo", "group_size": 4}, id="grpo"),
    pytest.param({"algo": "ppo"}, id="ppo"),
    pytest.param({"critic": "copy"}, id="critic-copy"),
    pytest.param({"lora_r": 4}, id="lora"),
    pytest.param({"kl_coef": 0.1}, id="kl"),
])
def test_resume_after_a_crash_between_checkpoints_is_exact(tmp_path, monkeypatch, overrides):
    straight, crashed = tmp_path / "straight", tmp_path / "crashed"
    train(load_config(None, {**BASE, **overrides, "out": str(straight)}))
    cfg = load_config(None, {**BASE, **overrides, "out": str(crashed)})
    monkeypatch.setenv(CRASH_VAR, f"raise:{CRASH_AT}")
    with pytest.raises(InjectedCrash):
        train(cfg)
    monkeypatch.delenv(CRASH_VAR)
    state = torch.load(crashed / "checkpoint.pt", map_location="cpu", weights_only=False)
    assert state["step"] == 2
    assert [r["step"] for r in _rows(crashed)] == ["0", "1", "2", "3"]  # step 3 logged, not checkpointed
    train(cfg, resume=True)
    assert_same_run(straight, crashed)


def _cli(out: Path, *extra: str, crash: str | None = None) -> subprocess.CompletedProcess:
    """``sppo-gym train`` in a fresh process, the env imported by module name as a user would."""
    args = [sys.executable, "-m", "sppo_gym.trainer.cli", "train", "--env", f"trainer_crash_env:{ENV_ID}",
            "--out", str(out), *extra]
    for k, v in BASE.items():
        if k not in ("env", "progress"):
            args += [f"--{k.replace('_', '-')}", str(v)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    env.pop(CRASH_VAR, None)
    if crash:
        env[CRASH_VAR] = crash
    return subprocess.run([*args, "--no-progress"], capture_output=True, text=True, env=env, cwd=out.parent,
                          timeout=300)


@pytest.mark.slow
def test_sigkilled_cli_run_resumes_exactly(tmp_path):
    """A real SIGKILL mid-step: no exception handler, no atexit, whatever was on disk stays."""
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    done = _cli(straight)
    assert done.returncode == 0, done.stderr
    dead = _cli(killed, crash=f"kill:{CRASH_AT}")
    assert dead.returncode == -signal.SIGKILL, dead.stderr
    assert not (killed / "summary.json").exists()
    resumed = _cli(killed, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert_same_run(straight, killed)

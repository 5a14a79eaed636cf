"""Data-parallel training over 2 real processes (gloo on CPU, the tiny-random model): one
distributed update equals one single-process update of the same global batch, a 2-process run
learns the tiny task, and ``--resume`` under 2 processes reproduces the uninterrupted run.

The 2-process runs go through ``sppo-gym train --nproc 2`` (torchrun under the hood) with the
digits env of tests/trainer_crash_env.py, imported by module name as a user's env would be.
"""

from __future__ import annotations

import csv
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.multiprocessing as mp
from sppo_gym.trainer import loop
from sppo_gym.trainer.config import load_config
from sppo_gym.trainer.rollout import Rollout, collect
from trainer_crash_env import ENV_ID

TESTS = Path(__file__).resolve().parent
TIMING = {"wall_s", "gen_s", "update_s", "verify_s"}
BASE = {"model": "tiny-random", "env": ENV_ID, "batch_size": 8, "minibatch_size": 4, "micro_batch_size": 2,
        "max_new_tokens": 6, "lr": 1e-3, "progress": False}
#: metrics that do not depend on how a mini-batch is cut into micro-batches (value_loss, a
#: sequence mean weighted by token shares in the metric, does; its gradient does not)
SPLIT_FREE = ("policy_loss", "entropy", "approx_kl", "clipfrac", "grad_norm", "reward_mean", "response_len",
              "samples", "value_mean", "value_brier", "value_corr")
#: weights may differ by this share of one AdamW step (lr): the summed gradients agree to float
#: rounding (grad_norm to 1e-5), but AdamW's first steps are ~lr * sign(g), and an element whose
#: gradient is near 0 turns rounding into a visible step (seen: 1.1e-6 at lr=1e-3, 1 of 90k weights)
STEP_TOL = 0.01


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def global_batch(run: loop.Run) -> Rollout:
    """The same sampled batch in every process: same weights, same seed, whole groups in order."""
    cfg, g = run.cfg, run.cfg.resolved_group_size()
    prompts = [f"Write digits like {i}" for i in range(cfg.batch_size // g) for _ in range(g)]
    torch.manual_seed(123)
    batch = collect(run.policy, run.tokenizer, prompts, max_prompt_tokens=cfg.max_prompt_tokens,
                    max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature, top_p=cfg.top_p,
                    micro_batch_size=cfg.micro_batch_size, amp=run.amp)
    batch.rewards = torch.tensor([sum(c.isdigit() for c in r) / max(1, len(r)) for r in batch.responses])
    return batch


def _update_worker(rank: int, world: int, port: int, overrides: dict[str, Any], result: str) -> None:
    """One rank: set up, take this rank's rows of the global batch, one distributed update."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    from sppo_gym.trainer.distributed import DataParallel
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    cfg = load_config(None, overrides)
    dp = DataParallel.from_env(cfg)
    try:
        run = loop.setup(cfg, dist=dp)
        with dp.full_weights(run.policy):
            batch = global_batch(run)
        torch.manual_seed(7)  # rank 0 draws the epoch's permutation from here, as one process does
        row = dp.learn(run, batch.select(list(range(len(batch)))[run.rows]))
        full = StateDictOptions(full_state_dict=True, cpu_offload=True)
        policy = get_model_state_dict(run.policy, options=full)
        critic = get_model_state_dict(run.critic, options=full) if run.critic is not None else {}
        if rank == 0:
            torch.save({"row": row, "policy": policy, "critic": critic, "rows": run.rows}, result)
    finally:
        dp.close()


def _single_update(overrides: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """loop.train_step's steps 3.-5. in this process, on the same global batch."""
    run = loop.setup(load_config(None, overrides))
    batch = global_batch(run)
    torch.manual_seed(7)
    values = None
    if run.critic is not None:
        with torch.no_grad():
            values = run.critic(batch)
    adv, returns = loop.advantages(run.cfg.algo, batch.rewards, values, batch.response_mask,
                                   run.cfg.resolved_group_size())
    row = loop.update(run, batch, adv, returns)
    row.update(loop.batch_stats(batch, values, run.critic))
    return row, run


@pytest.mark.parametrize("overrides", [
    pytest.param({"strategy": "ddp"}, id="sppo-ddp"),
    # 3 prompts of 2: rank 0 gets 1 group, rank 1 gets 2 (unequal shares); sharded weights
    pytest.param({"strategy": "fsdp", "algo": "grpo", "group_size": 2, "batch_size": 6, "minibatch_size": 3,
                  "micro_batch_size": 3}, id="grpo-fsdp"),
])
def test_one_distributed_update_equals_one_process(tmp_path, overrides):
    overrides = {**BASE, "eval_n": 0, "out": str(tmp_path / "run"), **overrides}
    result = tmp_path / "rank0.pt"
    mp.start_processes(_update_worker, args=(2, _free_port(), overrides, str(result)), nprocs=2,
                       start_method="spawn")
    got = torch.load(result, weights_only=False)
    want, run = _single_update(overrides)
    assert got["rows"] != slice(None)  # rank 0 really had a share only
    assert want["samples"] == got["row"]["samples"] == overrides["batch_size"]
    for k in SPLIT_FREE:
        assert (k in want) == (k in got["row"]), k
        if k in want:
            assert got["row"][k] == pytest.approx(want[k], rel=1e-5, abs=1e-6), k
    assert set(want) == set(got["row"]) - {"update_s"}
    before = loop.setup(load_config(None, overrides)).policy.state_dict()
    lr, moved = run.cfg.lr, 0
    for name, w in run.policy.state_dict().items():
        torch.testing.assert_close(got["policy"][name], w, rtol=0, atol=STEP_TOL * lr, msg=name)
        moved += not torch.equal(w, before[name])
    assert moved > 0  # the update did change the weights it compares
    for name, w in (run.critic.state_dict() if run.critic is not None else {}).items():
        torch.testing.assert_close(got["critic"][name], w, rtol=0, atol=STEP_TOL * run.cfg.critic_lr, msg=name)


def _cli(out: Path, nproc: int, *extra: str, **overrides: Any) -> subprocess.CompletedProcess:
    """``python -m sppo_gym.trainer train --nproc N`` in a fresh process."""
    args = [sys.executable, "-m", "sppo_gym.trainer", "train", "--nproc", str(nproc), "--out", str(out),
            "--env", f"trainer_crash_env:{ENV_ID}", "--no-progress", *extra]
    for k, v in {**BASE, **overrides}.items():
        if k not in ("env", "progress"):
            args += [f"--{k.replace('_', '-')}", str(v)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(args, capture_output=True, text=True, env=env, cwd=out.parent, timeout=600)


def _rows(out: Path) -> list[dict[str, str]]:
    with open(out / "metrics.csv") as f:
        return [{k: v for k, v in r.items() if k not in TIMING} for r in csv.DictReader(f)]


def test_two_processes_learn_the_tiny_task(tmp_path):
    out = tmp_path / "run"
    done = _cli(out, 2, steps=40, batch_size=16, minibatch_size=8, micro_batch_size=8, max_new_tokens=8, lr=3e-3,
                eval_n=0)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = _rows(out)
    rewards = [float(r["reward_mean"]) for r in rows]
    assert [int(r["samples"]) for r in rows] == [16] * 40  # the global batch, not a rank's share
    assert all(sum(int(v or 0) for k, v in r.items() if k.startswith("verdict_")) == 16 for r in rows)  # summed
    first, last = sum(rewards[:5]) / 5, sum(rewards[-5:]) / 5
    assert last > first + 0.2, rewards
    assert done.stdout.count("held-out accuracy") == 1  # rank 0 alone prints


@pytest.mark.slow
@pytest.mark.parametrize("strategy", [
    pytest.param({"strategy": "ddp"}, id="sppo-ddp"),
    pytest.param({"strategy": "fsdp", "algo": "ppo", "critic": "copy"}, id="ppo-fsdp-copy-critic"),
])
def test_resume_under_two_processes_reproduces_the_run(tmp_path, strategy):
    straight, split = tmp_path / "straight", tmp_path / "split"
    common = {"eval_n": 3, "eval_batch_size": 3, "eval_max_new_tokens": 4, "eval_every": 2, "checkpoint_every": 2,
              **strategy}
    runs = [_cli(straight, 2, steps=4, **common), _cli(split, 2, steps=2, **common),
            _cli(split, 2, "--resume", steps=4, **common)]
    for done in runs:
        assert done.returncode == 0, done.stderr[-3000:]
    assert [r["step"] for r in _rows(split)] == ["0", "1", "2", "3", "4"]
    assert _rows(straight) == _rows(split)
    a, b = (torch.load(d / "checkpoint.pt", map_location="cpu", weights_only=False) for d in (straight, split))
    assert a["world_size"] == b["world_size"] == 2 and len(b["rng_ranks"]) == 2
    for part in ("policy", "critic"):
        assert a[part].keys() == b[part].keys()
        assert all(torch.equal(a[part][k], b[part][k]) for k in a[part]), part
    # one process cannot continue a 2-process run (its RNG streams and shares are per rank)
    alone = _cli(split, 1, "--resume", steps=6, **common)
    assert alone.returncode != 0 and "written by 2 processes" in alone.stderr

"""Samples whose verification hit a sandbox error are left out of the update (whole groups for
GRPO/RLOO) and out of the held-out accuracy, never scored as 0.

The env is a plain Gymnasium env under the stock ``SyncVectorEnv``: sub-env ``slot`` of a vector
env reports ``sandbox_error`` when its slot is in ``fail_slots``, whatever the response, and
otherwise pays a reward fixed by the problem (``reward_of(index)``), so the expected kept rows,
their rewards and ``reward_mean`` follow from the env's own log of what it scored.
"""

from __future__ import annotations

import csv
import json
from typing import Any

import numpy as np
import pytest
from indexed_text_env import IndexedTextEnv, register
from sppo_gym.trainer import train
from sppo_gym.trainer.config import load_config
from sppo_gym.trainer.loop import rollout_step, setup

SLOTS = "trainer_test/SlotErrors-v0"
N_PROBLEMS = 40
SANDBOX_ERROR = "sandbox_error"
LOG: list[dict[str, Any]] = []  # one entry per scored response: split, slot, index, reward, verdict


def reward_of(index: int) -> float:
    """Distinct, non-zero rewards: a row kept or dropped by mistake moves the mean."""
    return round(0.05 + 0.9 * index / (N_PROBLEMS - 1), 6)


class SlotEnv(IndexedTextEnv):
    """``fail_slots`` of each vector env hit a simulated sandbox failure."""

    n_problems = N_PROBLEMS

    def __init__(self, slot: int = 0, fail_slots: tuple[int, ...] = (), split: str = "train"):
        super().__init__(slot, split)
        self.fail_slots = tuple(fail_slots)

    def prompt(self, index: int) -> str:
        return f"Item {index}"

    def step(self, action: str) -> tuple[str, float, bool, bool, dict]:
        fails = self.slot in self.fail_slots
        reward = 0.0 if fails else reward_of(self.index)
        verdict = SANDBOX_ERROR if fails else "correct"
        LOG.append({"split": self.split, "slot": self.slot, "index": self.index, "reward": reward,
                    "verdict": verdict})
        return "", reward, True, False, {"verdict": verdict, "index": self.index}


register(SLOTS, SlotEnv)

TINY = {"model": "tiny-random", "env": SLOTS, "minibatch_size": 4, "micro_batch_size": 2, "max_new_tokens": 4,
        "eval_n": 0, "lr": 1e-3, "progress": False}


def _index(prompt: str) -> int:
    return int(prompt.removeprefix("Item "))


@pytest.fixture(autouse=True)
def _clear_log():
    LOG.clear()
    yield
    LOG.clear()


@pytest.mark.parametrize(("algo", "group_size", "fail_slots", "kept_slots"), [
    ("sppo", 1, (1, 6), [0, 2, 3, 4, 5, 7]),
    ("grpo", 4, (1, 6), [8, 9, 10, 11]),  # one error spoils its whole group: groups 0 and 1 go
    ("rloo", 2, (3,), [0, 1, 4, 5]),
])
def test_rollout_step_keeps_exactly_the_rows_without_sandbox_error(tmp_path, algo, group_size, fail_slots,
                                                                    kept_slots):
    batch_size = {"sppo": 8, "grpo": 12, "rloo": 6}[algo]
    cfg = load_config(None, {**TINY, "algo": algo, "group_size": group_size, "batch_size": batch_size,
                             "minibatch_size": 2,
                             "env_kwargs": {"fail_slots": list(fail_slots)}, "out": str(tmp_path)})
    run = setup(cfg)
    try:
        batch, stats = rollout_step(run, 1)
    finally:
        run.envs.close()
    scored = LOG[-batch_size:]
    assert [e["slot"] for e in scored] == list(range(batch_size))
    assert [_index(p) for p in batch.prompts] == [scored[s]["index"] for s in kept_slots]
    assert batch.rewards.tolist() == pytest.approx([reward_of(scored[s]["index"]) for s in kept_slots])
    assert len(batch) == len(kept_slots) == batch.input_ids.shape[0] == batch.old_logprobs.shape[0]
    assert stats["sandbox_errors"] == batch_size - len(kept_slots)
    assert stats["verdict_sandbox_error"] == len(fail_slots)  # the verdict counts keep every response
    if group_size > 1:  # each kept group is one prompt repeated
        idx = [_index(p) for p in batch.prompts]
        assert all(len(set(idx[i:i + group_size])) == 1 for i in range(0, len(idx), group_size))


def _rows(out) -> list[dict[str, str]]:
    with open(out / "metrics.csv") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize(("algo", "group_size", "fail_slots", "kept_per_step"), [
    ("sppo", 1, (0, 5), 6),
    ("grpo", 4, (2,), 4),
])
def test_reward_mean_is_over_the_kept_samples_only(tmp_path, algo, group_size, fail_slots, kept_per_step):
    steps, batch_size = 2, 8
    train(load_config(None, {**TINY, "algo": algo, "group_size": group_size, "batch_size": batch_size,
                             "steps": steps, "env_kwargs": {"fail_slots": list(fail_slots)},
                             "out": str(tmp_path)}))
    rows = _rows(tmp_path)
    scored = [e for e in LOG if e["split"] == "train"]
    assert len(scored) == steps * batch_size
    for step, row in enumerate(rows, start=1):
        batch = scored[(step - 1) * batch_size: step * batch_size]
        groups = [batch[i:i + group_size] for i in range(0, batch_size, group_size)]
        kept = [e for g in groups if all(e["verdict"] != SANDBOX_ERROR for e in g) for e in g]
        assert len(kept) == kept_per_step
        assert int(row["samples"]) == kept_per_step
        assert int(row["sandbox_errors"]) == batch_size - kept_per_step
        assert float(row["reward_mean"]) == pytest.approx(np.mean([e["reward"] for e in kept]), abs=1e-6)
        assert int(row["verdict_sandbox_error"]) == len(fail_slots)


def test_held_out_accuracy_leaves_sandbox_errors_out(tmp_path):
    """eval_n problems in batches of 3, slot 1 failing: problems 1 and 4 are left out, not scored 0."""
    summary = train(load_config(None, {**TINY, "steps": 1, "batch_size": 4, "eval_n": 5, "eval_batch_size": 3,
                                       "eval_max_new_tokens": 2, "env_kwargs": {"fail_slots": [1]},
                                       "out": str(tmp_path)}))
    expected = float(np.mean([reward_of(i) for i in (0, 2, 3)]))
    assert summary["accuracy_before"] == pytest.approx(expected)
    assert summary["accuracy_after"] == pytest.approx(expected)
    assert summary["verdicts_before"] == {"correct": 3, SANDBOX_ERROR: 2}
    verdicts = [s["before"]["verdict"] for s in summary["samples"]]
    assert verdicts == ["correct", SANDBOX_ERROR, "correct", "correct", SANDBOX_ERROR]
    row0 = _rows(tmp_path)[0]
    assert float(row0["eval_accuracy"]) == pytest.approx(expected) and int(row0["eval_verdict_sandbox_error"]) == 2
    assert json.loads((tmp_path / "samples.json").read_text())[1]["after"]["verdict"] == SANDBOX_ERROR


def test_held_out_evaluation_of_only_sandbox_errors_fails_loudly(tmp_path):
    cfg = load_config(None, {**TINY, "steps": 1, "batch_size": 4, "eval_n": 2, "eval_batch_size": 2,
                             "eval_max_new_tokens": 2, "env_kwargs": {"fail_slots": [0, 1]}, "out": str(tmp_path)})
    with pytest.raises(RuntimeError, match="every held-out response hit a sandbox error"):
        train(cfg)



def test_held_out_score_keeps_each_problems_reward_and_samples_under_its_own_seed():
    """Per-problem rewards (NaN where the sandbox failed) for standard errors; a seeded sampled
    pass gives the same answers twice, other answers under another seed, and leaves the caller's
    torch RNG where it was."""
    import torch
    from sppo_gym.trainer.evaluation.held_out import HeldOut
    from sppo_gym.trainer.models import load_policy

    model, tok = load_policy("tiny-random")
    held = HeldOut(SLOTS, {"fail_slots": [1]}, n=5, batch_size=3, max_new_tokens=6)
    try:
        greedy = held.score(model, tok, greedy=True)
        assert np.isnan(greedy.rewards[[1, 4]]).all()
        assert greedy.rewards[[0, 2, 3]].tolist() == [reward_of(i) for i in (0, 2, 3)]
        assert greedy.accuracy == pytest.approx(np.mean([reward_of(i) for i in (0, 2, 3)]))
        assert greedy.verdicts == {"correct": 3, SANDBOX_ERROR: 2}
        torch.manual_seed(123)
        state = torch.random.get_rng_state()
        answers = [[s["response"] for s in held.score(model, tok, greedy=False, seed=seed, n_samples=5).samples]
                   for seed in (7, 7, 8)]
        assert torch.equal(torch.random.get_rng_state(), state)
        assert answers[0] == answers[1] and answers[0] != answers[2]
    finally:
        held.close()

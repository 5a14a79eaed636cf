"""The built-in Coq theorem set: shape, file == generator, every reference proof goes through the
verifier (a spread sample in the normal suite, all of them in the slow one), and the env."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import gymnasium as gym
import pytest
import sppo_gym.envs  # noqa: F401  (registers the ids)
from sppo_gym.envs.coq_proof import BUILTIN_JSONL, CoqProofEnv
from sppo_gym.verifiers import get_verifier
from sppo_gym.verifiers.coq.check import clean_statement
from sppo_gym.verifiers.coq.screen import screen
from sppo_gym.verifiers.coq.theorems import build

ROWS = build()


def test_data_file_is_the_generator_output():
    lines = Path(BUILTIN_JSONL).read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == ROWS, "regenerate: python -m sppo_gym.verifiers.coq.theorems"


def test_set_is_large_graded_and_well_formed():
    assert len(ROWS) >= 300
    assert set(Counter(r["family"] for r in ROWS)) == {"prop", "arith", "nat", "list"}
    assert set(Counter(r["difficulty"] for r in ROWS)) == {1, 2, 3, 4, 5}
    assert len({r["name"] for r in ROWS}) == len(ROWS)
    for r in ROWS:
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", r["name"]), r["name"]
        clean_statement(r["statement"])
        assert r["proof"].strip() and screen(r["proof"]) is None, r["name"]
    assert any(r["preamble"] and "Fixpoint" in r["preamble"] for r in ROWS)  # the trusted-module path


def test_generator_is_deterministic_and_seeded():
    assert build() == ROWS
    assert build(seed=1) != ROWS


def test_env_prompt_filters_and_answer():
    env = CoqProofEnv(difficulty=[4, 5], family="list")
    prompt, info = env.reset(options={"task_id": "list_rev_involutive"})
    assert "Theorem list_rev_involutive : forall (A : Type) (l : list A), rev (rev l) = l." in prompt
    assert "Require Import List." in prompt and "```coq" in prompt
    assert info["answer"] and info["answer"] not in prompt
    assert {env.source[i]["difficulty"] for i in range(len(env.source))} <= {4, 5}
    with pytest.raises(ValueError, match="no theorem"):
        CoqProofEnv(difficulty=9)
    with pytest.raises(TypeError, match="difficulty"):
        CoqProofEnv(difficulty="hard")


def _spread(n: int) -> list[dict]:
    """``n`` rows covering every family and difficulty, deterministic."""
    by_key: dict[tuple, list[dict]] = {}
    for r in ROWS:
        by_key.setdefault((r["family"], r["difficulty"]), []).append(r)
    keys = sorted(by_key, key=lambda k: (k[1], k[0]))  # every family at each level, easiest first
    return [by_key[k][(i * 7) % len(by_key[k])] for i, k in enumerate(keys)][:n]


def _check_all(rows: list[dict]) -> None:
    # generous budgets: Print Assumptions of a lia proof walks ZArith; a loaded machine is slow
    verifier = get_verifier("coq", compile_timeout_s=120.0, check_timeout_s=120.0)
    scores = verifier.verify_batch([(f"```coq\n{r['proof']}\n```", r) for r in rows])
    bad = [(r["name"], s.verdict, s.detail) for r, s in zip(rows, scores, strict=True) if s.verdict != "proved"]
    assert not bad, bad


@pytest.mark.docker
def test_sample_of_reference_proofs_is_proved(sandbox_pool):
    rows = _spread(15)
    assert len({r["family"] for r in rows}) == 4
    _check_all(rows)


@pytest.mark.docker
def test_env_step_rewards_a_reference_proof(sandbox_pool):
    env = gym.make("sppo_gym/CoqProof-v0", verifier_options={"check_timeout_s": 120.0})
    _, info = env.reset(options={"task_id": "nat_double_plus"})
    _, reward, terminated, truncated, info = env.step(f"```coq\n{info['answer']}\n```")
    assert (reward, terminated, truncated, info["verdict"]) == (1.0, True, False, "proved")
    env.reset(options={"task_id": "nat_double_plus"})
    _, reward, *_, info = env.step("```coq\nAdmitted.\n```")
    assert (reward, info["verdict"]) == (0.0, "rejected_command")


@pytest.mark.docker
@pytest.mark.slow
def test_every_reference_proof_is_proved(sandbox_pool):
    _check_all(ROWS)

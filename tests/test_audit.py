"""``sppo-gym audit``: no leak on any built-in env, a leak found in a leaky task, clear exits.

Real envs, real Docker sandbox. The built-in audits use small ``n`` (Coq proofs take seconds
each); the reasoning-gym sweep over 20+ tasks is marked ``slow``.
"""

from __future__ import annotations

import json
import subprocess
import sys

import gymnasium as gym
import pytest
from sppo_gym.envs import register_task
from sppo_gym.trainer.cli import app
from sppo_gym.trainer.evaluation.audit import (
    LEAK_THRESHOLD,
    AuditError,
    audit_env,
    is_coincidence,
    report_table,
)
from sppo_gym.trainer.evaluation.audit_policies import expressions, numbers, signatures
from sppo_gym.verifiers import Score
from typer.testing import CliRunner

LEAKY_ID = "audit_test/EchoPays-v0"
YESNO_ID = "audit_test/YesNo-v0"
BROKEN_ID = "audit_test/SandboxDown-v0"

# 21 reasoning-gym tasks: arithmetic, counting, sorting, strings, logic, yes/no, several-number answers
# (with partial credit on, gcd, letter_counting, products, prime_factorization, word_sorting,
# fraction_simplification and propositional_logic paid no-work replies: docs/AUDIT.md).
RG_TASKS = (
    "basic_arithmetic", "chain_sum", "gcd", "lcm", "products", "letter_counting", "count_primes",
    "number_filtering", "spell_backward", "word_sorting", "fraction_simplification", "decimal_arithmetic",
    "propositional_logic", "syllogism", "knights_knaves", "family_relationships", "time_intervals",
    "word_sequence_reversal", "caesar_cipher", "power_function", "prime_factorization",
)


def _problems() -> list[dict]:
    return [{"task_id": f"q{i}", "a": 10 + i, "b": 3 * i + 1, "answer": str(13 + 4 * i)} for i in range(12)]


def echo_pays(response: str, problem: dict) -> float:
    """A leaky reward: 1.0 when the reply contains the question's expression (the Arithmetic bug)."""
    return float(f"{problem['a']} + {problem['b']}" in response or response.strip() == problem["answer"])


def yes_no(response: str, problem: dict) -> float:
    return float(response.strip().lower() == problem["answer"])


def sandbox_down(response: str, problem: dict) -> Score:
    return Score(0.0, "sandbox_error", detail="the sandbox is down")


@pytest.fixture(scope="module", autouse=True)
def tasks() -> None:
    if LEAKY_ID not in gym.registry:
        register_task(LEAKY_ID, problems=_problems(), verifier=echo_pays, prompt="What is {a} + {b}?")
        register_task(YESNO_ID, problems=[{"task_id": f"y{i}", "n": i, "answer": "yes" if i % 2 else "no"}
                                          for i in range(10)],
                      verifier=yes_no, prompt="Is {n} odd? Reply yes or no.")
        register_task(BROKEN_ID, problems=_problems(), verifier=sandbox_down, prompt="What is {a} + {b}?")


# ----- no-Docker: the leak is found, chance hits are not leaks, errors and exits -----------------
def test_finds_the_leak_in_a_registered_task_and_the_cli_exits_1(tmp_path) -> None:
    report = audit_env(LEAKY_ID, n=10, progress=False)
    leaks = {p.name: p for p in report.leaks}
    assert report.status == "leak" and report.exit_code == 1
    assert {"echo_prompt", "expression_longest@plain", "expression_longest@boxed"} <= set(leaks)
    assert leaks["echo_prompt"].leak_reward == 1.0 and leaks["echo_prompt"].samples[0]["reward"] == 1.0
    assert all(p.status == "ok" for p in report.policies if p.family == "empty")
    out = CliRunner().invoke(app, ["audit", "--env", LEAKY_ID, "--n", "10", "--out", str(tmp_path), "--no-progress"])
    assert out.exit_code == 1, out.output
    assert "LEAK" in out.output and "echo_prompt" in out.output
    data = json.loads((tmp_path / "audit.json").read_text())
    assert data["status"] == "leak" and "echo_prompt" in data["leaks"] and data["threshold"] == LEAK_THRESHOLD
    row = next(p for p in data["policies"] if p["name"] == "echo_prompt")
    assert row["verdicts"] == {"correct": 10} and row["samples"] and row["mean_reward"] == 1.0


def test_a_constant_is_judged_against_its_chance_hits_not_its_raw_reward() -> None:
    """'yes' earns 50% on a yes/no task by being right half the time: coincidences, not a leak."""
    report = audit_env(YESNO_ID, n=10, progress=False)
    yes = next(p for p in report.policies if p.name == "const_yes@plain")
    assert yes.mean_reward == 0.5 and yes.coincidences == 5 and yes.leak_reward == 0.0 and yes.status == "ok"
    assert report.status == "pass" and report.exit_code == 0, report_table(report)


def test_user_suspects_run_alongside_the_battery(tmp_path, monkeypatch) -> None:
    """A python:MODULE:FUNCTION spec (bench's loader) and a plain callable are audited too."""
    (tmp_path / "suspects.py").write_text("def restate(prompt):\n    return prompt.split('is ')[-1].rstrip('?')\n")
    monkeypatch.chdir(tmp_path)
    report = audit_env(YESNO_ID, n=10, policies=["python:suspects:restate", lambda p, i: "no", lambda p, i: ""],
                       progress=False)
    by_name = {p.name: p for p in report.policies}
    assert by_name["user:python:suspects:restate"].status == "ok"
    users = [p for p in report.policies if p.family == "user"]
    assert len({p.name for p in users}) == 3  # two lambdas keep apart
    user_no = users[1]
    assert user_no.mean_reward == 0.5 and user_no.coincidences == 5 and user_no.status == "ok"


def test_a_model_suspect_through_the_cli(tmp_path) -> None:
    """--policy takes bench's specs: a (random) local model answers every prompt and is audited."""
    out = CliRunner().invoke(app, ["audit", "--env", YESNO_ID, "--n", "4", "--policy", "tiny-random",
                                   "--max-new-tokens", "4", "--out", str(tmp_path), "--no-progress"])
    data = json.loads((tmp_path / "audit.json").read_text())
    row = next(p for p in data["policies"] if p["name"] == "user:tiny-random")
    assert row["items"] == 4 and row["judged"] == 4 and row["samples"], row
    assert out.exit_code == (1 if row["status"] == "leak" else 0), out.output


def test_every_reply_a_sandbox_error_is_inconclusive_not_a_pass(tmp_path) -> None:
    report = audit_env(BROKEN_ID, n=5, progress=False)
    assert report.status == "inconclusive" and report.exit_code == 3
    assert all(p.sandbox_errors == p.items and p.mean_reward is None for p in report.policies if p.items)
    out = CliRunner().invoke(app, ["audit", "--env", BROKEN_ID, "--n", "5", "--out", str(tmp_path), "--no-progress"])
    assert out.exit_code == 3 and "INCONCLUSIVE" in out.output


def test_bad_input_exits_2_with_one_line(tmp_path) -> None:
    cli = [sys.executable, "-m", "sppo_gym.trainer.cli", "audit", "--out", str(tmp_path), "--no-progress"]
    cases = [(["--env", "sppo_gym/Arithmetc-v0"], "Did you mean 'sppo_gym/Arithmetic-v0'"),
             (["--env", "sppo_gym/Arithmetic-v0", "--env-kwargs", "{bad"], "not valid JSON"),
             (["--env", "sppo_gym/Arithmetic-v0", "--env-kwargs", "[1]"], "JSON object"),
             (["--env", "sppo_gym/Arithmetic-v0", "--env-kwargs", '{"difficulty": 9}'], "difficulty"),
             (["--env", "sppo_gym/Arithmetic-v0", "--n", "0"], "--n must be >= 1"),
             (["--env", "sppo_gym/Arithmetic-v0", "--policy", "python:no_such_module:f"], "no module")]
    for args, fix in cases:
        out = subprocess.run([*cli, *args], capture_output=True, text=True, timeout=300, cwd=tmp_path)
        lines = [line for line in out.stderr.splitlines() if line.strip()]
        assert out.returncode == 2, (args, out.stderr)
        assert len(lines) == 1 and lines[0].startswith("error: ") and fix in lines[0], (args, out.stderr)
    with pytest.raises(AuditError, match="unknown env id"):
        audit_env("nope/Nothing-v0", progress=False)


def test_prompt_parts_the_battery_restates() -> None:
    assert numbers("Tom has 1,200 apples and eats 3.5 of 2/3; -4 left") == ["1,200", "3.5", "2/3", "-4"]
    assert expressions("What is (3 + 4) × 5?") == ["(3 + 4) × 5"]
    assert expressions("Simplify $\\sqrt{50}$ and $2^{10} - 2^{9}$.") == ["\\sqrt{50}", "2^{10} - 2^{9}"]
    assert signatures("Write a function `add(a, b)` that adds.") == ["def add(a, b):"]
    assert signatures("```python\ndef f(x: int) -> int:\n    \"\"\"doc\"\"\"\n```") == ["def f(x: int) -> int:"]
    assert is_coincidence("7", "He has 3 + 4 = 7.\n#### 7") and is_coincidence("2.50", "\\boxed{2.5}")
    assert is_coincidence("Yes", "yes.") and is_coincidence("1,200", "1200") and not is_coincidence("3, 5", "35")
    assert not is_coincidence("792/968", "9/11")  # restating the unreduced fraction is not the answer


# ----- Docker: every built-in env --------------------------------------------------------------
def _assert_no_leak(env_id: str, kwargs: dict | None, n: int) -> None:
    report = audit_env(env_id, kwargs, n, progress=False)
    assert report.problems == n
    assert report.status == "pass", report_table(report) + "\n" + json.dumps(
        [{"policy": p.name, **p.samples[0]} for p in report.leaks + report.inconclusive if p.samples], indent=1)


@pytest.mark.docker
@pytest.mark.parametrize("difficulty", range(1, 8))
def test_no_leak_on_arithmetic(sandbox_pool, difficulty: int) -> None:
    _assert_no_leak("sppo_gym/Arithmetic-v0", {"difficulty": difficulty}, 8)


@pytest.mark.docker
@pytest.mark.parametrize(("env_id", "n"), [
    ("sppo_gym/MathAnswer-v0", 40), ("sppo_gym/PythonTests-v0", 10), ("sppo_gym/HumanEval-v0", 10),
    ("sppo_gym/StdioCode-v0", 10), ("sppo_gym/CoqProof-v0", 6), ("sppo_gym/ReasoningGym-v0", 5),
])
def test_no_leak_on_builtin_env(sandbox_pool, env_id: str, n: int) -> None:
    _assert_no_leak(env_id, None, n)


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize("task", RG_TASKS)
def test_no_leak_on_reasoning_gym_task(sandbox_pool, task: str) -> None:
    _assert_no_leak("sppo_gym/ReasoningGym-v0", {"task": task}, 3)

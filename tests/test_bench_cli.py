"""``sppo-gym bench``: help, one-line errors, whole runs (tiny-random, Python callable), --compare."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest
from bench_tasks import FLAKY_INDEX, SUM_ID, problems, register_sum_task, sum_verifier
from sppo_gym.trainer.cli import app
from sppo_gym.trainer.evaluation.bench_report import plot_name
from sppo_gym.trainer.evaluation.policies import LocalPolicy, Sampling
from typer.testing import CliRunner

CLI = [sys.executable, "-m", "sppo_gym.trainer.cli", "bench"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_help_lists_the_contract_options() -> None:
    out = subprocess.run([*CLI, "--help"], capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "200"})
    assert out.returncode == 0, out.stderr
    for opt in ("--env", "--env-kwargs", "--policy", "--n", "--k", "--out", "--temperature", "--seed",
                "--concurrency", "--compare", "--rescore"):
        assert opt in out.stdout


def test_user_mistakes_end_with_one_line_naming_the_fix(tmp_path) -> None:
    """Run the real command in a subprocess: exit code 2, one line on stderr, no traceback."""
    cases = [
        (["--env", "sppo_gym/HumanEvl-v0", "--policy", "tiny-random"], "Did you mean 'sppo_gym/HumanEval-v0'"),
        (["--env", "sppo_gym/PythonTests-v0", "--policy", "openai:localhost:8000#m"], "openai:BASE_URL#MODEL"),
        (["--env", "sppo_gym/PythonTests-v0", "--policy", str(tmp_path / "no-model")], "no such model directory"),
        (["--env", "sppo_gym/PythonTests-v0", "--policy", f"openai:http://127.0.0.1:{_free_port()}/v1#m"],
         "unreachable"),
        (["--env", "sppo_gym/PythonTests-v0", "--policy", "tiny-random", "--k", "4"], "--temperature"),
        (["--env", "sppo_gym/PythonTests-v0", "--env-kwargs", "{bad", "--policy", "tiny-random"], "not valid JSON"),
        (["--compare", str(tmp_path)], "no results.json"),
        (["--env", "sppo_gym/PythonTests-v0", "--policy", "tiny-random", "--rescore", "--overwrite"], "pass one"),
    ]
    env = {**os.environ, "OPENAI_API_KEY": "test"}
    for args, fix in cases:
        out = subprocess.run([*CLI, *args, "--out", str(tmp_path / "out")], capture_output=True, text=True,
                             timeout=300, env=env, cwd=tmp_path)
        lines = [line for line in out.stderr.splitlines() if line.strip()]
        assert out.returncode == 2, (args, out.stderr)
        assert len(lines) == 1 and lines[0].startswith("error: ") and fix in lines[0], (args, out.stderr)
        assert "Traceback" not in out.stderr + out.stdout


def test_tiny_random_run_writes_every_output(tmp_path) -> None:
    register_sum_task()
    out = tmp_path / "tiny"
    res = CliRunner().invoke(app, ["bench", "--env", SUM_ID, "--policy", "tiny-random", "--n", "3", "--k", "2",
                                   "--temperature", "1.0", "--max-new-tokens", "8", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "| env | n | k | accuracy | pass@k |" in res.stdout and SUM_ID in res.stdout
    results = json.loads((out / "results.json").read_text())
    r = results["envs"][SUM_ID]
    assert r["samples"] == 6 and r["k"] == 2 and r["sandbox_errors"] == 0
    assert results["policy"]["kind"] == "local" and results["policy"]["spec"] == "tiny-random"
    assert results["versions"]["sppo-gym"] and r["versions"]["dataset"] and results["settings"]["seed"] == 0
    lines = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert len(lines) == 6 and {"task_id", "prompt", "response", "reward", "verdict"} <= set(lines[0])
    assert sorted((x["index"], x["sample"]) for x in lines) == [(i, j) for i in range(3) for j in range(2)]
    for x in lines:  # each stored score is the verifier's verdict on the stored response
        score = sum_verifier(x["response"], problems()[x["index"]])
        assert (x["reward"], x["verdict"]) == (score.reward, score.verdict)
    first = [x["reward"] for x in lines if x["sample"] == 0]
    assert r["accuracy"] == pytest.approx(sum(first) / 3)
    assert r["verdicts"] == dict(Counter(x["verdict"] for x in lines))
    solved = [any(x["reward"] == 1.0 for x in lines if x["index"] == i) for i in range(3)]
    assert r["pass_at_k"] == pytest.approx(sum(solved) / 3)  # k = n = 2: pass@2 is "either sample passed"
    png = out / plot_name(SUM_ID)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_python_policy_and_compare(tmp_path, monkeypatch) -> None:
    register_sum_task()
    (tmp_path / "bench_cli_policy.py").write_text(textwrap.dedent("""
        def right(prompt):
            a, b = prompt.removeprefix("Compute ").split(".")[0].split(" + ")
            return str(int(a) + int(b))

        def wrong(prompt):
            return "7"

        def half(prompt):  # right on even a: problems 0, 2, 4 of the valid 0..4 (5 is a sandbox error)
            a = int(prompt.removeprefix("Compute ").split(" + ")[0])
            return right(prompt) if a % 2 == 0 else "7"
    """))
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    for name in ("right", "half", "wrong"):
        res = runner.invoke(app, ["bench", "--env", SUM_ID, "--policy", f"python:bench_cli_policy:{name}",
                                  "--n", "6", "--out", name, "--no-progress"])
        assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["bench", "--compare", "right", "half", "wrong"])
    assert res.exit_code == 0, res.output
    rows = [line for line in res.stdout.splitlines() if line.startswith(f"| {SUM_ID} | accuracy")]
    assert rows == [f"| {SUM_ID} | accuracy | 100.0% | 60.0% | 0.0% |"]  # 3 of 5: the sandbox error is not a 0
    assert "python:bench_cli_policy:right" in res.stdout
    assert f"| {SUM_ID} | sandbox errors | 1 | 1 | 1 |" in res.stdout


INTERRUPT_POLICY = """
import os, pathlib, time
from bench_tasks import parse_sum, register_sum_task

register_sum_task()


def answer(prompt):
    index = int(prompt.removeprefix("Compute ").split(" + ")[0])  # problem i is "Compute i + (10 + i)."
    with open("calls.log", "a") as f:
        f.write(f"{index}\\n")
    if str(index) == os.environ.get("BLOCK_AT"):  # wait here for the test's Ctrl-C
        pathlib.Path("blocked").touch()
        for _ in range(3000):
            time.sleep(0.1)
    return str(parse_sum(prompt))
"""


def test_ctrl_c_exits_130_and_the_rerun_resumes_without_redoing_scored_items(tmp_path) -> None:
    """SIGINT (what Ctrl-C sends) to a real ``sppo-gym bench`` while it generates problem 6 of 10."""
    (tmp_path / "bench_interrupt.py").write_text(INTERRUPT_POLICY)
    tests = str(Path(__file__).resolve().parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([tests, os.environ.get("PYTHONPATH", "")]),
           "BLOCK_AT": "6"}
    cmd = [*CLI, "--env", f"bench_interrupt:{SUM_ID}", "--policy", "python:bench_interrupt:answer", "--n", "10",
           "--batch-size", "2", "--out", "run", "--no-progress"]
    # a runner started in the background ignores SIGINT and children inherit that: give the child a terminal's default
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 300  # only bounds a failure; the test waits for the policy's signal
        while not (tmp_path / "blocked").exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (tmp_path / "blocked").exists(), proc.communicate(timeout=60)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "run the same command again to resume" in stderr and "Traceback" not in stderr
    stored = [json.loads(x) for x in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    done = {x["index"] for x in stored}
    assert done and done <= set(range(6)) and not (tmp_path / "run" / "results.json").exists()
    first_calls = [int(x) for x in (tmp_path / "calls.log").read_text().split()]
    assert first_calls == list(range(7)), first_calls  # 0..5 answered, stopped inside 6

    (tmp_path / "calls.log").unlink()
    env.pop("BLOCK_AT")
    rerun = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    resumed_calls = [int(x) for x in (tmp_path / "calls.log").read_text().split()]
    assert resumed_calls == sorted(set(range(10)) - done)  # each missing problem once, no scored one again
    final = [json.loads(x) for x in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    # append-only: a stored sandbox_error is verified again and its new record appended (the last one counts)
    assert {x["index"] for x in final} == set(range(10)) and len(final) == 10 + (FLAKY_INDEX in done)
    r = json.loads((tmp_path / "run" / "results.json").read_text())["envs"][f"bench_interrupt:{SUM_ID}"]
    assert r["samples"] == 10 and r["accuracy"] == 1.0 and r["sandbox_errors"] == 1  # problem FLAKY_INDEX
    assert [x["verdict"] for x in final if x["index"] == FLAKY_INDEX][-1] == "sandbox_error"


def test_local_policy_is_reproducible() -> None:
    pol = LocalPolicy("tiny-random", "tiny-random", device="cpu", batch_size=2)
    prompts = ["Compute 1 + 2.", "a longer prompt that pads the other one", "x"]
    greedy = Sampling(temperature=0.0, max_new_tokens=6)
    sampled = Sampling(temperature=1.0, max_new_tokens=6)
    assert pol.generate(prompts, [0, 1, 2], greedy) == pol.generate(prompts, [5, 6, 7], greedy)
    first = pol.generate(prompts, [0, 1, 2], sampled)
    assert first == pol.generate(prompts, [0, 1, 2], sampled) and all(isinstance(r, str) for r in first)
    assert pol.generate(prompts, [3, 4, 5], sampled) != first  # the seeds drive sampling (not greedy, not fixed)
    assert pol.describe()["parameters"] > 0


@pytest.mark.docker
def test_sandboxed_env_run_with_reference_solutions(tmp_path, sandbox_pool) -> None:
    """End to end through the Docker sandbox: a policy that answers with each problem's reference."""
    (tmp_path / "bench_oracle.py").write_text(textwrap.dedent("""
        import json, pathlib, sppo_gym.envs.python_tests as pt
        ROWS = [json.loads(line) for line in pathlib.Path(pt.BUNDLED_JSONL).read_text().splitlines() if line]

        def answer(prompt):
            for row in ROWS:
                if row["prompt"] in prompt:
                    return "```python\\n" + row["canonical_solution"] + "\\n```"
            return "no idea"
    """))
    out = subprocess.run([*CLI, "--env", "sppo_gym/PythonTests-v0", "--policy", "python:bench_oracle:answer",
                          "--n", "4", "--out", "run", "--no-progress"], capture_output=True, text=True,
                         timeout=600, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    r = json.loads(Path(tmp_path / "run" / "results.json").read_text())["envs"]["sppo_gym/PythonTests-v0"]
    assert r["accuracy"] == 1.0 and r["verdicts"] == {"passed": 4} and r["split"] == "test"

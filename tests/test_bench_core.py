"""Benchmark core: pass@k against hand-computed values, metrics, resume after interruption."""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from fractions import Fraction

import pytest
from bench_tasks import FLAKY, FLAKY_INDEX, LAX, SUM_ID, parse_sum, register_sum_task
from sppo_gym.trainer.evaluation.bench import (
    BenchSettings,
    EnvSpec,
    parse_envs,
    pass_at_k,
    run_bench,
    summarise,
)
from sppo_gym.trainer.evaluation.bench_store import BenchError
from sppo_gym.trainer.evaluation.policies import CallablePolicy

# ----- pass@k ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "c", "k", "expected"), [
    (10, 3, 1, 0.3),                 # pass@1 = c / n
    (5, 2, 2, 1 - 3 / 10),           # 1 - C(3,2)/C(5,2)
    (6, 1, 3, 1 - 10 / 20),          # 1 - C(5,3)/C(6,3)
    (4, 0, 2, 0.0),                  # nothing passed
    (4, 3, 2, 1.0),                  # n - c < k: every k-subset holds a pass
    (4, 2, 4, 1.0),
    (200, 1, 100, 0.5),              # 1 - C(199,100)/C(200,100) = 100/200, huge binomials
    (1000, 10, 500, 1 - math.comb(990, 500) / math.comb(1000, 500)),
])
def test_pass_at_k_hand_computed(n: int, c: int, k: int, expected: float) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_pass_at_k_matches_exact_fractions() -> None:
    rng = random.Random(0)
    for _ in range(200):
        n = rng.randint(1, 60)
        c, k = rng.randint(0, n), rng.randint(1, n)
        exact = 1 - Fraction(math.comb(n - c, k), math.comb(n, k))
        assert pass_at_k(n, c, k) == pytest.approx(float(exact), abs=1e-12)


def test_pass_at_k_rejects_impossible_counts() -> None:
    with pytest.raises(ValueError, match="1 <= k <= n"):
        pass_at_k(3, 1, 4)
    with pytest.raises(ValueError, match="0 <= c <= n"):
        pass_at_k(3, 4, 1)


def _rec(index: int, sample: int, reward: float, verdict: str) -> dict:
    return {"index": index, "sample": sample, "reward": reward, "verdict": verdict,
            "passed": verdict == "correct", "response": "x"}


def test_summarise_excludes_sandbox_errors_from_denominators() -> None:
    recs = [
        _rec(0, 0, 1.0, "correct"), _rec(0, 1, 0.0, "wrong"),
        _rec(1, 0, 0.0, "sandbox_error"), _rec(1, 1, 1.0, "correct"),  # first sample lost to the sandbox
        _rec(2, 0, 0.5, "partial"), _rec(2, 1, 0.0, "wrong"),
        _rec(3, 0, 1.0, "correct"),  # beyond n: ignored
    ]
    s = summarise(recs, n=3, k=2)
    assert s["accuracy"] == pytest.approx((1.0 + 0.5) / 2)  # problems 0 and 2; problem 1 not scored as 0
    assert s["sandbox_errors"] == 1
    assert s["scored_first_samples"] == 2
    # pass@2 only over problems with 2 valid samples (0 and 2): (1 + 0) / 2
    assert s["pass_at_k"] == pytest.approx(0.5)
    assert s["pass_at_k_problems"] == 2
    # pass@1 over every problem's valid samples: (1/2 + 1/1 + 0/2) / 3
    assert s["pass_at"]["1"] == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    assert s["verdicts"] == {"correct": 2, "wrong": 2, "sandbox_error": 1, "partial": 1}


# ----- settings and env parsing ------------------------------------------------------------------


def test_k_above_one_needs_temperature() -> None:
    with pytest.raises(BenchError, match="--temperature"):
        BenchSettings(k=4, temperature=0.0).validate()
    BenchSettings(k=4, temperature=0.7).validate()


def test_parse_envs_pairs_kwargs() -> None:
    one = parse_envs(["a/X-v0", "a/Y-v0"], ['{"difficulty": 2}'])
    assert [e.kwargs for e in one] == [{"difficulty": 2}, {"difficulty": 2}]
    pair = parse_envs(["a/X-v0", "a/X-v0"], ["{}", '{"difficulty": 3}'])
    assert pair[0].label != pair[1].label and pair[1].kwargs == {"difficulty": 3}
    with pytest.raises(BenchError, match="one per --env"):
        parse_envs(["a/X-v0", "a/Y-v0", "a/Z-v0"], ["{}", "{}"])
    with pytest.raises(BenchError, match="not valid JSON"):
        parse_envs(["a/X-v0"], ["{difficulty: 2}"])


# ----- whole runs with a Python-callable policy --------------------------------------------------


class CountingPolicy(CallablePolicy):
    """Correct on the first ``good[i]`` calls for problem i, then wrong; can stop after ``stop_after`` calls."""

    def __init__(self, good: dict[int, int] | None = None, stop_after: int | None = None):
        self.calls: Counter[int] = Counter()
        self.good = good
        self.stop_after = stop_after
        super().__init__("python:tests:counting", self.answer)

    def answer(self, prompt: str) -> str:
        if self.stop_after is not None and sum(self.calls.values()) >= self.stop_after:
            raise KeyboardInterrupt  # what Ctrl-C does mid-run
        a = int(prompt.removeprefix("Compute ").split(" + ")[0])
        self.calls[a] += 1
        ok = self.good is None or self.calls[a] <= self.good.get(a, 0)
        return str(parse_sum(prompt)) if ok else "-1"


def _lines(out) -> list[dict]:
    return [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]


def test_python_policy_run_counts_sandbox_errors(tmp_path) -> None:
    register_sum_task()
    res = run_bench(CountingPolicy(), [EnvSpec(SUM_ID, {}, SUM_ID)], BenchSettings(n=8, batch_size=3),
                    tmp_path, progress=False)
    r = res["envs"][SUM_ID]
    assert r["sandbox_errors"] == 1  # problem FLAKY_INDEX
    assert r["accuracy"] == 1.0 and r["scored_first_samples"] == 7  # not 7/8: the failure is not a 0
    assert res["accuracy"][SUM_ID] == 1.0 and res["pass_at_k"][SUM_ID] == 1.0
    assert r["verdicts"] == {"correct": 7, "sandbox_error": 1}
    assert r["split"] == "test" and r["versions"]["dataset"]
    lines = _lines(tmp_path)
    assert [(x["index"], x["sample"]) for x in lines] == [(i, 0) for i in range(8)]
    assert lines[FLAKY_INDEX]["verdict"] == "sandbox_error"
    assert lines[2]["task_id"] == "sum/2" and lines[2]["prompt"].startswith("Compute 2 + 12")
    assert json.loads((tmp_path / "results.json").read_text())["envs"][SUM_ID]["problems"] == 8


def test_pass_at_k_through_a_run(tmp_path) -> None:
    """Problem i is right on its first good[i] of 4 samples: pass@j = mean of hand-computed values."""
    register_sum_task()
    good = {0: 0, 1: 1, 2: 2, 3: 4}
    res = run_bench(CountingPolicy(good), [EnvSpec(SUM_ID, {}, SUM_ID)],
                    BenchSettings(n=4, k=4, temperature=1.0, batch_size=5), tmp_path, progress=False)
    r = res["envs"][SUM_ID]
    expected = (0.0 + (1 - 3 / 6) + (1 - 1 / 6) + 1.0) / 4  # 1 - C(4-c,2)/C(4,2) for c = 0, 1, 2, 4
    assert r["pass_at"]["2"] == pytest.approx(expected)
    assert r["pass_at_k"] == pytest.approx(3 / 4)  # pass@4 of 4 samples: any pass counts
    assert r["pass_at"]["1"] == pytest.approx((0 + 1 / 4 + 2 / 4 + 1) / 4)
    assert r["accuracy"] == pytest.approx(3 / 4)  # first samples: wrong, right, right, right
    assert r["samples"] == 16


def test_resume_after_interruption_redoes_nothing(tmp_path) -> None:
    register_sum_task()
    env = [EnvSpec(SUM_ID, {}, SUM_ID)]
    settings = BenchSettings(n=10, k=2, temperature=1.0, batch_size=4)
    with pytest.raises(KeyboardInterrupt):
        run_bench(CountingPolicy(stop_after=9), env, settings, tmp_path, progress=False)
    done = _lines(tmp_path)
    assert 0 < len(done) < 20 and not (tmp_path / "results.json").exists()
    # a crash mid-write leaves a torn last line: it must be dropped, not break the resume
    with (tmp_path / "samples.jsonl").open("a") as f:
        f.write('{"env": "bench_test/Sum-v0", "index": 9, "sam')
    second = CountingPolicy()
    res = run_bench(second, env, settings, tmp_path, progress=False)
    assert sum(second.calls.values()) == 20 - len(done)  # only the missing samples were generated
    keys = [(x["index"], x["sample"]) for x in _lines(tmp_path)]
    again = {(x["index"], x["sample"]) for x in done if x["verdict"] == "sandbox_error"}  # verified twice
    assert sorted(keys) == sorted([(i, j) for i in range(10) for j in range(2)] + list(again))
    r = res["envs"][SUM_ID]
    assert r["resumed_samples"] == len(done) - len(again) and r["reverified_samples"] == len(again)
    assert r["samples"] == 20
    assert r["accuracy"] == 1.0 and r["sandbox_errors"] == 2
    # a rerun with everything done generates nothing and gives the same numbers
    third = CountingPolicy()
    again = run_bench(third, env, settings, tmp_path, progress=False)
    assert sum(third.calls.values()) == 0 and again["envs"][SUM_ID]["pass_at_k"] == r["pass_at_k"]


def test_resume_verifies_sandbox_errors_again(tmp_path, monkeypatch) -> None:
    register_sum_task()
    env = [EnvSpec(SUM_ID, {}, SUM_ID)]
    first = run_bench(CountingPolicy(), env, BenchSettings(n=8), tmp_path, progress=False)
    assert first["envs"][SUM_ID]["sandbox_errors"] == 1
    monkeypatch.setitem(FLAKY, "on", False)  # the sandbox works again
    pol = CountingPolicy()
    r = run_bench(pol, env, BenchSettings(n=8), tmp_path, progress=False)["envs"][SUM_ID]
    assert sum(pol.calls.values()) == 0  # the stored response is verified again, not regenerated
    assert r["sandbox_errors"] == 0 and r["reverified_samples"] == 1 and r["resumed_samples"] == 7
    assert r["accuracy"] == 1.0 and r["scored_first_samples"] == 8
    assert len(_lines(tmp_path)) == 9


def test_rescore_verifies_every_stored_response_again_without_generating(tmp_path, monkeypatch) -> None:
    """After a verifier fix, --rescore re-judges what was saved; a plain resume keeps the old verdicts."""
    register_sum_task()
    env = [EnvSpec(SUM_ID, {}, SUM_ID)]
    settings = BenchSettings(n=4, k=2, temperature=1.0)
    monkeypatch.setitem(LAX, "on", True)  # the gap: the wrong reply "-1" is paid
    first = run_bench(CountingPolicy(good={}), env, settings, tmp_path, progress=False)["envs"][SUM_ID]
    assert first["accuracy"] == 1.0 and first["samples"] == 8
    monkeypatch.setitem(LAX, "on", False)  # the verifier is fixed
    resumed = run_bench(CountingPolicy(), env, settings, tmp_path, progress=False)["envs"][SUM_ID]
    assert resumed["accuracy"] == 1.0 and resumed["reverified_samples"] == 0  # stored verdicts stand
    pol = CountingPolicy()
    again = run_bench(pol, env, settings, tmp_path, rescore=True, progress=False)["envs"][SUM_ID]
    assert sum(pol.calls.values()) == 0  # nothing generated: the stored "-1" replies were judged again
    assert again["accuracy"] == 0.0 and again["pass_at_k"] == 0.0
    assert again["reverified_samples"] == 8 and again["resumed_samples"] == 0
    assert {x["verdict"] for x in _lines(tmp_path)[-8:]} == {"wrong"}
    with pytest.raises(BenchError, match="--rescore"):
        run_bench(pol, env, settings, tmp_path, rescore=True, overwrite=True, progress=False)


def test_resume_refuses_other_settings(tmp_path) -> None:
    register_sum_task()
    env = [EnvSpec(SUM_ID, {}, SUM_ID)]
    run_bench(CountingPolicy(), env, BenchSettings(n=2), tmp_path, progress=False)
    with pytest.raises(BenchError, match="--overwrite"):
        run_bench(CountingPolicy(), env, BenchSettings(n=2, k=2, temperature=0.5), tmp_path, progress=False)
    res = run_bench(CountingPolicy(), env, BenchSettings(n=2, k=2, temperature=0.5), tmp_path,
                    overwrite=True, progress=False)
    assert res["envs"][SUM_ID]["samples"] == 4 and len(_lines(tmp_path)) == 4


def test_n_larger_than_dataset_is_a_clear_error(tmp_path) -> None:
    register_sum_task()
    with pytest.raises(BenchError, match="--n 50 is more than"):
        run_bench(CountingPolicy(), [EnvSpec(SUM_ID, {}, SUM_ID)], BenchSettings(n=50), tmp_path, progress=False)
    assert FLAKY_INDEX < 12

"""benchmarks/algo_compare.py: the protocol's arithmetic (time to GRPO's peak, the 3x criterion,
standard errors, equal shapes) and one real run of its driver with a tiny model."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import algo_compare as ac  # a script folder, not a package


def curve(*points: tuple[float, float]) -> list[dict]:
    return [{"t": t, "accuracy": a} for t, a in points]


def result(method: str, seed: int, *points: tuple[float, float]) -> dict:
    return {"method": method, "seed": seed, "curve": curve(*points), "steps": len(points) - 1,
            "final_sampled": {"accuracy": points[-1][1]}, "peak_memory_mb": 1.0, "tokens_per_s": 1.0}


def test_every_method_gets_the_same_prompts_and_two_optimiser_steps():
    for method in ac.METHODS:
        s = ac.shapes(method, prompts=16, group_size=8)
        assert s["batch_size"] == 16 * s["group_size"]
        assert s["batch_size"] // s["minibatch_size"] == 2
        assert s["minibatch_size"] % s["micro_batch_size"] == 0
    assert ac.shapes("sppo", 16, 8)["group_size"] == 1 and ac.shapes("grpo", 16, 8)["group_size"] == 8


def test_time_to_grpo_peak_is_the_first_time_its_maximum_is_reached():
    results = [result("grpo", 0, (0, 0.1), (100, 0.5), (200, 0.6), (400, 0.6)),
               result("sppo", 0, (0, 0.1), (50, 0.7), (400, 0.7))]
    [row] = ac.peak_times(results)
    assert (row["grpo_peak"], row["t_grpo"], row["t_method"]) == (0.6, 200, 50)
    assert row["ratio"] == pytest.approx(4.0)


def test_the_3x_criterion_needs_every_seed(tmp_path):
    results = [result("grpo", 0, (0, 0.1), (300, 0.6)), result("sppo", 0, (0, 0.1), (100, 0.6)),  # 3x
               result("grpo", 1, (0, 0.1), (300, 0.6)), result("sppo", 1, (0, 0.1), (200, 0.6))]  # 1.5x
    text = ac.report(results, None, tmp_path)
    assert "mean 2.25x, min 1.50x, max 3.00x" in text
    assert "at least 3x in every seed: no" in text


def test_a_seed_where_sppo_never_reaches_the_peak_has_no_ratio_and_fails_the_criterion(tmp_path):
    results = [result("grpo", 0, (0, 0.1), (300, 0.6)), result("sppo", 0, (0, 0.1), (300, 0.5))]
    [row] = ac.peak_times(results)
    assert row["t_method"] is None and row["ratio"] is None
    assert "at least 3x in every seed: no" in ac.report(results, None, tmp_path)


def test_standard_error_is_over_problems_and_skips_sandbox_errors():
    out = ac.mean_se([1.0, 0.0, 1.0, 1.0, float("nan")])
    assert out["n"] == 4 and out["accuracy"] == 0.75
    assert out["se"] == pytest.approx(0.5 / math.sqrt(4))


@pytest.mark.docker
def test_driver_runs_seeds_side_by_side_and_stops_inside_the_budget(tmp_path):
    """A real (tiny) run: base evaluation, two methods, their curves and results.json."""
    script = Path(ac.__file__)
    cmd = [sys.executable, str(script), "--model", "tiny-random", "--methods", "sppo,grpo", "--seeds", "0",
           "--budget-s", "4", "--points", "2,4", "--eval-n", "6", "--eval-batch-size", "6", "--eval-samples", "2",
           "--prompts", "4", "--out", str(tmp_path)]
    subprocess.run(cmd, check=True, timeout=500, capture_output=True)
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["base"]["greedy"]["n"] == 6 and data["base"]["sampled"]["samples_per_problem"] == 2
    for r in data["results"]:
        steps = json.loads((tmp_path / f"{r['method']}-s0" / "steps.json").read_text())
        assert len(steps) == r["steps"] >= 1
        clocks = [0.0] + [s["wall_s"] for s in steps]
        last_before = clocks[-2] + (clocks[-2] - clocks[-3] if len(clocks) > 2 else 0.0)
        assert last_before <= 4.0  # no step started that the previous step's time said would end past 4 s
        assert r["curve"][0]["t"] == 0.0 and r["curve"][-1]["step"] == r["steps"]
        assert [c["t"] for c in r["curve"]] == sorted(c["t"] for c in r["curve"])
        assert r["final_sampled"]["n"] == 6
    rebuilt = subprocess.run([sys.executable, str(script), "--report", "--out", str(tmp_path)], check=True,
                             capture_output=True, text=True, timeout=60)
    assert json.loads((tmp_path / "results.json").read_text())["results"] == data["results"]
    assert "| sppo | 1 |" in rebuilt.stdout and "| grpo | 1 |" in rebuilt.stdout


@pytest.mark.docker
def test_trl_leg_runs_through_the_adapter_and_stops_inside_the_budget(tmp_path):
    """TRL's GRPOTrainer on the env through the adapter, under the same budget and evaluation."""
    script = Path(ac.__file__)
    cmd = [sys.executable, str(script), "--model", "tiny-random", "--methods", "trl-grpo", "--seeds", "0",
           "--budget-s", "3", "--points", "3", "--eval-n", "6", "--eval-batch-size", "6", "--eval-samples", "2",
           "--prompts", "4", "--group-size", "4", "--out", str(tmp_path)]
    subprocess.run(cmd, check=True, timeout=500, capture_output=True)
    (r,) = json.loads((tmp_path / "results.json").read_text())["results"]
    assert r["method"] == "trl-grpo" and r["steps"] >= 1
    assert r["train_wall_s"] > 0 and r["completion_tokens"] > 0
    assert r["curve"][0]["t"] == 0.0 and r["curve"][-1]["step"] == r["steps"]
    assert r["final_sampled"]["n"] == 6 and r["final_sampled"]["samples_per_problem"] == 2

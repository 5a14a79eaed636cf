"""Run outputs: metrics.csv (one row per step), reward.png, optional TensorBoard scalars."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

#: metrics.csv columns, in order. ``eval_accuracy`` is empty on rows without an evaluation.
COLUMNS = (
    "step", "wall_s", "reward_mean", "eval_accuracy", "policy_loss", "value_loss", "clipfrac",
    "approx_kl", "kl_ref", "entropy", "response_len", "value_mean", "value_brier", "value_corr",
    "grad_norm", "lr", "samples", "sandbox_errors", "gen_s", "update_s", "verify_s",
    "difficulty", "v_chosen", "v_pool",
)


class MetricsLog:
    """Append-only CSV; on resume, rows after the checkpoint's step are dropped first."""

    def __init__(self, out: Path, resume_step: int | None = None, tensorboard: bool = False):
        self.path = out / "metrics.csv"
        self.rows: list[dict[str, Any]] = []
        if resume_step is not None and self.path.exists():
            with self.path.open() as f:
                self.rows = [r for r in csv.DictReader(f) if int(r["step"]) <= resume_step]
        with self.path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(self.rows)
        self.tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as e:
                raise ValueError("tensorboard=true needs the package: pip install tensorboard") from e
            self.tb = SummaryWriter(str(out / "tb"))

    def write(self, row: dict[str, Any]) -> None:
        """Append one row (unknown keys are an error: keep COLUMNS the single list)."""
        extra = set(row) - set(COLUMNS)
        if extra:
            raise KeyError(f"metrics {sorted(extra)} are not in COLUMNS")
        clean = {k: _fmt(row.get(k)) for k in COLUMNS}
        self.rows.append(clean)
        with self.path.open("a", newline="") as f:
            csv.DictWriter(f, fieldnames=COLUMNS).writerow(clean)
        if self.tb is not None:
            for k, v in row.items():
                if k != "step" and isinstance(v, (int, float)) and math.isfinite(v):
                    self.tb.add_scalar(k, v, int(row["step"]))

    def amend_last(self, **values: Any) -> None:
        """Add values to the last row (e.g. a final evaluation after a wall-clock stop)."""
        self.rows[-1].update({k: _fmt(v) for k, v in values.items()})
        with self.path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(self.rows)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def plot_rewards(rows: list[dict[str, Any]], path: Path, title: str = "") -> None:
    """reward.png: training reward per step (and its moving average), held-out accuracy as dots."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def series(key: str) -> tuple[list[int], list[float]]:
        pts = [(int(r["step"]), float(r[key])) for r in rows if r.get(key) not in (None, "")]
        return [p[0] for p in pts], [p[1] for p in pts]

    fig, ax = plt.subplots(figsize=(7, 4))
    steps, reward = series("reward_mean")
    if steps:
        ax.plot(steps, reward, color="tab:blue", alpha=0.35, label="train reward (batch mean)")
        w = max(1, len(reward) // 10)
        smooth = [sum(reward[max(0, i - w + 1) : i + 1]) / len(reward[max(0, i - w + 1) : i + 1])
                  for i in range(len(reward))]
        ax.plot(steps, smooth, color="tab:blue", label=f"train reward ({w}-step mean)")
    esteps, acc = series("eval_accuracy")
    if esteps:
        ax.plot(esteps, acc, "o-", color="tab:red", label="held-out accuracy (greedy)")
    ax.set_xlabel("step")
    ax.set_ylabel("reward / accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_curriculum(rows: list[dict[str, Any]], path: Path, title: str = "") -> None:
    """curriculum.png: mean difficulty per step, and the critic's V(x) of chosen vs candidate prompts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def series(key: str) -> tuple[list[int], list[float]]:
        pts = [(int(r["step"]), float(r[key])) for r in rows if r.get(key) not in (None, "")]
        return [p[0] for p in pts], [p[1] for p in pts]

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(7, 5), sharex=True)
    ax1.step(*series("difficulty"), where="mid", color="tab:purple", marker=".", label="mean difficulty of the batch")
    ax1.set_ylabel("difficulty")
    ax1.grid(alpha=0.3)
    if ax1.get_legend_handles_labels()[0]:  # difficulty only on envs with levels
        ax1.legend(loc="upper left")
    ax1.set_title(title)
    for key, color, label in (("v_pool", "tab:gray", "V(x), candidate pool (mean)"),
                              ("v_chosen", "tab:green", "V(x), chosen prompts (mean)")):
        steps, v = series(key)
        if steps:
            ax2.plot(steps, v, color=color, marker=".", label=label)
    ax2.axhline(0.5, color="k", lw=0.5, ls=":")
    ax2.set_ylim(-0.02, 1.02)
    ax2.set_xlabel("step")
    ax2.set_ylabel("critic V(x)")
    ax2.grid(alpha=0.3)
    if ax2.get_legend_handles_labels()[0]:  # V(x) only under the critic curriculum
        ax2.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)

"""Run outputs: metrics.csv (one row per step), reward.png, optional TensorBoard scalars,
summary.json and samples.json."""

from __future__ import annotations

import csv
import json
import math
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .config import TrainConfig
from .evaluation.held_out import Evaluation

#: metrics.csv columns, in order. ``eval_accuracy`` is empty on rows without an evaluation.
COLUMNS = (
    "step", "wall_s", "reward_mean", "eval_accuracy", "policy_loss", "value_loss", "clipfrac",
    "approx_kl", "kl_ref", "entropy", "response_len", "value_mean", "value_brier", "value_corr",
    "grad_norm", "lr", "samples", "sandbox_errors", "gen_s", "update_s", "verify_s",
    "difficulty", "v_chosen", "v_pool",
)
#: Prefixes of the verdict-count columns that follow COLUMNS: ``verdict_<v>`` counts the training
#: batch's ``info["verdict"]`` values (they sum to batch_size), ``eval_verdict_<v>`` the held-out
#: evaluation's (they sum to eval_n).
VERDICT_PREFIXES = ("verdict_", "eval_verdict_")


def verdict_counts(prefix: str, verdicts: Iterable[str]) -> dict[str, int]:
    """``{prefix + verdict: count}`` for the verdicts seen."""
    return {f"{prefix}{v}": n for v, n in sorted(Counter(str(v) for v in verdicts).items())}


def eval_row(ev: Evaluation) -> dict[str, Any]:
    """The metrics.csv entries of one evaluation: accuracy and held-out verdict counts."""
    return {"eval_accuracy": ev.accuracy, **{f"eval_verdict_{v}": n for v, n in ev.verdicts.items()}}


def before_after(before: Evaluation | None, after: Evaluation | None) -> list[dict[str, Any]]:
    """The sampled held-out problems with the answer, verdict and reward before and after training.

    Paired by problem index (every evaluation samples the same first indices); a side that was
    not evaluated (e.g. a resumed run from an old checkpoint) is None.
    """
    rows: dict[int, dict[str, Any]] = {}
    for when, ev in (("before", before), ("after", after)):
        for s in ev.samples if ev is not None else []:
            row = rows.setdefault(s["index"], {"index": s["index"], "prompt": s["prompt"],
                                               "before": None, "after": None})
            row[when] = {k: s[k] for k in ("response", "verdict", "reward")}
    return [rows[i] for i in sorted(rows)]


def write_summary(out: Path, cfg: TrainConfig, rows: list[dict[str, Any]], step: int, wall: float,
                  before: Evaluation | None, after: Evaluation | None) -> dict[str, Any]:
    """summary.json (accuracy and verdicts before/after, the reward curve, the samples) and
    samples.json (the samples alone); returns the summary."""
    samples = before_after(before, after)
    summary = {"env": cfg.env, "model": cfg.model, "algo": cfg.algo, "steps": step,
               "train_wall_s": round(wall, 2),
               "accuracy_before": before.accuracy if before is not None else None,
               "accuracy_after": after.accuracy if after is not None else None,
               "eval_n": cfg.eval_n,
               "verdicts_before": before.verdicts if before is not None else None,
               "verdicts_after": after.verdicts if after is not None else None,
               "reward_curve": [float(r["reward_mean"]) for r in rows if r.get("reward_mean") not in (None, "")],
               "samples": samples}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    (out / "samples.json").write_text(json.dumps(samples, indent=2))
    return summary


class MetricsLog:
    """Append-only CSV; on resume, rows after the checkpoint's step are dropped first.

    The verdict columns are the union of the verdicts seen so far, in sorted order: the trainer
    learns an env's verdicts only from ``info["verdict"]``. When a new verdict shows up the file is
    rewritten with the wider header, so the CSV stays rectangular; rows that counted verdicts
    read 0 in a column added later, rows that did not (e.g. step 0 for ``verdict_*``) stay empty.
    """

    def __init__(self, out: Path, resume_step: int | None = None, tensorboard: bool = False):
        self.path = out / "metrics.csv"
        self.rows: list[dict[str, Any]] = []
        self.columns: list[str] = list(COLUMNS)
        if resume_step is not None and self.path.exists():
            with self.path.open() as f:
                reader = csv.DictReader(f)
                self.rows = [r for r in reader if int(r["step"]) <= resume_step]
                self.columns += [c for c in reader.fieldnames or () if c.startswith(VERDICT_PREFIXES)]
        self._rewrite()
        self.tb = None
        if tensorboard:
            try:  # an optional dependency, needed only with tensorboard=true
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as e:
                raise ValueError("tensorboard=true needs the package: pip install tensorboard") from e
            self.tb = SummaryWriter(str(out / "tb"))

    def write(self, row: dict[str, Any]) -> None:
        """Append one row (keys outside COLUMNS and the verdict prefixes are an error: keep COLUMNS the single list)."""
        extra = {k for k in row if k not in COLUMNS and not k.startswith(VERDICT_PREFIXES)}
        if extra:
            raise KeyError(f"metrics {sorted(extra)} are not in COLUMNS")
        widened = self._widen(row)
        self.rows.append(self._complete({k: _fmt(v) for k, v in row.items()}))
        if widened:
            self._rewrite()
        else:
            with self.path.open("a", newline="") as f:
                csv.DictWriter(f, fieldnames=self.columns).writerow(self.rows[-1])
        if self.tb is not None:
            for k, v in row.items():
                if k != "step" and isinstance(v, (int, float)) and math.isfinite(v):
                    self.tb.add_scalar(k, v, int(row["step"]))

    def amend_last(self, **values: Any) -> None:
        """Add values to the last row (e.g. a final evaluation after a wall-clock stop)."""
        self.rows[-1].update({k: _fmt(v) for k, v in values.items()})
        self._widen(values)
        self._rewrite()

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()

    def _widen(self, row: dict[str, Any]) -> bool:
        """Add the row's new verdict columns (each prefix's columns kept sorted); True if any."""
        new = [k for k in row if k.startswith(VERDICT_PREFIXES) and k not in self.columns]
        if not new:
            return False
        verdict_cols = set(self.columns[len(COLUMNS):]) | set(new)
        self.columns = list(COLUMNS)
        for prefix in VERDICT_PREFIXES:
            self.columns += sorted(c for c in verdict_cols if _prefix(c) == prefix)
        return True

    def _complete(self, row: dict[str, Any]) -> dict[str, str]:
        """Every column of the row: 0 for an unseen verdict where the row counted verdicts, else empty."""
        counted = {_prefix(k) for k, v in row.items() if _prefix(k) and v != ""}
        return {c: row.get(c) or ("0" if _prefix(c) in counted else "") for c in self.columns}

    def _rewrite(self) -> None:
        self.rows = [self._complete(r) for r in self.rows]
        with self.path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self.columns)
            writer.writeheader()
            writer.writerows(self.rows)


def _prefix(column: str) -> str | None:
    """The verdict prefix of a column, or None (no prefix is the start of another)."""
    return next((p for p in VERDICT_PREFIXES if column.startswith(p)), None)


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _pyplot() -> Any:
    """matplotlib.pyplot on the file-only Agg backend. Imported here, when a plot is written: pyplot
    takes ~0.4 s to import, and picking a backend at import time would change it for a notebook
    that imports the trainer."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _series(rows: list[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    """(steps, values) of the rows where ``key`` has a value."""
    pts = [(int(r["step"]), float(r[key])) for r in rows if r.get(key) not in (None, "")]
    return [p[0] for p in pts], [p[1] for p in pts]


def plot_rewards(rows: list[dict[str, Any]], path: Path, title: str = "") -> None:
    """reward.png: training reward per step (and its moving average), held-out accuracy as dots."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    steps, reward = _series(rows, "reward_mean")
    if steps:
        ax.plot(steps, reward, color="tab:blue", alpha=0.35, label="train reward (batch mean)")
        w = max(1, len(reward) // 10)
        smooth = [sum(reward[max(0, i - w + 1) : i + 1]) / len(reward[max(0, i - w + 1) : i + 1])
                  for i in range(len(reward))]
        ax.plot(steps, smooth, color="tab:blue", label=f"train reward ({w}-step mean)")
    esteps, acc = _series(rows, "eval_accuracy")
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
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(7, 5), sharex=True)
    ax1.step(*_series(rows, "difficulty"), where="mid", color="tab:purple", marker=".", label="mean difficulty of the batch")
    ax1.set_ylabel("difficulty")
    ax1.grid(alpha=0.3)
    if ax1.get_legend_handles_labels()[0]:  # difficulty only on envs with levels
        ax1.legend(loc="upper left")
    ax1.set_title(title)
    for key, color, label in (("v_pool", "tab:gray", "V(x), candidate pool (mean)"),
                              ("v_chosen", "tab:green", "V(x), chosen prompts (mean)")):
        steps, v = _series(rows, key)
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

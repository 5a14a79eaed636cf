"""``sppo-gym train``: every TrainConfig field is a command-line option (``--lr 3e-5``), on top
of an optional ``--config YAML``. Kept import-light: torch loads only when training starts."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Optional

import typer

from .config import TrainConfig, load_config

_DOC = """Train a policy on any registered environment with SPPO (default) or a baseline.

Writes DIR/metrics.csv, DIR/reward.png, DIR/checkpoint.pt, DIR/summary.json and the final
policy in DIR/final/ (Hugging Face save_pretrained layout). Prints held-out accuracy
(greedy, split=test) before and after training, the held-out verdict counts, and a few held-out
problems with the answers before and after (also in DIR/samples.json).
"""


def _cli_type(annotation: Any) -> type:
    """The option type typer parses; anything richer arrives as a string that pydantic validates."""
    return annotation if annotation in (int, float, bool, str) else str


def run_training(config: Path | None, resume: bool, overrides: dict[str, Any]) -> dict[str, Any]:
    """Build the config (file <- overrides), train, print the before/after summary."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # models come from disk only
    if os.getcwd() not in sys.path:  # --env my_tasks:my/Task-v0 imports my_tasks.py from here
        sys.path.insert(0, os.getcwd())
    config = config_file(config, resume, overrides)
    try:
        cfg = load_config(config, overrides)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from e
    from .distributed import is_main_process, train  # torch (~1.4 s) loads only when training starts

    summary = train(cfg, resume=resume)  # one process, or each of the N that torchrun started
    if not is_main_process():
        return summary
    before, after = summary["accuracy_before"], summary["accuracy_after"]
    fmt = lambda a: "n/a" if a is None else f"{100 * a:.1f}%"  # noqa: E731
    typer.echo(f"held-out accuracy ({cfg.eval_n} {cfg.env} test problems, greedy): "
               f"before {fmt(before)} -> after {fmt(after)}")
    for line in sample_lines(summary):
        typer.echo(line)
    curve = summary["reward_curve"]
    if curve:
        blocks = "▁▂▃▄▅▆▇█"
        spark = "".join(blocks[min(7, int(r * 8))] for r in curve)
        typer.echo(f"training reward per step (0..1): {spark}  first {curve[0]:.2f}, last {curve[-1]:.2f}")
    typer.echo(f"training wall time {summary['train_wall_s']:.0f} s over {summary['steps']} steps; "
               f"reward curve {Path(cfg.out) / 'reward.png'}, metrics {Path(cfg.out) / 'metrics.csv'}, "
               f"policy {Path(cfg.out) / 'final'}")
    return summary


def config_file(config: Path | None, resume: bool, overrides: dict[str, Any]) -> Path | None:
    """``--config``, or when resuming without one the run's saved config.yaml (if any)."""
    if config is None and resume:
        saved = Path(overrides.get("out") or TrainConfig().out) / "config.yaml"
        return saved if saved.exists() else None
    return config


def launch(nproc: int, config: Path | None, resume: bool, overrides: dict[str, Any]) -> None:
    """Run this same command in ``nproc`` processes under torchrun on this machine (a free port);
    rank 0 prints the summary. The config is checked here first, so a mistake shows once."""
    if "WORLD_SIZE" in os.environ:
        raise typer.BadParameter("--nproc starts torchrun itself: leave it out when launching under torchrun")
    from .distributed import check

    try:
        check(load_config(config_file(config, resume, overrides), overrides), nproc)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from e
    args = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
            "-m", "sppo_gym.trainer", "train", *(["--config", str(config)] if config is not None else []),
            *(["--resume"] if resume else [])]
    for key, value in overrides.items():
        flag = "--" + key.replace("_", "-")
        args += [flag if value else "--no-" + flag[2:]] if isinstance(value, bool) else [flag, str(value)]
    code = subprocess.run(args).returncode
    if code:
        raise typer.Exit(code)


def sample_lines(summary: dict[str, Any], width: int = 160) -> list[str]:
    """Held-out verdict counts and a few problems with the answers before and after training.

    An accuracy alone cannot tell an answer from a restated question; these lines show which it is.
    """
    def counts(v: dict[str, int] | None) -> str:
        return "n/a" if v is None else ", ".join(f"{k} {n}" for k, n in sorted(v.items(), key=lambda kv: -kv[1]))

    def one_line(text: str) -> str:
        return textwrap.shorten(" ".join(text.split()), width, placeholder=" ...") or "''"

    lines = []
    if summary.get("verdicts_before") is not None or summary.get("verdicts_after") is not None:
        lines.append(f"held-out verdicts: before {counts(summary.get('verdicts_before'))} -> "
                     f"after {counts(summary.get('verdicts_after'))}")
    if summary.get("samples"):
        lines.append("held-out samples (greedy; verdict, reward):")
    for s in summary.get("samples", []):
        lines.append(f"  #{s['index']} {one_line(s['prompt'])}")
        for when in ("before", "after"):
            r = s[when]
            lines.append(f"    {when:<6} " + ("(not evaluated)" if r is None else
                                              f"[{r['verdict']}, {r['reward']:g}] {one_line(r['response'])}"))
    return lines


def _build_command() -> Any:
    """A function whose signature lists --config, --resume and one option per config field."""
    params = [
        inspect.Parameter("config", inspect.Parameter.KEYWORD_ONLY, annotation=Optional[Path],  # noqa: UP045
                          default=typer.Option(None, help="YAML file of config fields (command-line options win).")),
        inspect.Parameter("resume", inspect.Parameter.KEYWORD_ONLY, annotation=bool,
                          default=typer.Option(False, help="Continue the run in --out from its checkpoint.pt.")),
        inspect.Parameter("nproc", inspect.Parameter.KEYWORD_ONLY, annotation=int,
                          default=typer.Option(1, help="Data-parallel training processes on this machine (started "
                                                       "by torchrun; see --strategy). Across nodes, start torchrun "
                                                       "yourself: torchrun ... -m sppo_gym.trainer train ...")),
    ]
    for name, field in TrainConfig.model_fields.items():
        params.append(inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, annotation=Optional[_cli_type(field.annotation)],  # noqa: UP045
            default=typer.Option(None, help=" ".join((field.description or "").split()) + f" [default: {field.default!r}]"),
        ))

    def train_command(**kwargs: Any) -> None:
        config, resume, nproc = kwargs.pop("config"), kwargs.pop("resume"), kwargs.pop("nproc")
        overrides = {k: v for k, v in kwargs.items() if v is not None}
        if nproc > 1:
            launch(nproc, config, resume, overrides)
        else:
            run_training(config, resume, overrides)

    train_command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    train_command.__doc__ = _DOC
    train_command.__annotations__ = {p.name: p.annotation for p in params}
    return train_command


train_command = _build_command()

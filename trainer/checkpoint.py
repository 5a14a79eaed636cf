"""Complete checkpoints (nanoGPT style): weights, optimisers, RNG states, config and step,
so that ``--resume`` continues a run exactly where it stopped."""

from __future__ import annotations

import os
import random
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .evaluation.held_out import Evaluation

if TYPE_CHECKING:
    from .loop import Run

CHECKPOINT = "checkpoint.pt"


def save_run(run: Run, step: int, wall: float, before: Evaluation | None) -> Path:
    """Checkpoint everything a resumed run needs: weights, optimisers, curriculum, the evaluation
    before training (for samples.json), config, step, wall clock and RNG states."""
    return save(Path(run.cfg.out), step=step, wall_s=wall, config=run.cfg.model_dump(),
                eval_before=asdict(before) if before is not None else None,
                policy=run.policy.state_dict(), opt=run.opt.state_dict(),
                critic=run.critic.state_dict() if run.critic is not None else None,
                critic_opt=run.critic_opt.state_dict() if run.critic_opt is not None else None,
                curriculum=run.curriculum.state_dict() if run.curriculum is not None else None)


def restore_run(run: Run, state: dict[str, Any]) -> tuple[int, float, Evaluation | None]:
    """Load a checkpoint into a freshly set-up run; returns (step, wall_s, the evaluation before training)."""
    run.policy.load_state_dict(state["policy"])
    run.opt.load_state_dict(state["opt"])
    if run.critic is not None:
        run.critic.load_state_dict(state["critic"])
        run.critic_opt.load_state_dict(state["critic_opt"])  # type: ignore[union-attr]
    if run.curriculum is not None and state.get("curriculum") is not None:
        run.curriculum.load_state_dict(state["curriculum"])
    set_rng_state(state["rng"])
    before = state.get("eval_before")
    if before is None and state.get("accuracy_before") is not None:  # a checkpoint from before eval_before
        before = {"accuracy": state["accuracy_before"]}
    return int(state["step"]), float(state["wall_s"]), Evaluation(**before) if before is not None else None


def rng_state() -> dict[str, Any]:
    """Every random stream the loop draws from."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` saved (CUDA streams only where CUDA is present)."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save(out: Path, **state: Any) -> Path:
    """Write ``out/checkpoint.pt`` atomically (a crash mid-write leaves the previous one)."""
    path = out / CHECKPOINT
    tmp = path.with_suffix(".tmp")
    torch.save({**state, "rng": rng_state()}, tmp)
    os.replace(tmp, path)
    return path


def load(out: Path) -> dict[str, Any]:
    """Read ``out/checkpoint.pt``; a clear error when there is none to resume from."""
    path = out / CHECKPOINT
    if not path.exists():
        raise ValueError(f"--resume: no {CHECKPOINT} in {out}; run without --resume or pick the right --out")
    return torch.load(path, map_location="cpu", weights_only=False)

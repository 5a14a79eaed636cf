"""Complete checkpoints (nanoGPT style): weights, optimisers, RNG states, config and step,
so that ``--resume`` continues a run exactly where it stopped."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

CHECKPOINT = "checkpoint.pt"


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

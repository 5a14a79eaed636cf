"""The SPPO trainer (and GRPO / RLOO / PPO baselines in the same loop).

``from sppo_gym.trainer import TrainConfig, load_config, train`` — kept import-light: the CLI
imports this package on every ``sppo-gym`` call, torch loads only when training starts.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TrainConfig", "load_config", "train"]


def __getattr__(name: str) -> Any:
    # Lazy (PEP 562): the CLI imports this package on every call; torch (~1.4 s) loads with loop.
    if name in ("TrainConfig", "load_config"):
        from . import config

        return getattr(config, name)
    if name == "train":  # loop.train in one process; under torchrun, on this rank's share
        from .distributed import train

        return train
    raise AttributeError(f"module 'sppo_gym.trainer' has no attribute {name!r}")

"""Each algorithm's defaults, in one table: what differs between SPPO and its baselines before the
training step runs. How each one turns rewards into advantages is written out in the step itself
(``loop.advantages``); the losses are the pure functions of ``losses``.

Kept free of torch: the config (and so every ``sppo-gym`` call) reads this table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Algorithm:
    """One row of :data:`ALGORITHMS`."""

    name: str
    group_size: int
    """Samples per prompt when the config leaves ``group_size`` at 0."""
    min_group_size: int
    """The smallest group the advantage works with (a group baseline needs other samples)."""
    critic: Literal["sequence", "token"] | None
    """``sequence``: SPPO's prompt-only critic, one logit V(x) per prompt, BCE against R.
    ``token``: PPO's value before each response token, MSE against the GAE returns. None: no critic."""


#: Every algorithm the trainer runs, with its defaults (SPPO: arXiv 2604.08865; the rest are baselines).
ALGORITHMS: dict[str, Algorithm] = {
    #                  name    group_size  min_group_size  critic
    "sppo": Algorithm("sppo", 1, 1, "sequence"),  # one response per prompt, A = R - V(x)
    "grpo": Algorithm("grpo", 8, 2, None),  # A = (R - group mean) / group std
    "rloo": Algorithm("rloo", 8, 2, None),  # A = R - mean of the other N-1 rewards
    "ppo": Algorithm("ppo", 1, 1, "token"),  # token-level GAE, gamma = lambda = 1
}


def get_algorithm(name: str) -> Algorithm:
    """The table row for ``name``, with a clear error for a typo."""
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise ValueError(f"algo must be one of {sorted(ALGORITHMS)}, got {name!r}") from None

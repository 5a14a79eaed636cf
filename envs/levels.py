"""Difficulty levels for single-step envs: a per-reset level and a mixed-level mode.

An env with levels (Arithmetic-v0, CoqProof-v0, ReasoningGym-v0 tasks with a reasoning-gym
curriculum) mixes :class:`LeveledEnv` into :class:`~sppo_gym.envs.base.SingleStepEnv` and
implements ``level_source(level)``: the problems of one level (each carrying a ``difficulty``
field). Then:

* ``env.reset(options={"difficulty": d})`` draws from level ``d`` (any valid level, not only the
  ones given at make time); ``options={"difficulty": d, "index": i}`` is item ``i`` of level ``d``,
  so ``(info["difficulty"], info["index"])`` always names a problem exactly. The vector env takes
  one level per sub-env: ``options={"difficulty": [d0, d1, ...]}``.
* ``difficulty=[1, 2, 3]`` at make time mixes levels: a reset without a level draws one uniformly
  (``mix_by_level``), and ``options={"index": i}`` is item ``i // 3`` of level ``[1, 2, 3][i % 3]``,
  so held-out problems ``0..n-1`` cover the levels evenly. ``info["difficulty"]`` says which.
  (CoqProof-v0 keeps its documented meaning instead: a list filters the theorem set.)

Each level keeps its own train/test split, so ``split="test"`` stays disjoint per level.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from .problems import ProblemSource


def parse_levels(value: Any, valid: Sequence[int], field: str = "difficulty") -> tuple[int, ...]:
    """One level or a non-empty list of distinct levels, each in ``valid``; clear errors otherwise."""
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    lo, hi = min(valid), max(valid)
    if not values:
        raise ValueError(f"{field} must be an int from {lo} to {hi} or a non-empty list of them, got {value!r}")
    for v in values:
        check_level(v, valid, field)
    if len(set(values)) != len(values):
        raise ValueError(f"{field}={value!r} repeats a level; list each level once")
    return tuple(int(v) for v in values)


def check_level(value: Any, valid: Sequence[int], field: str = "difficulty") -> int:
    """``value`` as a level in ``valid`` (numpy ints accepted; bools and strings are not)."""
    if isinstance(value, np.integer):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value not in valid:
        raise ValueError(f"{field} must be an int from {min(valid)} to {max(valid)} "
                         f"(or a list of them at make time), got {value!r}")
    return value


class LeveledEnv:
    """Mixin (before ``SingleStepEnv``) routing resets to the source of one difficulty level."""

    #: True: a make-time list mixes levels uniformly; False: ``self.source`` already spans them.
    mix_by_level: ClassVar[bool] = True
    #: Make-time levels (set by the subclass before ``SingleStepEnv.__init__``).
    levels: tuple[int, ...] = ()
    #: Every level ``options["difficulty"]`` accepts.
    valid_levels: tuple[int, ...] = ()

    def level_source(self, level: int) -> ProblemSource:
        """The problems of ``level`` (cache them: this runs on every reset)."""
        raise NotImplementedError

    def level_source_for(self, rng: np.random.Generator,
                         opts: Mapping[str, Any]) -> tuple[ProblemSource, Mapping[str, Any]]:
        """Pick the level of this reset; returns its source and the options relative to it."""
        level = opts.get("difficulty")
        if level is not None:
            if not self.valid_levels:
                raise ValueError(f"options['difficulty']: the problems of this {type(self).__name__} have no "
                                 "int 'difficulty' field, so there are no levels to pick from")
            return self.level_source(check_level(level, self.valid_levels)), opts
        if len(self.levels) <= 1 or not self.mix_by_level:
            return self.source, opts  # type: ignore[attr-defined]
        k = len(self.levels)
        index = opts.get("index")
        if index is not None:
            if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or index < 0:
                raise TypeError(f"options['index'] must be a non-negative int, got {index!r}")
            return self.level_source(self.levels[int(index) % k]), {**opts, "index": int(index) // k}
        if opts.get("task_id") is not None:
            for lv in self.levels:
                source = self.level_source(lv)
                try:
                    source.index_of(opts["task_id"])
                except KeyError:
                    continue
                return source, opts
            raise ValueError(f"options['task_id']: {opts['task_id']!r} belongs to none of the levels {list(self.levels)}")
        return self.level_source(self.levels[int(rng.integers(k))]), opts

    def reset_info(self, sel: Any) -> dict[str, Any]:
        info = super().reset_info(sel)  # type: ignore[misc]
        if isinstance(sel.problem.get("difficulty"), (int, np.integer)):  # user data may lack levels
            info["difficulty"] = int(sel.problem["difficulty"])
        return info

    def versions(self) -> dict[str, str]:
        """With several levels the dataset fingerprint covers every level's source."""
        out = super().versions()  # type: ignore[misc]
        if len(self.levels) > 1 and self.mix_by_level:
            joined = "|".join(self.level_source(lv).fingerprint for lv in self.levels)
            out["dataset"] = hashlib.sha256(joined.encode()).hexdigest()[:16]
        return out

"""Difficulty schedules, usable with or without the trainer (no torch).

A schedule says which level to train on next; you pass it to the env each episode::

    schedule = SuccessSchedule(levels=[1, 2, 3, 4], promote=0.8, demote=0.2, window=64)
    for step in range(steps):
        obs, info = envs.reset(options={"difficulty": [schedule.level] * envs.num_envs})
        ...
        schedule.update(rewards)          # rewards earned at schedule.level

* :class:`FixedSchedule` — a level per step: ``[(0, 1), (100, 2), (250, 3)]`` (from step 0 on
  level 1, from step 100 on level 2, ...) or a function ``step -> level``.
* :class:`SuccessSchedule` — promotes when the mean reward of the last ``window`` episodes at the
  current level is ``>= promote``, demotes when it is ``<= demote``, within ``levels`` (ordered
  easy to hard). The window restarts after every change, so each decision only looks at episodes
  of the level it judges. Rewards in [0, 1]; partial credit counts as its value.

Both have ``state_dict()`` / ``load_state_dict()`` (plain JSON-able data) so a resumed run
continues exactly where it stopped.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any


def _check_levels(levels: Sequence[int]) -> list[int]:
    if isinstance(levels, (str, bytes)) or not isinstance(levels, Sequence) or not levels:
        raise ValueError(f"levels must be a non-empty list of ints (easy to hard), got {levels!r}")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in levels) or len(set(levels)) != len(levels):
        raise ValueError(f"levels must be distinct ints (easy to hard), got {list(levels)!r}")
    return list(levels)


class FixedSchedule:
    """A level chosen by the step alone: breakpoints ``[(step, level), ...]`` or a function."""

    def __init__(self, schedule: Sequence[tuple[int, int]] | Callable[[int], int]):
        if callable(schedule):
            self._fn: Callable[[int], int] | None = schedule
            self._steps: list[int] = []
            self._levels: list[int] = []
            return
        self._fn = None
        points = [tuple(p) for p in schedule] if isinstance(schedule, Sequence) else []
        if not points or not all(len(p) == 2 and all(isinstance(x, int) and not isinstance(x, bool) for x in p)
                                 for p in points):
            raise ValueError(f"schedule must be a non-empty list of (step, level) int pairs or a function "
                             f"step -> level, got {schedule!r}")
        self._steps = [p[0] for p in points]
        if self._steps != sorted(self._steps) or len(set(self._steps)) != len(self._steps) or self._steps[0] > 0:
            raise ValueError(f"schedule steps must increase strictly and start at 0 (or below), got {self._steps}")
        self._levels = [p[1] for p in points]

    def level_at(self, step: int) -> int:
        """The level for ``step``."""
        if self._fn is not None:
            level = self._fn(step)
            if isinstance(level, bool) or not isinstance(level, int):
                raise TypeError(f"the schedule function returned {level!r} for step {step}; it must return an int")
            return level
        return self._levels[max(0, bisect.bisect_right(self._steps, step) - 1)]

    def state_dict(self) -> dict[str, Any]:
        return {}  # a function of the step: nothing to save

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


class SuccessSchedule:
    """Promote / demote by the recent success rate at the current level (see the module doc)."""

    def __init__(self, levels: Sequence[int], *, promote: float = 0.8, demote: float = 0.2, window: int = 64,
                 start: int | None = None):
        self.levels = _check_levels(levels)
        if not 0.0 <= demote < promote <= 1.0:
            raise ValueError(f"need 0 <= demote < promote <= 1, got demote={demote}, promote={promote}")
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"window must be a positive int (episodes), got {window!r}")
        if start is not None and start not in self.levels:
            raise ValueError(f"start={start!r} is not one of levels {self.levels}")
        self.promote, self.demote, self.window = float(promote), float(demote), window
        self._pos = self.levels.index(start) if start is not None else 0
        self._recent: deque[float] = deque(maxlen=window)
        self.changes = 0

    @property
    def level(self) -> int:
        """The level to train on now."""
        return self.levels[self._pos]

    @property
    def success_rate(self) -> float | None:
        """Mean reward over the current window (``None`` before any episode at this level)."""
        return sum(self._recent) / len(self._recent) if self._recent else None

    def update(self, rewards: Iterable[float]) -> int:
        """Record rewards earned at the current level; returns the (possibly new) level."""
        for r in rewards:
            r = float(r)
            if not 0.0 <= r <= 1.0:
                raise ValueError(f"rewards must be in [0, 1], got {r}")
            self._recent.append(r)
            if len(self._recent) < self.window:
                continue
            rate = self.success_rate
            if rate >= self.promote and self._pos < len(self.levels) - 1:  # type: ignore[operator]
                self._move(+1)
            elif rate <= self.demote and self._pos > 0:  # type: ignore[operator]
                self._move(-1)
        return self.level

    def _move(self, delta: int) -> None:
        self._pos += delta
        self._recent.clear()
        self.changes += 1

    def state_dict(self) -> dict[str, Any]:
        return {"pos": self._pos, "recent": list(self._recent), "changes": self.changes}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._pos = int(state["pos"])
        self._recent = deque((float(r) for r in state["recent"]), maxlen=self.window)
        self.changes = int(state["changes"])

"""The suite's vector env: N single-step episodes, the whole batch verified in one concurrent call.

``gymnasium.make_vec(id, num_envs=N, **env_kwargs)`` returns this env (it is every built-in id's
``vector_entry_point``). It holds ONE single env (problem source, prompt builder, verifier) and
N independent RNGs and current problems; ``step`` scores all N responses with a single
``verifier.verify_batch`` call, which runs them concurrently through the sandbox pool.

Trainer loop (the path the SPPO trainer uses)::

    envs = gymnasium.make_vec("sppo_gym/MathAnswer-v0", num_envs=B, data="train.jsonl")
    obs, infos = envs.reset(seed=step, options={"index": [i0, i1, ...]})   # one index per sub-env
    # obs: tuple of B prompt strings; infos["task_id"], infos["answer"]: arrays of length B
    _, rewards, terminated, truncated, infos = envs.step(list_of_B_responses)
    # rewards: float64 [B]; terminated: all True; truncated: all False
    keep = infos["verdict"] != SANDBOX_ERROR       # from sppo_gym.envs; infra failures are not 0-reward answers

Options: ``{"index": [...]}`` or ``{"task_id": [...]}`` with exactly ``num_envs`` entries (``None`` =
random draw for that sub-env); ``{"difficulty": [...]}`` (or one int for all) picks each sub-env's
level on envs with levels (``sppo_gym.envs.levels``); ``{"reset_mask": bool array}`` resets only the
masked sub-envs.
Several sub-envs may share an index: that is how to sample k responses per prompt.

Seeding: ``reset(seed=s)`` seeds sub-env ``i`` from ``SeedSequence(s).spawn(N)[i]`` (independent
streams; neighbouring seeds do not share problems); ``seed=[s0, s1, ...]`` seeds sub-env ``i``
exactly like a single env ``reset(seed=s_i)``, so it draws the same problem.

Info: a dict of arrays (object arrays for strings, ``bool``/``float`` arrays otherwise), with the
``_key`` masks Gymnasium uses; nested dicts (``versions``, ``extra``) are nested dicts of arrays.

Autoreset (single-step episodes end on every step):
* ``autoreset_mode="disabled"`` (default, ``AutoresetMode.DISABLED``): ``step`` returns the prompts
  just answered as ``obs`` and the verification info at the top level; call ``reset`` before the
  next ``step`` (stepping again raises ``ResetNeeded``).
* ``autoreset_mode="same_step"`` (``AutoresetMode.SAME_STEP``, for generic RL loops that never call
  reset): ``step`` verifies, then draws fresh problems at once: ``obs`` are the new prompts,
  top-level ``infos`` describe the new problems, and ``infos["final_info"]`` holds the
  verification info (``verdict``, ``passed``, ...) and ``infos["final_obs"]`` the answered prompts.

``vectorization_mode="sync"`` instead builds Gymnasium's ``SyncVectorEnv`` over single envs: it
verifies one response at a time, passes the SAME ``options`` to every sub-env (so use a scalar
index, or per-sub-env seeds), and its default ``NEXT_STEP`` autoreset turns every other step into
a reset that ignores the actions — call ``reset`` before each ``step`` or pass
``vector_kwargs={"autoreset_mode": gymnasium.vector.AutoresetMode.SAME_STEP}``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from gymnasium.envs.registration import load_env_creator
from gymnasium.error import ResetNeeded
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from .base import Selection, SingleStepEnv
from .registry import BUILTIN_ENVS, vector_class_name

_MODES = {"disabled": AutoresetMode.DISABLED, "same_step": AutoresetMode.SAME_STEP}
_MISSING = object()


def _autoreset_mode(mode: str | AutoresetMode) -> AutoresetMode:
    if isinstance(mode, AutoresetMode) and mode in _MODES.values():
        return mode
    key = str(getattr(mode, "value", mode)).lower().replace("step", "_step").replace("__", "_")
    if key not in _MODES:
        raise ValueError(f"autoreset_mode={mode!r}; supported: 'disabled' (default) or 'same_step'")
    return _MODES[key]


class SingleStepVectorEnv(VectorEnv):
    """N single-step sub-envs over one problem source, verified as one batch (see module doc)."""

    env_entry_point: ClassVar[str | None] = None
    """``"module:Class"`` of the single env, set by the per-id subclasses."""

    def __init__(self, num_envs: int = 1, *, env_fn: Callable[..., SingleStepEnv] | None = None,
                 autoreset_mode: str | AutoresetMode = AutoresetMode.DISABLED, **env_kwargs: Any):
        if not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive int, got {num_envs!r}")
        if env_fn is None:
            if self.env_entry_point is None:
                raise TypeError("SingleStepVectorEnv needs env_fn=<callable returning a SingleStepEnv>")
            env_fn = load_env_creator(self.env_entry_point)
        self.env: SingleStepEnv = env_fn(**env_kwargs)
        if not isinstance(self.env, SingleStepEnv):
            raise TypeError(f"env_fn must build a SingleStepEnv, got {type(self.env).__name__}")
        self.num_envs = int(num_envs)
        self.autoreset_mode = _autoreset_mode(autoreset_mode)
        self.metadata = {**self.env.metadata, "autoreset_mode": self.autoreset_mode}
        self.render_mode = None
        self.single_observation_space = self.env.observation_space
        self.single_action_space = self.env.action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._rngs: list[np.random.Generator] | None = None
        self._sels: list[Selection | None] = [None] * self.num_envs
        self._stepped = np.zeros(self.num_envs, dtype=bool)

    # ----- reset --------------------------------------------------------------------------
    def reset(self, *, seed: int | Sequence[int | None] | None = None,
              options: dict[str, Any] | None = None) -> tuple[tuple[str, ...], dict[str, Any]]:
        self._seed(seed)
        per_env, mask = self._split_options(options)
        infos: list[dict | None] = [None] * self.num_envs
        for i in np.flatnonzero(mask):
            sel = self.env.select(self._rngs[i], per_env[i])
            self._sels[i] = sel
            self._stepped[i] = False
            infos[i] = self.env.reset_info(sel)
        return self._obs(), stack_infos(infos)

    def _seed(self, seed: int | Sequence[int | None] | None) -> None:
        n = self.num_envs
        if seed is None:
            if self._rngs is None:
                self._rngs = [np.random.Generator(np.random.PCG64(s)) for s in np.random.SeedSequence().spawn(n)]
            return
        if isinstance(seed, (int, np.integer)):
            children = np.random.SeedSequence(int(seed)).spawn(n)
            self._rngs = [np.random.Generator(np.random.PCG64(s)) for s in children]
            return
        if not isinstance(seed, Sequence) or len(seed) != n:
            raise ValueError(f"seed must be None, an int, or a list of {n} ints/None (one per sub-env); got {seed!r}")
        if self._rngs is None:
            self._seed(None)
        for i, s in enumerate(seed):
            if s is not None:
                self._rngs[i] = seeding.np_random(int(s))[0]

    def _split_options(self, options: Mapping[str, Any] | None) -> tuple[list[dict], np.ndarray]:
        """Per-sub-env option dicts from ``{"index": [...]}`` / ``{"task_id": [...]}``, and the reset mask."""
        n = self.num_envs
        opts = dict(options or {})
        mask = opts.pop("reset_mask", None)
        if mask is None:
            mask = np.ones(n, dtype=bool)
        else:
            mask = np.asarray(mask)
            if mask.dtype != np.bool_ or mask.shape != (n,):
                raise ValueError(f"options['reset_mask'] must be a bool array of shape ({n},), got {mask.dtype} {mask.shape}")
        per_env: list[dict] = [{} for _ in range(n)]
        for key, values in opts.items():
            if key not in ("index", "task_id", "difficulty"):
                raise ValueError(f"unknown reset option {key!r}; supported: 'index', 'task_id', 'difficulty', "
                                 "'reset_mask'")
            if key == "difficulty" and (values is None or isinstance(values, (int, np.integer))):
                values = [values] * n  # one level for every sub-env
            if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)) or len(values) != n:
                raise ValueError(f"options[{key!r}] must be a list with one entry per sub-env ({n}), got {values!r}")
            for i, v in enumerate(values):
                per_env[i][key] = v
        return per_env, mask

    def _obs(self) -> tuple[str, ...]:
        if any(s is None for s in self._sels):
            raise ResetNeeded("call reset() (without reset_mask) before using every sub-env")
        return tuple(s.prompt for s in self._sels)  # type: ignore[union-attr]

    # ----- step ---------------------------------------------------------------------------
    def step(self, actions: Sequence[str]) -> tuple[tuple[str, ...], np.ndarray, np.ndarray, np.ndarray, dict]:
        sels = self._check_step(actions)
        t0 = time.perf_counter()
        scores = self.env.verifier.verify_batch(list(zip(actions, [s.problem for s in sels], strict=True)))
        verify_s = time.perf_counter() - t0
        rewards = np.fromiter((s.reward for s in scores), dtype=np.float64, count=self.num_envs)
        terminated = np.ones(self.num_envs, dtype=bool)
        truncated = np.zeros(self.num_envs, dtype=bool)
        infos = stack_infos([self.env.step_info(sel, sc, verify_s) for sel, sc in zip(sels, scores, strict=True)])
        obs = tuple(s.prompt for s in sels)
        if self.autoreset_mode is AutoresetMode.SAME_STEP:
            final_obs = np.empty(self.num_envs, dtype=object)
            for i, prompt in enumerate(obs):
                final_obs[i] = prompt
            obs, infos_new = self.reset()
            infos_new.update(final_obs=final_obs, _final_obs=terminated.copy(),
                             final_info=infos, _final_info=terminated.copy())
            return obs, rewards, terminated, truncated, infos_new
        self._stepped[:] = True
        return obs, rewards, terminated, truncated, infos

    def _check_step(self, actions: Sequence[str]) -> list[Selection]:
        if isinstance(actions, str) or not isinstance(actions, (Sequence, np.ndarray)):
            raise TypeError(f"actions must be a list of {self.num_envs} response strings, got {type(actions).__name__}")
        if len(actions) != self.num_envs:
            raise ValueError(f"got {len(actions)} actions for {self.num_envs} sub-envs")
        for i, a in enumerate(actions):
            if not isinstance(a, str):
                raise TypeError(f"actions[{i}] must be the response text (str), got {type(a).__name__}")
        if any(s is None for s in self._sels):
            raise ResetNeeded("call reset() before step()")
        if self._stepped.any():
            raise ResetNeeded("these single-step episodes have ended; call reset() before the next step() "
                              "(autoreset_mode='disabled'; pass autoreset_mode='same_step' to make_vec to autoreset)")
        return self._sels  # type: ignore[return-value]

    def close_extras(self, **kwargs: Any) -> None:
        self.env.close()


def stack_infos(infos: Sequence[dict | None]) -> dict[str, Any]:
    """Per-sub-env info dicts -> one dict of arrays plus ``_key`` masks (Gymnasium's layout)."""
    n = len(infos)
    out: dict[str, Any] = {}
    keys = dict.fromkeys(k for info in infos if info for k in info)
    for key in keys:
        vals = [info.get(key, _MISSING) if info is not None else _MISSING for info in infos]
        present = np.fromiter((v is not _MISSING for v in vals), dtype=bool, count=n)
        kinds = {type(v) for v in vals if v is not _MISSING}
        if kinds == {dict}:
            out[key] = stack_infos([v if v is not _MISSING else None for v in vals])
        elif len(kinds) == 1 and next(iter(kinds)) in (bool, int, float):
            out[key] = np.array([v if v is not _MISSING else 0 for v in vals], dtype=next(iter(kinds)))
        else:
            arr = np.empty(n, dtype=object)
            for i, v in enumerate(vals):  # element-wise: list values must not broadcast
                arr[i] = v if v is not _MISSING else None
            out[key] = arr
        out["_" + key] = present
    return out


_VECTOR_CLASSES: dict[str, type[SingleStepVectorEnv]] = {}


def __getattr__(name: str) -> type[SingleStepVectorEnv]:
    """``ArithmeticVectorEnv`` etc.: per-id subclasses named by the registry's vector entry points."""
    if name in _VECTOR_CLASSES:
        return _VECTOR_CLASSES[name]
    for env in BUILTIN_ENVS:
        if vector_class_name(env.entry_point) == name:
            cls = type(name, (SingleStepVectorEnv,), {
                "env_entry_point": env.entry_point, "__module__": __name__,
                "__doc__": f"Vector env of ``{env.id}`` ({env.description}); see the module docstring.",
            })
            _VECTOR_CLASSES[name] = cls
            return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

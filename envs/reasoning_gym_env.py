"""``sppo_gym/ReasoningGym-v0``: any reasoning-gym task, scored by that task's own scorer.

Description
    ``gymnasium.make("sppo_gym/ReasoningGym-v0", task="basic_arithmetic", max_terms=4)`` serves
    problems of one reasoning-gym task; every keyword the task's config dataclass accepts can be
    passed (``sppo-gym envs`` lists the task names). ``seed``/``size`` of reasoning-gym's config are
    replaced by this suite's ``dataset_seed``/``size``/``split``: item ``i`` is the task's item built
    with a seed drawn from ``blake2b(dataset_seed, split, i)`` (reasoning-gym itself uses
    ``Random(seed + i)``, whose neighbouring seeds overlap).
Observation
    The task's question followed by ``PROMPT_SUFFIX``, which asks for the final answer inside
    ``<answer></answer>`` tags.
Action
    The whole response. The last ``<answer>...</answer>`` span (stripped) is the answer, as in
    ``reasoning_gym.utils.extract_answer``; without one the verdict is ``no_answer``.
Reward
    The task's ``score_answer`` on that answer, run inside the sandbox (scorers may ``eval`` the
    answer), in [0, 1]. Verdicts: ``correct`` (1), ``partial`` (0 < r < 1), ``wrong`` (0),
    ``no_answer``. ``partial_credit=False`` turns every reward below 1 into 0.
Episode end
    After one step (``terminated=True``).
Version history
    v0: initial version.

>>> import gymnasium, sppo_gym.envs
>>> env = gymnasium.make("sppo_gym/ReasoningGym-v0", task="basic_arithmetic")
>>> obs, info = env.reset(seed=0)
>>> "<answer>" in obs and info["answer"] is not None
True
"""

from __future__ import annotations

import base64
import dataclasses
import difflib
import functools
import pickle
from typing import Any

import numpy as np

from .base import MAX_RESPONSE_CHARS, SingleStepEnv
from .problems import ProceduralSource

PROMPT_SUFFIX = (
    "\n\nGive only the final answer inside <answer></answer> tags, e.g. <answer>your answer</answer>, "
    "in the format the question asks for."
)
_RG_SEED_RANGE = 2**31  # reasoning-gym seeds feed Random() and sometimes numpy: keep them in int32


@functools.cache
def task_names() -> tuple[str, ...]:
    """Every reasoning-gym task name (imports reasoning_gym)."""
    from reasoning_gym.factory import DATASETS

    return tuple(sorted(DATASETS))


def check_task_config(task: str, config: dict[str, Any]) -> None:
    """Fail early, naming the field, on an unknown task or config field or an invalid config."""
    from reasoning_gym.factory import DATASETS

    if task not in DATASETS:
        close = difflib.get_close_matches(str(task), list(DATASETS), n=3)
        hint = f"; did you mean {close}?" if close else "; `sppo-gym envs` lists them"
        raise ValueError(f"task={task!r} is not a reasoning-gym task{hint}")
    for key in ("seed", "size"):
        if key in config:
            raise ValueError(f"do not pass {key}= (reasoning-gym config): use dataset_seed= and size= of this env, "
                             "whose items are hashed from (dataset_seed, split, index)")
    config_cls = DATASETS[task][1]
    fields = {f.name for f in dataclasses.fields(config_cls)} - {"seed", "size"}
    unknown = sorted(set(config) - fields)
    if unknown:
        raise TypeError(f"unknown config field(s) {unknown} for reasoning-gym task {task!r}; it accepts {sorted(fields)}")
    try:
        cfg = config_cls(**config, seed=0, size=1)
        if hasattr(cfg, "validate"):
            cfg.validate()
    except (AssertionError, ValueError, TypeError) as e:
        raise ValueError(f"invalid config for reasoning-gym task {task!r} ({config}): {e}") from e


class TaskItems:
    """Procedural generator ``(rng) -> problem`` for one task: builds entry 0 of a size-1 dataset."""

    def __init__(self, task: str, config: dict[str, Any]):
        self.task = task
        self.config = dict(config)

    def __call__(self, rng: np.random.Generator) -> dict[str, Any]:
        import reasoning_gym

        seed = int(rng.integers(_RG_SEED_RANGE))
        entry = reasoning_gym.create_dataset(self.task, **self.config, seed=seed, size=1)[0]
        # The exact entry travels to the scorer: rebuilding it there is not always reproducible
        # (polynomial_multiplication depends on PYTHONHASHSEED).
        blob = base64.b64encode(pickle.dumps(entry, protocol=4)).decode()
        return {"question": entry["question"], "answer": entry["answer"],
                "task": self.task, "config": dict(self.config), "seed": seed, "entry": blob}

    def __repr__(self) -> str:  # part of the dataset fingerprint: must be stable
        from importlib.metadata import version

        return f"TaskItems({self.task!r}, {sorted(self.config.items())!r}, reasoning_gym={version('reasoning-gym')})"


class ReasoningGymEnv(SingleStepEnv):
    """A reasoning-gym task as a single-step env (see the module docstring for the card)."""

    required_fields = ("question", "answer", "task", "config", "seed", "entry")

    def __init__(self, task: str = "basic_arithmetic", *, partial_credit: bool = True, split: str = "train",
                 dataset_seed: int = 0, size: int | None = None, timeout_s: float | None = None,
                 max_response_chars: int = MAX_RESPONSE_CHARS, render_mode: str | None = None, **config: Any):
        check_task_config(task, config)
        self.task = task
        source = ProceduralSource(TaskItems(task, config), seed=dataset_seed, split=split, size=size,
                                  name=f"reasoning_gym/{task}", required=self.required_fields)
        super().__init__(source, verifier=self._verifier(partial_credit, timeout_s, max_response_chars),
                         split=split, max_response_chars=max_response_chars, render_mode=render_mode)

    @staticmethod
    def _verifier(partial_credit: bool, timeout_s: float | None, max_chars: int) -> Any:
        from sppo_gym.sandbox import Limits
        from sppo_gym.verifiers.reasoning_gym import ReasoningGymVerifier

        limits = Limits(wall_s=float(timeout_s)) if timeout_s is not None else None
        return ReasoningGymVerifier(partial_credit=partial_credit, limits=limits, max_chars=max_chars)

    def build_prompt(self, problem: dict) -> str:
        return problem["question"] + PROMPT_SUFFIX

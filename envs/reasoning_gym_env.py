"""``sppo_gym/ReasoningGym-v0``: any reasoning-gym task, scored by that task's own scorer.

Description
    ``gymnasium.make("sppo_gym/ReasoningGym-v0", task="basic_arithmetic", max_terms=4)`` serves
    problems of one reasoning-gym task; every keyword the task's config dataclass accepts can be
    passed (``sppo-gym envs`` lists the task names). ``seed``/``size`` of reasoning-gym's config are
    replaced by this suite's ``dataset_seed``/``size``/``split``: item ``i`` is the task's item built
    with a seed drawn from ``blake2b(dataset_seed, split, i)`` (reasoning-gym itself uses
    ``Random(seed + i)``, whose neighbouring seeds overlap).
Difficulty
    Tasks with a reasoning-gym curriculum (``reasoning_gym.factory.has_curriculum``) have levels
    ``1..n`` (level ``d`` = the curriculum's global level ``d - 1``; it sets the curriculum's
    attribute fields, which must then not be passed as config). ``difficulty=2`` or ``[1, 2, 3]``
    (mixed uniformly) at make time, ``reset(options={"difficulty": d})`` per episode;
    ``info["difficulty"]`` says which (see ``sppo_gym.envs.levels``).
Observation
    ``prompt_style="suffix"`` (default): the task's question followed by ``PROMPT_SUFFIX``, which
    asks for the final answer inside ``<answer></answer>`` tags. ``prompt_style="xml"``: the
    question inside ``<question></question>`` tags, then ``XML_INSTRUCTION`` ("Write your final
    answer inside <answer></answer> XML tags."). Small chat models (SmolLM2-135M-Instruct) ignore
    the default wording and never write the tags, so every reply scores ``no_answer``; with the
    xml wording 12-100 of 100 greedy replies carry them (9 tasks screened at difficulty 1). Only
    the prompt differs: the answer, scorer and reward are the same.
Action
    The whole response. The last ``<answer>...</answer>`` span (stripped) is the answer, as in
    ``reasoning_gym.utils.extract_answer``; without one the verdict is ``no_answer``.
Reward
    The task's ``score_answer`` on that answer, run inside the sandbox (scorers may ``eval`` the
    answer). By default the reward is binary: 1 when the scorer gives full marks, else 0
    (``wrong``). ``partial_credit=True`` passes the scorer's fractional rewards through (verdict
    ``partial``); it is off by default because many tasks use reasoning-gym's base-class scorer,
    which pays ``len(answer)/len(reply)`` for any reply that merely *contains* the answer: a policy
    that lists numbers from the question (``<answer>841, 922</answer>`` for a GCD of 1) earns reward
    without solving anything. Verdicts: ``correct``, ``wrong``, ``no_answer`` (+ ``partial``).
Info
    ``info["answer"]`` is the task's reference answer (a string), or ``None`` for tasks without a
    unique answer, whose scorer checks the reply against the puzzle itself (``propositional_logic``,
    ``graph_color``, ``boxnet``, ``rubiks_cube``, ``rush_hour``, ...): never the string ``"None"``.
Episode end
    After one step (``terminated=True``).
Version history
    v0: initial version. Verifier ``reasoning_gym/2`` (see ``info["versions"]``): binary by
    default; under ``reasoning_gym/1`` partial credit was on by default. Later: the opt-in
    ``prompt_style="xml"`` (the default prompt is unchanged).

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
from importlib.metadata import version
from typing import Any

import numpy as np
from sppo_gym.sandbox import Limits
from sppo_gym.verifiers.reasoning_gym.verifier import ReasoningGymVerifier

from .base import MAX_RESPONSE_CHARS, SingleStepEnv
from .levels import LeveledEnv, parse_levels
from .problems import ProceduralSource

PROMPT_SUFFIX = (
    "\n\nGive only the final answer inside <answer></answer> tags, e.g. <answer>your answer</answer>, "
    "in the format the question asks for."
)
XML_INSTRUCTION = "Write your final answer inside <answer></answer> XML tags."
#: ``prompt_style`` -> how the prompt is built from the question (the answer format asked for is the same).
PROMPT_STYLES = {
    "suffix": lambda question: question + PROMPT_SUFFIX,
    "xml": lambda question: f"<question>{question}</question>\n{XML_INSTRUCTION}",
}
_RG_SEED_RANGE = 2**31  # reasoning-gym seeds feed Random() and sometimes numpy: keep them in int32


@functools.cache
def task_names() -> tuple[str, ...]:
    """Every reasoning-gym task name (imports reasoning_gym)."""
    # lazy: reasoning_gym takes ~1.6 s to import (python -X importtime)
    from reasoning_gym.factory import DATASETS

    return tuple(sorted(DATASETS))


def check_task_config(task: str, config: dict[str, Any]) -> None:
    """Fail early, naming the field, on an unknown task or config field or an invalid config."""
    # lazy: reasoning_gym takes ~1.6 s to import (python -X importtime)
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

    def __init__(self, task: str, config: dict[str, Any], level: int | None = None):
        self.task = task
        self.config = dict(config)
        self.level = level

    def __call__(self, rng: np.random.Generator) -> dict[str, Any]:
        import reasoning_gym  # lazy: ~1.6 s to import (python -X importtime)

        seed = int(rng.integers(_RG_SEED_RANGE))
        entry = reasoning_gym.create_dataset(self.task, **self.config, seed=seed, size=1)[0]
        # The exact entry travels to the scorer: rebuilding it there is not always reproducible
        # (polynomial_multiplication depends on PYTHONHASHSEED).
        blob = base64.b64encode(pickle.dumps(entry, protocol=4)).decode()
        row = {"question": entry["question"], "answer": entry["answer"],
               "task": self.task, "config": dict(self.config), "seed": seed, "entry": blob}
        if self.level is not None:
            row["difficulty"] = self.level
        return row

    def __repr__(self) -> str:  # part of the dataset fingerprint: must be stable
        level = "" if self.level is None else f", level={self.level}"
        return f"TaskItems({self.task!r}, {sorted(self.config.items())!r}{level}, reasoning_gym={version('reasoning-gym')})"


def curriculum_levels(task: str) -> int:
    """Number of levels of the task's reasoning-gym curriculum (0 when it has none)."""
    # lazy: reasoning_gym takes ~1.6 s to import (python -X importtime)
    from reasoning_gym.factory import create_curriculum, has_curriculum

    if not has_curriculum(task):
        return 0
    return max((len(a.levels) for a in create_curriculum(task).attributes.values()), default=0)


def curriculum_config(task: str, level: int) -> dict[str, Any]:
    """The config fields reasoning-gym's curriculum sets at global level ``level - 1`` (1-based here)."""
    # lazy: reasoning_gym takes ~1.6 s to import (python -X importtime)
    from reasoning_gym.coaching.attributes import RangeAttributeDefinition
    from reasoning_gym.factory import create_curriculum

    curriculum = create_curriculum(task)
    curriculum.set_global_level(level - 1)  # attributes with fewer levels stay at their highest
    config = curriculum.generate_configuration({"seed": 0, "size": 1})
    names: list[str] = []
    for attr in curriculum.attributes.values():
        names += ([attr.lower_field_name, attr.upper_field_name] if isinstance(attr, RangeAttributeDefinition)
                  else [attr.field_name])
    return {n: list(v) if isinstance(v, tuple) else v for n in names for v in [getattr(config, n)]}


class ReasoningGymEnv(LeveledEnv, SingleStepEnv):
    """A reasoning-gym task as a single-step env (see the module docstring for the card)."""

    required_fields = ("question", "answer", "task", "config", "seed", "entry")

    def __init__(self, task: str = "basic_arithmetic", *, partial_credit: bool = False, split: str = "train",
                 dataset_seed: int = 0, size: int | None = None, timeout_s: float | None = None,
                 max_response_chars: int = MAX_RESPONSE_CHARS, render_mode: str | None = None,
                 difficulty: int | list[int] | None = None, prompt_style: str = "suffix", **config: Any):
        if not isinstance(prompt_style, str) or prompt_style not in PROMPT_STYLES:
            raise ValueError(f"prompt_style={prompt_style!r}; allowed: {sorted(PROMPT_STYLES)}")
        check_task_config(task, config)
        self.prompt_style = prompt_style
        self.task = task
        self.config = dict(config)
        self.valid_levels = tuple(range(1, curriculum_levels(task) + 1))
        self._level_args = {"seed": dataset_seed, "split": split, "size": size}
        self._sources: dict[int, ProceduralSource] = {}
        if difficulty is None:
            source = ProceduralSource(TaskItems(task, config), **self._level_args,
                                      name=f"reasoning_gym/{task}", required=self.required_fields)
        else:
            if not self.valid_levels:
                raise ValueError(f"difficulty: reasoning-gym task {task!r} has no curriculum, so no levels; "
                                 "leave difficulty unset")
            self.levels = parse_levels(difficulty, self.valid_levels)
            source = self.level_source(self.levels[0])
        super().__init__(source, verifier=self._verifier(partial_credit, timeout_s, max_response_chars),
                         split=split, max_response_chars=max_response_chars, render_mode=render_mode)

    @staticmethod
    def _verifier(partial_credit: bool, timeout_s: float | None, max_chars: int) -> Any:
        limits = Limits(wall_s=float(timeout_s)) if timeout_s is not None else None
        return ReasoningGymVerifier(partial_credit=partial_credit, limits=limits, max_chars=max_chars)

    def level_source(self, level: int) -> ProceduralSource:
        """Items at level ``level`` of the task's reasoning-gym curriculum (its fields plus the user's others)."""
        if level not in self._sources:
            level_config = curriculum_config(self.task, level)
            clash = sorted(set(level_config) & set(self.config))
            if clash:
                raise ValueError(f"difficulty: the curriculum of {self.task!r} sets {clash}; do not pass them "
                                 "as config fields when using difficulty levels")
            config = {**self.config, **level_config}
            check_task_config(self.task, config)
            self._sources[level] = ProceduralSource(TaskItems(self.task, config, level), **self._level_args,
                                                    name=f"reasoning_gym/{self.task}/d{level}",
                                                    required=self.required_fields)
        return self._sources[level]

    def build_prompt(self, problem: dict) -> str:
        return PROMPT_STYLES[self.prompt_style](problem["question"])

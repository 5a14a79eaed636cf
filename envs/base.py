"""The single-step environment every sppo-gym task is built on.

One episode = one problem: ``reset`` picks a problem and returns its prompt; ``step(response)``
hands the whole response to the problem's verifier and returns the outcome reward with
``terminated=True``. A second ``step`` without ``reset`` raises ``gymnasium.error.ResetNeeded``.

How to write a built-in env (helpers: read this)
------------------------------------------------
Subclass :class:`SingleStepEnv`, set the class attributes, and pass the problems to
``super().__init__``; everything else (spaces, seeding, ``options``, info, versions, the vector
env, ``check_env``) comes from the base class::

    class MathAnswerEnv(SingleStepEnv):
        verifier_name = "math"                  # a name for sppo_gym.verifiers.get_verifier
        prompt_template = "{problem}\\n\\nPut the final answer in \\\\boxed{{}}."
        required_fields = ("problem", "answer")  # checked for every row at load time
        id_field = "task_id"                     # row field naming the problem (else "<source>/<i>")
        answer_field = "answer"                  # goes to info["answer"]; None if no reference answer

        def __init__(self, data=None, **kwargs):
            super().__init__(data or BUNDLED_JSONL, **kwargs)

    ``problems`` (first argument) is anything :func:`sppo_gym.envs.problems.as_source` accepts: a
    JSONL path, a local file/folder ``datasets`` reads, a list of dicts, or a procedural generator
    ``(rng) -> dict`` (use ``functools.partial(gen, difficulty=d)`` for options).

Optional hooks: ``prepare_problem(problem) -> dict`` turns a raw row into the dict the verifier
consumes (e.g. normalise a GSM8K ``#### 42`` answer); ``build_prompt(problem) -> str`` when a format
string is not enough; ``reference_answer(problem)``; ``verifier_options`` (class dict, passed to
``get_verifier``). Keep ``__init__`` keyword arguments JSON-able: they appear in ``env.spec``.

Common keyword arguments: ``split`` (procedural: part of the item hash; dataset folders: the split
to load), ``dataset_seed`` (procedural: which dataset), ``size`` (procedural: number of items),
``timeout_s`` (sandbox wall time per verification), ``max_response_chars``, ``render_mode``,
``extra_verifiers`` / ``gate`` (a composed reward: the env's verifier, weight 1, gates extra terms
such as ``[("format", 0.1, {"think": True})]``; ``info["scores"]`` gives each term; see ``sppo_gym.verifiers.composition``).

Spaces: observations and actions are :class:`UnicodeText` — any Unicode string (no lone
surrogates) up to ``MAX_PROMPT_CHARS`` / ``max_response_chars`` characters.

Info (reset and step): ``task_id``, ``index``, ``answer`` (reference answer or ``None``; never in
the prompt), ``split``, ``versions`` (``sppo_gym``, ``verifier``, ``dataset`` fingerprint). Step adds
``verdict``, ``passed``, ``detail``, ``elapsed`` (judge seconds), ``verify_s`` (host seconds of the
verify call) and ``extra`` (verifier specifics).

**Trainers must check** ``info["verdict"] == SANDBOX_ERROR`` (``"sandbox_error"``, importable from
``sppo_gym.envs``): the reward is 0 there but it says nothing about the answer (the sandbox
failed); drop such samples instead of learning from them.
"""

from __future__ import annotations

import copy
import functools
import string
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.error import ResetNeeded
from sppo_gym.verifiers import Score, Verifier
from sppo_gym.verifiers.base import MAX_RESPONSE_CHARS
from sppo_gym.verifiers.composition.entries import with_extras
from sppo_gym.verifiers.registry import build_builtin

from .problems import ProblemSource, as_source

#: Longest prompt (characters) an observation may hold.
MAX_PROMPT_CHARS = 256 * 1024

_SAMPLE_CHARS = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 \n\t"
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~éüßαβγπΣ√∞≤≥→中文字😀"
)
_OPTION_KEYS = ("index", "task_id", "difficulty")
_IMMUTABLE = (str, int, float, bool, type(None))


class UnicodeText(spaces.Text):
    """``Text`` over all of Unicode: gymnasium's default charset is alphanumeric, real text is not.

    ``contains`` accepts any ``str`` of allowed length that encodes as UTF-8 (no lone surrogates).
    ``sample`` draws short strings (at most 64 characters unless a length is given) from a mixed
    ASCII / Unicode sample charset. Not flattenable to a NumPy array.
    """

    def __init__(self, max_length: int, *, min_length: int = 0, seed: int | np.random.Generator | None = None):
        super().__init__(max_length, min_length=min_length, charset=_SAMPLE_CHARS, seed=seed)

    def contains(self, x: Any) -> bool:
        if not isinstance(x, str) or not self.min_length <= len(x) <= self.max_length:
            return False
        if x.isascii():
            return True
        try:
            x.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        if mask is None and probability is None:
            hi = max(self.min_length, min(self.max_length, 64))
            mask = (int(self.np_random.integers(self.min_length, hi + 1)), None)
        return super().sample(mask=mask, probability=probability)

    @property
    def is_np_flattenable(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"UnicodeText({self.min_length}, {self.max_length})"


@functools.cache
def package_version() -> str:
    try:
        return version("sppo-gym")
    except PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class Selection:
    """One chosen problem: its position, id, the verifier's problem dict and the prompt."""

    index: int
    task_id: str
    problem: dict
    prompt: str


class SingleStepEnv(gym.Env[str, str]):
    """A problem per episode: prompt in, response out, outcome reward from a verifier."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"], "render_fps": 1}

    verifier_name: ClassVar[str | None] = None
    verifier_options: ClassVar[Mapping[str, Any]] = {}
    prompt_template: ClassVar[str | None] = None
    required_fields: ClassVar[tuple[str, ...]] = ()
    id_field: ClassVar[str] = "task_id"
    answer_field: ClassVar[str | None] = "answer"

    def __init__(
        self,
        problems: Any,
        *,
        verifier: str | Verifier | None = None,
        prompt: str | Callable[[dict], str] | None = None,
        split: str = "train",
        dataset_seed: int = 0,
        size: int | None = None,
        timeout_s: float | None = None,
        max_response_chars: int = MAX_RESPONSE_CHARS,
        render_mode: str | None = None,
        verifier_options: Mapping[str, Any] | None = None,
        extra_verifiers: Any = None,
        gate: bool | None = None,
    ):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode={render_mode!r}; supported: {self.metadata['render_modes']} or None")
        self.render_mode = render_mode
        self.split = split
        self.source: ProblemSource = as_source(
            problems, split=split, seed=dataset_seed, size=size, id_field=self.id_field,
            required=self.required_fields, name=None,
        )
        self._prompt = prompt if prompt is not None else self.prompt_template
        check_prompt(self._prompt, self.source)
        options = {**self.verifier_options, **(verifier_options or {})}
        self.verifier: Verifier = self.make_verifier(verifier or self.verifier_name, timeout_s,
                                                     max_response_chars, options)
        if extra_verifiers is not None or gate is not None:  # composed reward (verifiers/composition/)
            self.verifier = with_extras(self.verifier, extra_verifiers, gate, max_chars=max_response_chars,
                                        timeout_s=timeout_s, where=type(self).__name__)
        self.observation_space = UnicodeText(MAX_PROMPT_CHARS, min_length=1)
        self.action_space = UnicodeText(max_response_chars)
        self._sel: Selection | None = None
        self._stepped = False
        self._last: tuple[str, str] | None = None

    # ----- hooks for subclasses -------------------------------------------------------------
    def prepare_problem(self, problem: dict) -> dict:
        """Turn a raw row into the dict the verifier consumes (default: unchanged)."""
        return problem

    def build_prompt(self, problem: dict) -> str:
        """The prompt shown to the policy: the template / callable given, else the ``prompt`` field."""
        return render_prompt(self._prompt, problem)

    def reference_answer(self, problem: dict) -> Any:
        """What ``info["answer"]`` shows (for analysis only; never part of the prompt)."""
        answer = problem.get(self.answer_field) if self.answer_field else None
        return answer if isinstance(answer, _IMMUTABLE) else copy.deepcopy(answer)

    def make_verifier(self, verifier: Any, timeout_s: float | None, max_chars: int,
                      options: Mapping[str, Any]) -> Verifier:
        """A built-in verifier by name (with limits), or a ready ``Verifier`` instance."""
        if isinstance(verifier, str):
            return build_builtin(verifier, options, max_chars=max_chars, timeout_s=timeout_s)
        if verifier is None:
            raise ValueError(f"{type(self).__name__}: no verifier; set the class attribute verifier_name "
                             "or pass verifier=<name or Verifier>")
        if not callable(getattr(verifier, "verify_batch", None)):
            raise TypeError(f"verifier must be a built-in name or a Verifier, got {type(verifier).__name__}")
        return verifier

    # ----- problem selection (shared with the vector env) -----------------------------------
    def select(self, rng: np.random.Generator, options: Mapping[str, Any] | None) -> Selection:
        """Pick a problem: ``options["index"]``, ``options["task_id"]``, or a draw from ``rng``."""
        opts = options or {}
        if opts and not set(opts) <= set(_OPTION_KEYS):
            raise ValueError(f"unknown reset option(s) {sorted(set(opts) - set(_OPTION_KEYS))}; "
                             f"supported: {list(_OPTION_KEYS)}")
        if opts.get("index") is not None and opts.get("task_id") is not None:
            raise ValueError("pass options['index'] or options['task_id'], not both")
        if isinstance(opts.get("index"), (list, tuple, np.ndarray)):
            raise TypeError("options['index'] must be one int here; a list of indices (one per sub-env) "
                            "needs the suite's vector env: gymnasium.make_vec(id, num_envs=N)")
        source, opts = self.level_source_for(rng, opts)
        if opts.get("index") is not None:
            index = opts["index"]
            index = int(index) if isinstance(index, np.integer) else index
        elif opts.get("task_id") is not None:
            try:
                index = source.index_of(opts["task_id"])
            except KeyError as e:
                raise ValueError(f"options['task_id']: {e.args[0]}") from None
        else:
            index = int(rng.integers(len(source)))
        problem = self.prepare_problem(source[index])
        prompt = self.build_prompt(problem)
        if not isinstance(prompt, str) or not 0 < len(prompt) <= MAX_PROMPT_CHARS:
            raise ValueError(f"prompt for problem {index} must be a non-empty str of at most "
                             f"{MAX_PROMPT_CHARS} chars, got {type(prompt).__name__} of length {len(prompt)}")
        return Selection(index, source.task_id(index), problem, prompt)

    def level_source_for(self, rng: np.random.Generator,
                         opts: Mapping[str, Any]) -> tuple[ProblemSource, Mapping[str, Any]]:
        """The source a reset draws from (envs with difficulty levels override: ``envs/levels.py``)."""
        if opts.get("difficulty") is not None:
            raise ValueError(f"{type(self).__name__} has no difficulty levels: options['difficulty'] works with "
                             "Arithmetic-v0, CoqProof-v0 and ReasoningGym-v0 tasks that have a curriculum")
        return self.source, opts

    def reset_info(self, sel: Selection) -> dict[str, Any]:
        return {
            "task_id": sel.task_id,
            "index": sel.index,
            "answer": self.reference_answer(sel.problem),
            "split": self.split,
            "versions": self.versions(),
        }

    def step_info(self, sel: Selection, score: Score, verify_s: float) -> dict[str, Any]:
        info = self.reset_info(sel)
        info.update(verdict=score.verdict, passed=bool(score.passed), detail=score.detail,
                    elapsed=float(score.elapsed), verify_s=verify_s,
                    extra=copy.deepcopy(score.extra) if score.extra else {})
        if "scores" in info["extra"]:  # a composed verifier: each component's reward, by label
            info["scores"] = info["extra"].pop("scores")
        return info

    def versions(self) -> dict[str, str]:
        """Versions that make a result reproducible: package, verifier, dataset fingerprint."""
        v = self.verifier
        return {"sppo_gym": package_version(), "verifier": f"{v.name}/{v.version}", "dataset": self.source.fingerprint}


    # ----- Gymnasium API ---------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict]:
        super().reset(seed=seed)
        self._sel = self.select(self.np_random, options)
        self._stepped = False
        self._last = None
        return self._sel.prompt, self.reset_info(self._sel)

    def step(self, action: str) -> tuple[str, float, bool, bool, dict]:
        if self._sel is None:
            raise ResetNeeded("call reset() before step()")
        if self._stepped:
            raise ResetNeeded("this single-step episode has ended; call reset() for the next problem")
        if not isinstance(action, str):
            raise TypeError(f"action must be the response text (str), got {type(action).__name__}")
        t0 = time.perf_counter()
        score = self.verifier.verify(action, self._sel.problem)
        verify_s = time.perf_counter() - t0
        self._stepped = True
        self._last = (action, score.verdict)
        return self._sel.prompt, score.reward, True, False, self.step_info(self._sel, score, verify_s)

    def render(self) -> str | None:
        if self.render_mode != "ansi" or self._sel is None:
            return None
        text = self._sel.prompt
        if self._last is not None:
            text += f"\n--- response ---\n{self._last[0]}\n--- verdict: {self._last[1]}"
        return text


def render_prompt(prompt: str | Callable[[dict], str] | None, problem: dict) -> str:
    """Apply a format string or callable to a problem; without either use its ``prompt`` field."""
    if prompt is None:
        if "prompt" not in problem:
            raise ValueError(f"no prompt template given and the problem has no 'prompt' field (fields: {sorted(problem)})")
        return problem["prompt"]
    if callable(prompt):
        out = prompt(problem)
        if not isinstance(out, str):
            raise TypeError(f"prompt callable must return str, got {type(out).__name__}")
        return out
    try:
        return prompt.format_map(problem)
    except KeyError as e:
        raise ValueError(f"prompt template refers to {{{e.args[0]}}} but the problem has fields {sorted(problem)}") from None


def check_prompt(prompt: Any, source: ProblemSource) -> None:
    """Fail at construction, not at the first reset, when a template names a missing field."""
    if prompt is not None and not isinstance(prompt, str) and not callable(prompt):
        raise TypeError(f"prompt must be a format string, a callable (problem) -> str, or None; got {type(prompt).__name__}")
    if isinstance(prompt, str):
        try:
            fields = {f.split(".")[0].split("[")[0] for _, f, _, _ in string.Formatter().parse(prompt) if f is not None}
        except ValueError as e:
            raise ValueError(f"prompt template is not a valid format string ({e}); write literal braces as {{{{ }}}}") from None
        if any(f.isdigit() or f == "" for f in fields):
            raise ValueError("prompt template must use named fields like {question}, not {} or {0}")
        rows = getattr(source, "rows", None) or [source.first()]
        for n, row in enumerate(rows):
            missing = sorted(fields - set(row))
            if missing:
                raise ValueError(f"prompt template refers to {missing} but problem {n} has fields {sorted(row)}")

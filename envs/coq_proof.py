"""Prove a Coq theorem; the proof is checked soundly by the ``coq`` verifier in the sandbox.

## Description
``CoqProof-v0``: each problem is a theorem ``{"name", "statement"}`` with an optional
``preamble`` (Coq source placed before it: ``Require``s and definitions the statement uses). The
policy answers with a proof. The verifier compiles it with ``coqc`` as an untrusted process, then
checks from a trusted file that ``<name>`` has exactly the reference type (elaborated without the
candidate's notations or definitions), that it depends on no axiom (``Print Assumptions``; a row
may list ``allowed_axioms``), and re-checks the compiled file with ``coqchk``. See docs/COQ.md.

Built-in set (when ``data`` is omitted): 336 generated theorems with reference proofs — propositional
tautologies, small arithmetic facts, nat lemmas, list lemmas — graded by ``difficulty`` 1..5
(``sppo_gym.verifiers.coq.theorems``).

## Observation
The prompt (``str``): the preamble and ``Theorem <name> : <statement>.`` in a ```` ```coq ```` block,
asking for the proof in a ```` ```coq ```` block.

## Action
The whole response (``str``). Its proof is the last ```` ```coq ```` block (else the last untagged
block, else everything): either a proof script (optionally wrapped in ``Proof.`` ... ``Qed.``),
or Coq source that itself states ``Theorem <name> : <statement>`` (helper lemmas allowed).

## Reward
1.0 when ``info["verdict"] == "proved"``, else 0.0. Other verdicts: ``rejected_command``
(``Admitted``, ``admit``, ``Axiom`` ..., named in ``info["detail"]``), ``compile_error``,
``statement_mismatch``, ``uses_axioms``, ``timeout``, ``memory``, ``output_limit``,
``response_too_long``, ``sandbox_error`` (infrastructure; not a verdict on the proof).
``info["answer"]`` is the reference proof script when the row has one.

## Episode End
After one step (``terminated=True``).

## Arguments
``data``: JSONL path or list of rows ``{"name", "statement"}`` (+ ``preamble``,
``allowed_axioms``); default: the built-in set. ``difficulty``: an int or a list of ints keeping
only those levels (a draw is uniform over the kept theorems; ``info["difficulty"]`` names the level),
and ``reset(options={"difficulty": d, "index": i})`` picks theorem ``i`` of level ``d`` within the
``family`` filter (see ``sppo_gym.envs.levels``); ``family``: the same for ``prop``/``arith``/``nat``/``list``. ``timeout_s``:
sandbox wall time per verification. ``verifier_options``: ``compile_timeout_s``,
``check_timeout_s``, ``allowed_axioms`` (for every problem), ``memory_mb``.

## Version History
* v0: initial version.

>>> import gymnasium as gym, sppo_gym.envs
>>> env = gym.make("sppo_gym/CoqProof-v0", difficulty=1)
>>> prompt, info = env.reset(options={"index": 0})
>>> info["task_id"]
'prop_000'
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from .base import SingleStepEnv
from .levels import LeveledEnv
from .problems import ListSource, ProblemSource, as_source

BUILTIN_JSONL = str(Path(__file__).parent / "data" / "coq_theorems.jsonl")

PROMPT = (
    "Prove the following Coq theorem.\n\n```coq\n{header}Theorem {name} : {statement}.\n```\n\n"
    "Reply with the proof in a single ```coq block: either the proof script (the tactics after "
    "`Proof.`), or complete Coq source that states `Theorem {name}` with exactly this statement "
    "(helper lemmas are fine). Admitted, admit and new axioms are not accepted."
)


def _levels(value: Any, field: str, kind: type) -> frozenset | None:
    """``None`` (no filter), one value, or a list of values -> a set; clear errors otherwise."""
    if value is None:
        return None
    values = list(value) if isinstance(value, Sequence) and not isinstance(value, str) else [value]
    if not values or not all(isinstance(v, kind) and not isinstance(v, bool) for v in values):
        raise TypeError(f"{field} must be a {kind.__name__} or a non-empty list of them, got {value!r}")
    return frozenset(values)


class CoqProofEnv(LeveledEnv, SingleStepEnv):
    """One Coq theorem per episode; reward 1 only for a sound, axiom-free proof of that statement."""

    verifier_name: ClassVar[str] = "coq"
    required_fields: ClassVar[tuple[str, ...]] = ("name", "statement")
    id_field: ClassVar[str] = "name"
    answer_field: ClassVar[str | None] = "proof"
    mix_by_level: ClassVar[bool] = False  # a make-time list filters the theorem set (documented)

    def __init__(self, data: Any = None, *, difficulty: Any = None, family: Any = None, **kwargs: Any) -> None:
        levels = _levels(difficulty, "difficulty", int)
        families = _levels(family, "family", str)
        problems: Any = data if data is not None else BUILTIN_JSONL
        source = as_source(problems, id_field=self.id_field, required=self.required_fields)
        rows = [source[i] for i in range(len(source))]
        rows = [r for r in rows if families is None or r.get("family") in families]
        # Per-reset levels (options["difficulty"]) range over the family-filtered set.
        self._by_level: dict[int, list[dict]] = {}
        for r in rows:
            if isinstance(r.get("difficulty"), int) and not isinstance(r["difficulty"], bool):
                self._by_level.setdefault(r["difficulty"], []).append(r)
        self.valid_levels = tuple(sorted(self._by_level))
        self.levels = tuple(sorted(levels)) if levels is not None else self.valid_levels
        self._sources: dict[int, ProblemSource] = {}
        if levels is not None or families is not None:
            problems = [r for r in rows if levels is None or r.get("difficulty") in levels]
            if not problems:
                raise ValueError(f"no theorem has difficulty in {sorted(levels or [])} and family in "
                                 f"{sorted(families or [])}; built-in levels are 1..5, families "
                                 "prop/arith/nat/list")
        super().__init__(problems, **kwargs)

    def level_source(self, level: int) -> ProblemSource:
        if level not in self._sources:
            self._sources[level] = ListSource(self._by_level[level], id_field=self.id_field,
                                              name=f"coq-d{level}", required=self.required_fields)
        return self._sources[level]

    def build_prompt(self, problem: dict) -> str:
        if self._prompt is not None:
            return super().build_prompt(problem)
        preamble = (problem.get("preamble") or "").strip()
        header = f"{preamble}\n\n" if preamble else ""
        return PROMPT.format(header=header, name=problem["name"], statement=problem["statement"].strip().rstrip("."))

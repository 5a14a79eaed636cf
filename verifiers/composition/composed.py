"""Composed verifier: a weighted sum of verifiers, gated by the first one (the outcome verifier).

``reward = (w_0 * r_0 + g * sum_k w_k * r_k) / sum_all w``, with ``g = 1`` when the outcome verifier
passed (or ``gate=False``) and ``g = 0`` otherwise: by default no shaping term (format, length, ...)
can reward a wrong answer, even partially. The reward stays in [0, 1].

The verdict, ``passed`` and ``detail`` are the outcome verifier's; ``extra`` keeps the outcome's
extra and adds ``scores`` (label -> reward of each component, before weighting) and
``components`` (label -> ``{"verdict", "detail"}``). A ``sandbox_error`` in ANY component makes
the whole sample ``sandbox_error``: a failed shaping term must not turn into a low reward.

Each component verifies the whole batch with one ``verify_batch`` call, so a vector env keeps
its concurrency through the sandbox pool.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from ..base import Verifier
from ..score import SANDBOX_ERROR, Score


@dataclass(frozen=True)
class Component:
    """One verifier of a composition, the label it is reported under, and its weight."""

    label: str
    verifier: Verifier
    weight: float


class ComposedVerifier(Verifier):
    """Weighted, gated sum of verifiers (see module doc); build with validated components."""

    name: ClassVar[str] = "composed"

    def __init__(self, components: Sequence[Component], *, gate: bool = True) -> None:
        super().__init__()
        if len(components) < 1:
            raise ValueError("a composed verifier needs at least one component")
        labels = [c.label for c in components]
        if len(set(labels)) != len(labels):
            raise ValueError(f"component labels must be unique, got {labels}")
        if not isinstance(gate, bool):
            raise TypeError(f"gate must be bool, got {gate!r}")
        self.components = tuple(components)
        self.gate = gate
        self.total_weight = sum(c.weight for c in components)
        parts = "+".join(f"{c.verifier.name}/{c.verifier.version}*{c.weight:g}" for c in components)
        self.version = f"{parts}+{'gate' if gate else 'nogate'}"

    @property
    def outcome(self) -> Component:
        return self.components[0]

    def payload(self, response: str, problem: dict) -> dict:
        raise NotImplementedError("a composed verifier delegates to its components")

    def verify_batch(self, items: Sequence[tuple[str, dict]]) -> list[Score]:
        """One ``verify_batch`` per component over the whole batch, then combine per item."""
        items = list(items)
        per_component = [c.verifier.verify_batch(items) for c in self.components]
        return [self.combine([scores[i] for scores in per_component]) for i in range(len(items))]

    def combine(self, scores: Sequence[Score]) -> Score:
        """One item's component scores -> its composed score."""
        outcome = scores[0]
        extra: dict[str, Any] = dict(outcome.extra)
        extra["scores"] = {c.label: s.reward for c, s in zip(self.components, scores, strict=True)}
        extra["components"] = {c.label: {"verdict": s.verdict, "detail": s.detail[:200]}
                               for c, s in zip(self.components, scores, strict=True)}
        elapsed = sum(s.elapsed for s in scores)
        for c, s in zip(self.components, scores, strict=True):
            if s.is_infra_failure:
                return Score(0.0, SANDBOX_ERROR, detail=f"{c.label}: {s.detail}"[:300], elapsed=elapsed, extra=extra)
        credit = not self.gate or outcome.passed
        total = self.outcome.weight * outcome.reward
        if credit:
            total += sum(c.weight * s.reward for c, s in zip(self.components[1:], scores[1:], strict=True))
        reward = min(1.0, max(0.0, total / self.total_weight))
        return Score(reward, outcome.verdict, passed=outcome.passed, detail=outcome.detail,
                     elapsed=elapsed, extra=extra)

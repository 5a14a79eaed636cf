"""Host half of the reasoning-gym verifier: sends (task, config, seed) and the pickled entry.

The judge (``reasoning_gym.judge``) scores the ``<answer>`` span with the task's own
``score_answer`` on the exact entry the prompt was made from (``problem["entry"]``, pickled on the
host by trusted code; without it the entry is rebuilt from the seed). Some scorers give partial credit
(e.g. the base class's substring ratio, which pays a reply for containing the answer among other
text); by default (``partial_credit=False``) any reward below 1 counts as 0 (verdict ``wrong``), which
an RL policy cannot farm by hedging. ``partial_credit=True`` keeps the scorer's fractions.
"""

from __future__ import annotations

from typing import Any

from ..base import Verifier
from ..score import Score


class ReasoningGymVerifier(Verifier):
    name = "reasoning_gym"
    version = "2"  # 2: binary by default (partial_credit=False)
    entry = "sppo_gym.verifiers.reasoning_gym.judge:judge"

    def __init__(self, *, partial_credit: bool = False, **options: Any):
        super().__init__(**options)
        self.partial_credit = partial_credit

    def payload(self, response: str, problem: dict) -> dict:
        return {"response": response, "task": problem["task"], "config": problem["config"], "seed": problem["seed"],
                "entry": problem.get("entry")}

    def finish(self, score: Score, problem: dict) -> Score:
        if not self.partial_credit and score.verdict == "partial":
            return Score(0.0, "wrong", detail=score.detail + " (partial credit disabled)",
                         elapsed=score.elapsed, extra=score.extra)
        return score

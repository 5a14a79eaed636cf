"""Exact-match verifier: the final answer, extracted as for ``math`` (last ``\\boxed{}``, else the
final-answer statement, else the last expression), compared as a string with ``problem["answer"]``.

Normalisation, applied to both sides: strip; surrounding ``$...$`` removed; a trailing period
removed; whitespace collapsed to single spaces; casefolded. Nothing is parsed or evaluated --
extraction is regular expressions and brace matching -- so this verifier runs in-process on the
host (no sandbox round trip): ``verify_batch`` is overridden accordingly.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, ClassVar

from ..base import Verifier, precheck
from ..math.extract import extract_answer
from ..score import Score


def normalize(s: str) -> str:
    """The documented normalisation (strip, ``$``, trailing period, whitespace, casefold)."""
    s = s.strip()
    for _ in range(2):
        s = re.sub(r"^\${1,2}(.*?)\${1,2}$", r"\1", s, flags=re.S).strip()
        s = s[:-1].rstrip() if s.endswith(".") else s
    return re.sub(r"\s+", " ", s).casefold()


class ExactVerifier(Verifier):
    """String match of the extracted final answer; in-process (it never evaluates anything)."""

    name: ClassVar[str] = "exact"
    entry: ClassVar[str | None] = None

    def payload(self, response: str, problem: dict) -> dict:
        return {"response": response, "answer": problem.get("answer")}

    def verify_batch(self, items: Sequence[tuple[str, dict]]) -> list[Score]:
        return [precheck(r, self.max_chars) or self._score(r, p) for r, p in items]

    @staticmethod
    def _score(response: str, problem: dict) -> Score:
        answer: Any = problem.get("answer")
        if isinstance(answer, (int, float)) and not isinstance(answer, bool):
            answer = str(answer)
        if not isinstance(answer, str):
            raise ValueError(f"exact problem needs a str 'answer', got {answer!r:.80}")
        found = extract_answer(response)
        if found is None:
            return Score(0.0, "no_answer", detail="no final answer found")
        ok = normalize(found.text) == normalize(answer)
        extra = {"extracted": found.text[:200], "source": found.source}
        return Score(1.0 if ok else 0.0, "correct" if ok else "wrong", passed=ok, extra=extra)

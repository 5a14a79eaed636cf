"""The outcome of verifying one response, and the closed set of verdicts."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: The one verdict about the infrastructure rather than the answer (Docker, the pool, a missing
#: toolchain): consumers must not score it as 0. Compare ``info["verdict"] == SANDBOX_ERROR``.
SANDBOX_ERROR = "sandbox_error"

#: Every verdict a verifier may return, with its meaning.
VERDICTS: dict[str, str] = {
    # shared
    "correct": "the answer matches the reference",
    "wrong": "an answer was found and does not match the reference",
    "partial": "the answer earned partial credit (0 < reward < 1) from a task's own scorer",
    "no_answer": "no final answer could be extracted from the response",
    "hedged": "the response offers several candidate answers where one is expected",
    "parse_error": "the extracted answer could not be parsed",
    # math: the value is right but the answer is not final (reward 0)
    "restated": "the answer repeats an expression the problem itself gives, not the reference",
    "unsimplified": "the answer still holds work that evaluation removes (a sum or power of numbers, "
                    "an unreduced fraction or radical, a relation where a set is asked) and the reference "
                    "does not, or it is not a numeral where a numeral is asked",
    "approximation": "a decimal approximation of an exact irrational reference, where no decimal was asked",
    "response_too_long": "the response exceeds the verifier's length limit",
    "invalid_response": "the response is not valid text (e.g. lone surrogates)",
    "timeout": "verification ran out of wall time",
    "memory": "verification hit its memory limit",
    "output_limit": "too much output was produced",
    "judge_error": "the judge failed on this input (a bug; reported, scored 0)",
    SANDBOX_ERROR: "infrastructure failure (Docker, pool); not a verdict on the answer",
    # code
    "passed": "every test ran and passed",
    "failed": "a test ran and failed",
    "runtime_error": "the candidate raised an exception",
    "early_exit": "the candidate exited or killed itself before the tests completed",
    "syntax_error": "the candidate does not compile",
    "missing_entry_point": "the candidate does not define the required function",
    "bad_return": "the candidate returned something that is not plain data",
    "wrong_output": "a program's output differs from the expected output",
    "no_code": "no code could be extracted from the response",
    "wrong_language": "the response's code blocks are all in another language than the problem asks for",
    # coq
    "proved": "the proof compiles, states the reference theorem, and uses no disallowed axioms",
    "rejected_command": "the source uses a forbidden command or flag",
    "compile_error": "the compiler (coqc; g++, javac, go, rustc for stdio programs) rejected the source "
                     "or exceeded a compile limit",
    "statement_mismatch": "the proved theorem is not the reference statement",
    "uses_axioms": "the proof depends on axioms outside the allow-list",
    # format
    "bad_format": "the response is not in the requested form (a format check failed; see detail)",
}

PASSING_VERDICTS = frozenset({"correct", "passed", "proved"})


@dataclass
class Score:
    """Reward in [0, 1] plus why. ``passed`` is True only for a fully correct answer."""

    reward: float
    verdict: str
    passed: bool = False
    detail: str = ""
    elapsed: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {self.verdict!r}; add it to VERDICTS with a meaning")
        if not 0.0 <= float(self.reward) <= 1.0:
            raise ValueError(f"reward must be in [0, 1], got {self.reward!r}")
        self.reward = float(self.reward)

    @property
    def is_infra_failure(self) -> bool:
        return self.verdict == SANDBOX_ERROR

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

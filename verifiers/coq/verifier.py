"""Host half of the proof verifier: problem rows in, sandbox jobs out (``get_verifier("coq")``).

A problem is ``{"name", "statement"}`` plus optional ``preamble`` (Coq source placed before the
theorem, trusted) and ``allowed_axioms`` (fully qualified axiom names this task may use; default
none). The response's proof is the last ```` ```coq ```` block, else the last untagged fenced
block, else the whole response (docs/CONTRACT.md, "Coq"). Everything else happens in the judge
(``coq.judge``) and the backend (``coq.check``); see docs/COQ.md for the threat model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from sppo_gym.sandbox import Limits

from ..base import MAX_RESPONSE_CHARS, Verifier
from ..code.extract import fenced_blocks
from .backend import BACKENDS, ProofTask

COQ_TAGS = frozenset({"coq", "rocq", "gallina"})
PROBLEM_FIELDS = frozenset({"name", "statement", "preamble", "allowed_axioms"})


def extract_proof(response: str, tags: frozenset[str] = COQ_TAGS) -> str:
    """The last block tagged as Coq; else the last untagged block; else the whole response."""
    blocks = fenced_blocks(response)
    for wanted in (tags, frozenset({""})):
        for tag, body in reversed(blocks):
            if tag in wanted:
                return body.strip("\n") + "\n"
    return response


class CoqVerifier(Verifier):
    """Coq theorems checked soundly: screened source, trusted statement check, closed assumptions."""

    name: ClassVar[str] = "coq"
    version: ClassVar[str] = "1"
    entry: ClassVar[str] = "sppo_gym.verifiers.coq.judge:judge"

    def __init__(self, *, limits: Limits | None = None, max_chars: int = MAX_RESPONSE_CHARS,
                 backend: str = "coq", allowed_axioms: Sequence[str] = (), compile_timeout_s: float = 30.0,
                 check_timeout_s: float = 30.0, memory_mb: int | None = None, **options: Any):
        # The job's wall time covers the compile plus three check steps (preamble, statement, coqchk).
        wall = float(compile_timeout_s) + 3 * float(check_timeout_s) + 10.0
        super().__init__(limits=limits or Limits(wall_s=wall, memory_mb=1024), max_chars=max_chars, **options)
        if backend not in BACKENDS:
            raise ValueError(f"backend={backend!r}; available proof backends: {sorted(BACKENDS)}")
        if isinstance(allowed_axioms, str):
            raise TypeError("allowed_axioms must be a list of names, not one string")
        self.backend = backend
        self.defaults = {"allowed_axioms": tuple(allowed_axioms), "compile_timeout_s": float(compile_timeout_s),
                         "check_timeout_s": float(check_timeout_s), "memory_mb": memory_mb}
        ProofTask(name="probe", statement="True", **self.defaults)  # validate the defaults now

    def task(self, problem: dict) -> ProofTask:
        """The checked task for one problem row (ValueError names the bad field)."""
        if not isinstance(problem, dict):
            raise TypeError(f"a Coq problem must be a dict, got {type(problem).__name__}")
        missing = sorted({"name", "statement"} - set(problem))
        if missing:
            raise ValueError(f"Coq problem lacks field(s) {missing}; rows look like "
                             "{'name': 'add_0_r', 'statement': 'forall n : nat, n + 0 = n', 'preamble': ''}")
        fields = {k: problem[k] for k in PROBLEM_FIELDS if problem.get(k) is not None}
        axioms = tuple(self.defaults["allowed_axioms"]) + tuple(fields.pop("allowed_axioms", ()))
        return ProofTask(**{**self.defaults, **fields, "allowed_axioms": axioms})

    def payload(self, response: str, problem: dict) -> dict:
        return {"backend": self.backend, "task": self.task(problem).to_payload(), "source": extract_proof(response)}

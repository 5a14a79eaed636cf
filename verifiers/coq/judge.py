"""Judge entry point of the proof verifier (runs inside the sandbox as the judge uid).

The judge never runs a prover itself: every ``coqc``/``coqchk`` is a candidate process started by
``ctx.spawn`` under its own uid (see ``coq.backend.SpawnRunner``). The payload is rebuilt with
exact type checks; its shape is ``{"backend": "coq", "task": ProofTask fields, "source": str}``.
"""

from __future__ import annotations

from typing import Any

from .backend import ProofTask, SpawnRunner, get_backend, judge_proof


def judge(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """Score one proof: ``{"reward", "verdict", "passed", "detail", "extra"}``."""
    if type(payload) is not dict or type(payload.get("source")) is not str or type(payload.get("task")) is not dict:
        raise TypeError("payload must be {'backend': str, 'task': dict, 'source': str}")
    backend = get_backend(payload.get("backend", "coq"))
    task = ProofTask.from_payload(payload["task"])
    runner = SpawnRunner(ctx, memory_mb=task.memory_mb)
    return judge_proof(backend, task, payload["source"], runner).to_score()

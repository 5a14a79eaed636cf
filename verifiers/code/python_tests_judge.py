"""Judge entry points of the Python-tests verifier (run inside the sandbox as the judge uid).

``judge`` scores one problem (payload from ``PythonTestsVerifier``), ``judge_many`` several in one
job. The run itself -- the trusted test here, the candidate in its own process and uid, the
semantics the test sees -- is ``code.runner``; the speed reward is ``code.speed``.
"""

from __future__ import annotations

import time
from typing import Any

from .runner import judge_run
from .speed import judge_speed


def judge(payload: dict, ctx: Any) -> dict:
    """Entry point ``sppo_gym.verifiers.code.python_tests_judge:judge``: one problem (payload from PythonTestsVerifier).

    With ``payload["speed"]`` a passing candidate is then timed against the reference solution
    (``code.speed``); anything else is scored exactly as without it.
    """
    if payload.get("speed"):
        return judge_speed(payload, ctx)
    return judge_run(payload, ctx, payload["source"], settle_after=bool(payload.get("settle")))[0]


def judge_many(payload: dict, ctx: Any) -> dict:
    """Entry point ``sppo_gym.verifiers.code.python_tests_judge:judge_many``: ``{"items": [payload, ...]}``.

    Each problem gets its own candidate process and uid, exactly as in ``judge``; sharing the job
    saves the per-job fork, cleanup and host round trip. Between problems ``settle`` ensures the
    previous candidate is gone.
    """
    out = []
    for item in payload["items"]:
        t0 = time.monotonic()
        score = judge({**item, "settle": True}, ctx)
        out.append({**score, "elapsed": time.monotonic() - t0})
    return {"items": out}

"""Judge half of ``register_task(..., verifier=fn, sandboxed=True)`` (runs inside the sandbox).

The user's verifier function arrives as source text. It is trusted by its author but may run
untrusted work (the model's code), so it runs in a *candidate* process under its own uid, loaded
and called through ``code.candidate.serve`` (one call: ``fn(response, problem)``); the judge only
checks the plain-data reply. An exception, crash or timeout of the function is a verdict
(``judge_error``/``timeout``) for this response, not a crash of the job; a return value outside
[0, 1] is reported back (``extra["invalid_return"]``) and raised on the host as a task bug.
"""

from __future__ import annotations

import math
from typing import Any

CANDIDATE_TARGET = "sppo_gym.verifiers.code.candidate:serve"


def _error(detail: str, **extra: Any) -> dict:
    return {"reward": 0.0, "verdict": "judge_error", "detail": detail[:300], "extra": extra}


def judge(payload: dict, ctx: Any) -> dict:
    cand = ctx.spawn(target=CANDIDATE_TARGET, args={"source": payload["source"], "entry_point": payload["name"]})
    try:
        loaded = cand.recv(timeout=max(0.0, ctx.time_left() - 0.2))
        if not isinstance(loaded, dict) or loaded.get("load") != "ok":
            return _error(f"the verifier function did not load: {loaded!r}")
        cand.send({"args": [payload["response"], payload["problem"]], "kwargs": {}})
        reply = cand.recv(timeout=max(0.0, ctx.time_left() - 0.2))
    except TimeoutError:
        return {"reward": 0.0, "verdict": "timeout", "detail": "the verifier function ran out of time"}
    except EOFError:
        return _error("the verifier function's process died (crash, exit or memory limit)")
    finally:
        cand.kill()
    if not isinstance(reply, dict) or "ok" not in reply:
        return _error(f"the verifier function failed: {reply!r}")
    value = reply["ok"]
    if type(value) is bool:
        value = float(value)
    if type(value) not in (int, float) or not math.isfinite(value) or not 0 <= value <= 1:
        return _error(f"the verifier function returned {value!r}", invalid_return=repr(value)[:100])
    reward = float(value)
    verdict = "correct" if reward == 1.0 else "wrong" if reward == 0.0 else "partial"
    return {"reward": reward, "verdict": verdict, "passed": reward == 1.0, "detail": f"verifier returned {reward:g}"}

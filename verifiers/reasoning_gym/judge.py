"""Judge half of the reasoning-gym verifier (runs inside the sandbox).

The judge extracts the answer from ``<answer>...</answer>`` (reasoning-gym's own convention and
its ``extract_answer``: the last tagged span, stripped) and hands it to a *candidate* process
that builds the task's dataset from (task, config, seed) and calls its own ``score_answer`` on
the entry the host pickled (made by trusted code on the host, never by the model; rebuilding it
here is not always reproducible: some generators depend on ``PYTHONHASHSEED``). Scorers run in a candidate, not in the judge, because several of them
``eval``/``sympify`` the answer text (countdown, puzzle24, integration, ...): that is model text.
The candidate's reply is only a claim; the judge checks it is a float in [0, 1]. When scoring
runs out of time while the host starved the scorer of CPU (a cold container on a loaded machine),
the job is handed back to the pool to retry (``raise_if_starved``): a correct answer is never
scored 0 because the machine was busy.
"""

from __future__ import annotations

import base64
import math
import pickle
import time
from typing import Any

import reasoning_gym  # imported at module level so the pool's job server preloads it
from reasoning_gym.utils import extract_answer

CANDIDATE_TARGET = "sppo_gym.verifiers.reasoning_gym.judge:score_candidate"


def rebuild(task: str, config: dict, seed: int) -> tuple[Any, dict]:
    """The dataset (for its scorer) and entry 0 of ``task`` with ``config`` and ``seed``."""
    ds = reasoning_gym.create_dataset(task, **config, seed=seed, size=1)
    return ds, ds[0]


def score_candidate(args: dict, channel: Any) -> None:
    """Candidate process: score the extracted answer on the host's entry with the task's scorer."""
    try:
        if args.get("entry"):
            ds = reasoning_gym.create_dataset(args["task"], **args["config"], seed=args["seed"], size=1)
            entry = pickle.loads(base64.b64decode(args["entry"]))  # made on the host: trusted data
        else:
            ds, entry = rebuild(args["task"], args["config"], args["seed"])
        reward = ds.score_answer(args["answer"], entry)
        channel.send({"reward": float(reward)})
    except BaseException as e:  # report, don't crash: the judge maps this to judge_error
        channel.send({"error": f"{type(e).__name__}: {e}"[:300]})


def judge(payload: dict, ctx: Any) -> dict:
    answer = extract_answer(payload["response"], tag_name="answer")
    if answer is None:
        return {"reward": 0.0, "verdict": "no_answer", "detail": "no <answer>...</answer> in the response"}
    shown = answer if len(answer) <= 80 else answer[:77] + "..."
    cand = ctx.spawn(target=CANDIDATE_TARGET, args={
        "task": payload["task"], "config": payload["config"], "seed": payload["seed"], "answer": answer,
        "entry": payload.get("entry"),
    })
    started = time.monotonic()
    try:
        reply = cand.recv(timeout=max(0.0, ctx.time_left() - 0.2))
    except TimeoutError:
        cand.raise_if_starved(time.monotonic() - started)  # a busy host is not the answer's fault
        return {"reward": 0.0, "verdict": "timeout", "detail": f"scoring {shown!r} ran out of time"}
    except EOFError:
        return {"reward": 0.0, "verdict": "judge_error", "detail": f"the scorer process died scoring {shown!r}"}
    finally:
        cand.kill()
    reward = reply.get("reward") if isinstance(reply, dict) else None
    if type(reward) is not float or not math.isfinite(reward) or not 0.0 <= reward <= 1.0:
        detail = reply.get("error") if isinstance(reply, dict) and "error" in reply else f"bad score {reply!r}"
        return {"reward": 0.0, "verdict": "judge_error", "detail": str(detail)[:300]}
    verdict = "correct" if reward == 1.0 else "wrong" if reward == 0.0 else "partial"
    return {"reward": reward, "verdict": verdict, "passed": reward == 1.0,
            "detail": f"answer {shown!r} scored {reward:g}", "extra": {"extracted": answer[:500]}}

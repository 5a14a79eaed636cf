"""Judge half of the runtime-efficiency ("speed") reward of the Python-tests verifier.

Runs inside the sandbox (``code.python_tests_judge.judge`` with ``payload["speed"]``). The candidate first runs
the test once (run 0, already timed) and is scored exactly as with ``reward="pass"``; only a pass
goes on. Then the trusted reference solution, the candidate again and a trusted *null* solution
(``return None``; first ``NULL_RUNS`` rounds only) run in rounds, each run in a fresh process
under a fresh uid started the same way (``ctx.spawn``), so all pay the same costs:

* reference and candidate run the whole test again (a candidate run that does not pass ends it
  with that verdict and 0; a failing reference is a ``judge_error``);
* the null solution answers the calls the reference received: the cost of loading an empty
  module and of decoding and answering each call, which no solution can avoid.

What is measured: each run's CPU time from just before the solution's code loads until its last
answer, read by the judge from the kernel's clock of that process (``cpu_clock``). Timed
processes are limited to one task (``RLIMIT_NPROC`` 1, set before their code runs), so no work can
move to a thread or child that the clock would not see; loading counts, so work cannot move to
import time either. The candidate's own ``time``/``os`` patches do not reach the judge's clock,
and CPU time does not grow while a process waits for a CPU on a busy machine. Every candidate
process is gone before the next run starts (``code.runner.settle``). Which of reference and
candidate runs first alternates between rounds.

Caching across runs: a candidate could store its answers (files, SysV IPC, message queues, its
directory's metadata) in one run and read them in the next. Before every run the judge has the
sandbox kill every earlier run's processes and remove everything they left in the container
(``ctx.reset``; each new candidate also starts that way), so no run can read another's leftovers,
and no job another job's. As further lines: after every run the judge compares what persists
in the container (``footprint``: inodes used in scratch and ``/dev/shm``, IPC objects, message
queues) with what a reference run leaves (its own directory), and checks that the candidate's
directory was not touched after its code could run (``home_untouched``); a candidate that left
anything behind is correct but untimed: the floor. Its time is at least its run-0 time divided by
``COLD_FACTOR`` (run 0 is the only run that cannot read an earlier run's leftovers).

Estimate: per side, the minimum over rounds (interference only ever adds time, so best-of-R is
the robust choice, as in ``timeit``). Then, with ``T0`` the null's time::

    net = max(T - T0, 0)
    ratio = (net_ref + eps) / (net_cand + eps),   eps = EPS_FRACTION * T0
    reward = min(1, max(floor, ratio))

``eps`` keeps functions whose work is lost in the noise of the fixed cost near 1 instead of
dividing noise by noise. Rounds: at least ``min_rounds``, more (up to ``MAX_ROUNDS``) until both
sides have at least ``min_time_s`` of measured time; fewer only when the job's wall time would
run out, or when the candidate is already certain to get the floor.
"""

from __future__ import annotations

import math
import os
import stat
import time
from typing import Any

from .runner import (
    CANDIDATE_TARGET,
    CandidateFatal,
    CandidateProxy,
    judge_run,
    settle,
)

MAX_ROUNDS = 7
EPS_FRACTION = 0.5
"""``eps`` as a fraction of the null solution's time (see the module docstring)."""
COLD_FACTOR = 2.0
"""The candidate's time is at least its run-0 time divided by this (bounds cross-run caching)."""
NULL_RUNS = 2
"""Rounds that also time the null solution (its time varies least: it runs no solution code)."""
FLOOR_CERTAIN = 3.0
"""Stop early once the candidate's best run is this many times slower than ``ref / floor``."""


def null_source(entry_point: str) -> str:
    return f"def {entry_point}(*args, **kwargs):\n    return None\n"


def null_run(payload: dict, ctx: Any, calls: list[dict]) -> tuple[float, str]:
    """Time of a trusted ``return None`` solution answering ``calls``, and the clock's kind."""
    cand = ctx.spawn(target=CANDIDATE_TARGET, memory_mb=payload.get("memory_mb"),
                     args={"source": null_source(payload["entry_point"]), "prelude": "", "timed": True,
                           "entry_point": payload["entry_point"], "recursion_limit": 1000})
    proxy = CandidateProxy(cand, float(payload.get("timeout_s", 6.0)), None)
    try:
        proxy.start_clock()
        first = proxy.receive("while loading")
        if first != {"load": "ok"}:
            raise RuntimeError(f"null solution did not load: {first}")
        for call in calls:
            proxy(*call["args"], **call["kwargs"])
        proxy.cpu_end = proxy.clock()
    except CandidateFatal as f:
        raise RuntimeError(f"null solution failed: {f}") from None
    finally:
        if proxy.fatal is None:
            settle(cand)
    return proxy.run_s, proxy.clock_kind


def footprint(scratch_root: str) -> tuple[int, ...]:
    """What persists in the container between runs: inodes used in the scratch and shm file
    systems, SysV IPC objects, POSIX message queues. A run that changes it more than a trusted run
    left something behind."""
    vals = []
    for path in (scratch_root, "/dev/shm"):
        try:
            st = os.statvfs(path)
            vals.append(st.f_files - st.f_ffree)
        except OSError:
            vals.append(-1)
    for name in ("shm", "sem", "msg"):
        try:
            with open(f"/proc/sysvipc/{name}", "rb") as f:
                vals.append(sum(1 for _ in f))
        except OSError:
            vals.append(-1)
    try:
        vals.append(len(os.listdir("/dev/mqueue")))
    except OSError:
        vals.append(-1)
    return tuple(vals)


def home_untouched(proxy: CandidateProxy) -> bool:
    """The candidate's own directory is as the server made it: not renamed, chmod-ed, re-timed,
    given entries or extended attributes (each of those stamps its ctime after ``t_go_ns``)."""
    try:
        st = os.lstat(proxy.cand.home)
    except OSError:
        return False
    return (stat.S_ISDIR(st.st_mode) and st.st_uid == proxy.cand.cid and stat.S_IMODE(st.st_mode) == 0o711
            and st.st_nlink == 2 and st.st_ctime_ns < proxy.t_go_ns)


def reward_from(t_ref: float, t_cand: float, t_null: float, floor: float) -> tuple[float, float]:
    """``(reward, ratio)`` from best-of-R times (formula in the module docstring)."""
    eps = EPS_FRACTION * t_null
    ratio = (max(t_ref - t_null, 0.0) + eps) / max(max(t_cand - t_null, 0.0) + eps, 1e-9)
    return min(1.0, max(floor, ratio)), ratio


def _failed(score: dict, side: str, rnd: int) -> dict:
    if side == "ref":
        return {**score, "reward": 0.0, "verdict": "judge_error", "passed": False,
                "detail": f"reference solution did not pass: {score['verdict']}: {score['detail']}"[:300]}
    return {**score, "detail": f"timing run {rnd + 1}: {score['detail']}"[:300]}


def _untimed(passed: dict, floor: float, why: str) -> dict:
    """A correct candidate whose time cannot be trusted: the floor, never more."""
    return {**passed, "reward": floor, "detail": f"{passed['detail']}; not timed: {why}"[:300],
            "extra": {**passed.get("extra", {}), "speed": {"ratio": None, "floor": floor, "untimed": why}}}


def timed_run(payload: dict, ctx: Any, side: str, **kw: Any) -> tuple[dict, CandidateProxy, tuple[int, ...]]:
    """One timed run of the reference or the candidate, with what it left in the container."""
    root = os.path.dirname(ctx.scratch)
    ctx.reset()  # no earlier run's process or leftover survives into this one
    before = footprint(root)
    src = payload["reference"] if side == "ref" else payload["source"]
    score, proxy = judge_run(payload, ctx, src, settle_after=True, timed=True, **kw)
    after = footprint(root)
    return score, proxy, tuple(a - b for a, b in zip(after, before, strict=True))


def judge_speed(payload: dict, ctx: Any) -> dict:
    """Score the candidate as usual; if it passed, time it against the reference (speed reward)."""
    passed, proxy0, left0 = timed_run(payload, ctx, "cand")
    opts = payload["speed"]
    floor, min_rounds, min_time = float(opts["floor"]), int(opts["min_rounds"]), float(opts["min_time_s"])
    if not passed["passed"]:
        return passed
    runs: dict[str, list[float]] = {"ref": [], "cand": [proxy0.run_s], "null": []}
    left: dict[str, set] = {"ref": set(), "cand": {left0}}
    homes = [home_untouched(proxy0)]
    calls: list[dict] = []
    kinds = {proxy0.clock_kind}
    for rnd in range(MAX_ROUNDS):  # round 0: run 0 was the candidate's run
        t_round = time.monotonic()
        for side in ("ref",) if rnd == 0 else ("ref", "cand") if rnd % 2 else ("cand", "ref"):
            score, proxy, changed = timed_run(payload, ctx, side, record=calls if side == "ref" and rnd == 0 else None)
            if not score["passed"]:
                return _failed(score, side, rnd)
            runs[side].append(proxy.run_s)
            left[side].add(changed)
            kinds.add(proxy.clock_kind)
            if side == "cand":
                homes.append(home_untouched(proxy))
        if rnd < NULL_RUNS:
            try:
                t_null, kind = null_run(payload, ctx, calls)
            except RuntimeError as e:
                return {**passed, "reward": 0.0, "verdict": "judge_error", "passed": False, "detail": str(e)[:300]}
            runs["null"].append(t_null)
            kinds.add(kind)
        if rnd + 1 >= min_rounds and min(sum(runs["ref"]), sum(runs["cand"])) >= min_time:
            break
        if min(runs["cand"]) * floor > FLOOR_CERTAIN * max(runs["ref"]):
            break
        if ctx.time_left() < 2 * (time.monotonic() - t_round) + 1.0:
            break
    if any(math.isnan(t) for t in runs["cand"]):
        return _untimed(passed, floor, "the candidate ended before it was stopped")
    if not left["cand"] <= left["ref"] or not all(homes):
        return _untimed(passed, floor, "it left files, IPC objects or changes to its directory behind")
    t_cand = max(min(runs["cand"]), proxy0.run_s / COLD_FACTOR)
    t_ref, t_null = min(runs["ref"]), min(runs["null"])
    reward, ratio = reward_from(t_ref, t_cand, t_null, floor)
    speed = {"t_candidate": t_cand, "t_reference": t_ref, "t_overhead": t_null, "ratio": ratio,
             "rounds": len(runs["ref"]), "floor": floor, "clock": "cpu" if kinds == {"cpu"} else "wall",
             "runs": runs}
    return {**passed, "reward": reward, "detail": f"{passed['detail']}; speed {ratio:.3g}x the reference",
            "extra": {**passed.get("extra", {}), "speed": speed}}

"""A job that ran out of wall time because the host gave it no CPU is the host's failure, not the
answer's: ``sandbox.cpu_share`` tells the two apart, the pool retries a starved job and reports
``sandbox_error`` (never a verdict on the answer) if every attempt starves."""

from __future__ import annotations

import multiprocessing as mp
import os
import time

import pytest
from sppo_gym.sandbox import Job, Limits
from sppo_gym.sandbox.cpu_share import CpuShare, host_busy_s, of_pid

ST = "sppo_gym.sandbox.selftest"


@pytest.mark.parametrize(("share", "starved"), [
    (CpuShare(run_s=9.8, queued_s=0.2, others_s=10.0), False),  # it ran: its own timeout
    (CpuShare(run_s=0.0, queued_s=0.0, others_s=20.0), False),  # it slept: its own timeout
    (CpuShare(run_s=2.0, queued_s=8.0, others_s=15.0), True),  # others had the CPU it waited for
    (CpuShare(run_s=2.0, queued_s=8.0, others_s=0.5), False),  # its own threads crowded each other
    (CpuShare(run_s=6.0, queued_s=30.0, others_s=40.0), False),  # ran over half the wall: its doing
])
def test_starved_needs_little_run_more_queueing_and_busy_others(share: CpuShare, starved: bool) -> None:
    assert share.starved(10.0) is starved


def _spin(seconds: float) -> None:
    os.sched_setaffinity(0, {0})
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def _share_of(proc: mp.Process, busy0: float) -> CpuShare:
    own = of_pid(proc.pid)
    return CpuShare(own.run_s, own.queued_s, max(0.0, host_busy_s() - busy0 - own.run_s))


def test_a_process_crowded_off_its_cpu_reads_as_starved_and_a_sleeper_does_not() -> None:
    """Real kernel counters: four busy processes share CPU 0, so each runs about a quarter of the
    time; a sleeping process neither runs nor queues."""
    ctx = mp.get_context("fork")
    busy0 = host_busy_s()
    t0 = time.monotonic()
    spinners = [ctx.Process(target=_spin, args=(3.0,)) for _ in range(4)]
    sleeper = ctx.Process(target=time.sleep, args=(3.0,))
    for p in (*spinners, sleeper):
        p.start()
    time.sleep(2.0)
    wall = time.monotonic() - t0
    crowded, slept = _share_of(spinners[0], busy0), _share_of(sleeper, busy0)
    together = sum((of_pid(p.pid) for p in spinners), CpuShare())
    for p in (*spinners, sleeper):
        p.join()
    assert crowded.starved(wall), crowded
    assert not slept.starved(wall) and slept.run_s < 0.2 and slept.queued_s < 0.2, slept
    # all four as one job: they ran the whole of CPU 0 between them, so it was their own crowding
    assert together.run_s > 0.5 * wall and not together.starved(wall), together


def _spin_in_own_session(seconds: float) -> None:
    os.setsid()  # its own autogroup: it weighs against the container as one more busy program
    _spin(seconds)


@pytest.mark.docker
def test_a_candidate_crowded_off_its_cpu_by_host_programs_is_retried_then_sandbox_error(sandbox_pool) -> None:
    """Inside a real container, a candidate that needs CPU 0 meets four busy programs of the host
    on it: the judge's check says starved, the job ends ``starved`` on every attempt, and the
    caller gets ``sandbox_error`` with the figures, never ``timeout``."""
    sandbox_pool.warm()
    started = sandbox_pool.stats["containers_started"]
    spinners = [mp.get_context("fork").Process(target=_spin_in_own_session, args=(120.0,)) for _ in range(4)]
    for p in spinners:
        p.start()
    try:
        res = sandbox_pool.run(Job(f"{ST}:starved_candidate", {"wait_s": 2.0}, Limits(wall_s=60)))
    finally:
        for p in spinners:
            p.kill()
            p.join()
    assert res.status == "sandbox_error", (res.status, res.detail, res.value)
    assert "too busy" in res.detail and "waited" in res.detail, res.detail
    assert res.attempts == sandbox_pool.retries + 1
    assert sandbox_pool.stats["containers_started"] == started  # a starved job keeps its warm container


@pytest.mark.docker
def test_a_candidate_that_sleeps_through_its_wait_is_a_real_timeout(sandbox_pool) -> None:
    res = sandbox_pool.run(Job(f"{ST}:starved_candidate", {"sleep": True, "wait_s": 2.0}, Limits(wall_s=60)))
    assert res.status == "ok", (res.status, res.detail)
    assert res.value["starved"] is False and res.value["queued_s"] < 0.5 * res.value["waited_s"], res.value


@pytest.mark.docker
def test_a_judge_that_reports_starvation_is_retried(sandbox_pool) -> None:
    res = sandbox_pool.run(Job(f"{ST}:raise_host_starved", {}, Limits(wall_s=30)))
    assert (res.status, res.attempts) == ("sandbox_error", sandbox_pool.retries + 1), res
    assert "starved on purpose" in res.detail


@pytest.mark.docker
def test_a_sleeping_judge_at_its_wall_limit_is_a_timeout_with_its_cpu_figures(sandbox_pool) -> None:
    res = sandbox_pool.run(Job(f"{ST}:sleep", {"seconds": 600}, Limits(wall_s=1.0)))
    assert res.status == "timeout", (res.status, res.detail)
    assert "on a CPU" in res.detail and "other processes ran" in res.detail, res.detail
    assert sandbox_pool.run(Job(f"{ST}:echo", {"ok": 1})).value == {"ok": 1}  # the pool still works

"""Did a job run out of time, or was it never given the CPU? (``/proc/<pid>/task/<tid>/schedstat``).

A wall-clock limit cannot tell a job that computed for its whole ``wall_s`` from one that spent it
queued behind other work on a busy host: both hit the limit. The kernel keeps, for every thread,
the nanoseconds it ran on a CPU and the nanoseconds it was runnable but waiting for one
(``run_delay``). Summed over the container's processes (the job and the server and zygote that
serve it) from the job's start to the moment the limit hits, they separate the two:

* a job that *ran* (a loop, a huge computation) shows run time close to the wall time;
* a job that *slept* (``time.sleep``, a blocked read) shows neither: its own doing, a real timeout;
* a job that was *starved* ran for less than half the wall time and waited for a CPU for at
  least half of it, while *other* processes on the host (``/proc/stat``, host-wide even inside a
  container) ran at least half as long as it waited: they had the CPU it was waiting for.

Only the last is the host's fault (``CpuShare.starved`` asks for all three signs). The third one
keeps a candidate from faking it: threads that compete with each other show queueing too, but the
CPU they waited for went to the job itself, not to others.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

STARVED_FRACTION = 0.5
"""The share of the wall time a starved job waited for a CPU (at least) and ran (less than)."""


class HostStarved(Exception):
    """Raised by a judge whose wait on a candidate ran out while the host starved it of CPU
    (``Candidate.raise_if_starved``): the job ends as ``starved`` and the pool retries it."""


@dataclass(frozen=True)
class CpuShare:
    """CPU seconds a set of processes ran, and seconds they waited runnable for a CPU."""

    run_s: float = 0.0
    queued_s: float = 0.0
    others_s: float = 0.0
    """CPU seconds every other process on the host used in the same window."""

    def __add__(self, other: CpuShare) -> CpuShare:
        return CpuShare(self.run_s + other.run_s, self.queued_s + other.queued_s, self.others_s + other.others_s)

    def starved(self, wall_s: float) -> bool:
        """True when, over ``wall_s`` seconds, the processes waited for a CPU for at least half of
        it, ran for less than half of it, and other processes ran at least half as long as they
        waited: they wanted the CPU, and the host gave it to others."""
        half = STARVED_FRACTION * wall_s
        return self.queued_s >= half and self.run_s < half and self.others_s >= STARVED_FRACTION * self.queued_s

    def describe(self, wall_s: float) -> str:
        return (f"in {wall_s:.1f} s the container's processes ran {self.run_s:.2f} s on a CPU and waited "
                f"{self.queued_s:.2f} s for one; other processes ran {self.others_s:.2f} s")


def host_busy_s() -> float:
    """CPU seconds the whole host has spent busy since boot (``/proc/stat``: all but idle and iowait)."""
    with open("/proc/stat", "rb") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    busy = sum(fields[:3]) + sum(fields[5:8])  # user nice system | irq softirq steal (guest is in user)
    return busy / os.sysconf("SC_CLK_TCK")


def of_pid(pid: int) -> CpuShare:
    """Every thread of ``pid`` (zero if it is gone or unreadable)."""
    total = CpuShare()
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return total
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat", "rb") as f:
                run_ns, queued_ns, *_ = f.read().split()
        except (OSError, ValueError):
            continue
        total += CpuShare(int(run_ns) / 1e9, int(queued_ns) / 1e9)
    return total


def pids_of_uids(uids: Iterable[int]) -> list[int]:
    """Live processes whose real uid is one of ``uids`` (from ``/proc/*/status``)."""
    wanted = set(uids)
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status", "rb") as f:
                for line in f:
                    if line.startswith(b"Uid:"):
                        if int(line.split()[1]) in wanted:
                            out.append(int(name))
                        break
        except (OSError, ValueError, IndexError):
            continue
    return out


def snapshot() -> dict[int, CpuShare]:
    """Every visible process's share so far: in a container, the job server, the zygote, the
    judge and the candidates (a pid namespace of their own); on the local backend, the host's."""
    return {int(name): of_pid(int(name)) for name in os.listdir("/proc") if name.isdigit()}


def since(before: dict[int, CpuShare], host_busy_at_start: float) -> CpuShare:
    """What the visible processes ran and queued since ``before`` (a ``snapshot()``), and what
    the rest of the host ran since ``host_busy_at_start`` (a ``host_busy_s()`` reading).

    Counting the container's own infrastructure too (the server that forks and watches the job,
    the zygote that forks its candidates) matters: a starved job often spends its time blocked
    on a starved server, not queued itself."""
    total = CpuShare()
    for pid, now in snapshot().items():
        then = before.get(pid, CpuShare())
        total += CpuShare(max(0.0, now.run_s - then.run_s), max(0.0, now.queued_s - then.queued_s))
    others = max(0.0, host_busy_s() - host_busy_at_start - total.run_s)
    return CpuShare(total.run_s, total.queued_s, others)

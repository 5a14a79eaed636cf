"""Read another process's CPU time from the judge: the clock a timed candidate cannot touch.

Linux exposes every process's CPU clock (``CLOCK_PROCESS_CPUTIME_ID`` of a pid, the
``CPUCLOCK_SCHED`` flavour: nanoseconds the scheduler ran its threads, up to date even while it
runs) to any process of the same pid namespace. It is kept by the kernel, so nothing the
candidate does to ``time`` or ``os`` in its own process changes it, and waiting for a CPU on a
busy machine does not add to it (unlike wall time).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sppo_gym.sandbox.cpu_share import pids_of_uids

_CPUCLOCK_SCHED = 2


def pids_of_uid(uid: int) -> list[int]:
    """Live processes of ``uid`` (from /proc/*/status)."""
    return pids_of_uids([uid])


def process_clock(pid: int) -> Callable[[], float]:
    """Seconds of CPU the process ``pid`` has used (all its threads), as a callable."""
    clock_id = ((~pid) << 3) | _CPUCLOCK_SCHED  # MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED)
    time.clock_gettime(clock_id)  # fails here (OSError) if the process is not visible
    return lambda: time.clock_gettime(clock_id)


def clock_for_uid(uid: int) -> Callable[[], float] | None:
    """The CPU clock of the single process of ``uid``, or None when it cannot be read."""
    pids = pids_of_uid(uid)
    if len(pids) != 1:
        return None
    try:
        return process_clock(pids[0])
    except OSError:
        return None

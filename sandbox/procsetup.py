"""Turning a freshly forked child into a sandboxed process: limits, uid drop, fds, environment.

Shared by the job server (judges, program-mode candidates) and the zygote (function-mode
candidates, kill helpers), so that every untrusted process is set up by the same code.
"""

from __future__ import annotations

import os
import resource
import signal
from collections.abc import Iterator

from . import seccomp

CANDIDATE_OOM_SCORE_ADJ = 1000
"""Candidates are the out-of-memory killer's first victims (the maximum), ..."""
JUDGE_OOM_SCORE_ADJ = 500
"""... judges the next; the job server, its zygote and init keep the container's 0, so memory a
candidate fills costs the candidate, not the job server (which would turn a wrong answer into a
``sandbox_error``). Raising one's own score needs no privilege; lowering it again needs the
process to be dumpable, which ``seccomp`` forbids."""


def set_rlimits(memory_mb: int, file_size_mb: int, nproc: int) -> None:
    mem = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    fsize = file_size_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))


def drop_to(uid: int) -> None:
    """Become ``uid`` for good (real, effective and saved ids; no supplementary groups)."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def child_env(home: str) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": home,
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
    }


def make_home(path: str, mode: int) -> None:
    os.mkdir(path, mode)
    os.chmod(path, mode)  # mkdir's mode is filtered by the umask
    os.chdir(path)


def confine(oom_score_adj: int) -> None:
    """Last steps before a process may run untrusted code: its out-of-memory score (written while
    still root, since a non-dumpable process cannot open its own ``/proc/self`` files) and the
    seccomp filter (``seccomp``: no IP sockets, no way back to a lower score)."""
    with open("/proc/self/oom_score_adj", "w") as f:
        f.write(str(oom_score_adj))
    seccomp.install()


def reset_signals() -> None:
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)


def close_all_but(keep: set[int]) -> None:
    prev = -1
    for fd in sorted(keep):
        if fd > prev + 1:  # os.closerange(lo, lo) can close everything on some Pythons
            os.closerange(prev + 1, fd)
        prev = fd
    os.closerange(prev + 1, 65536)


def ended_children() -> Iterator[tuple[int, int]]:
    """``(pid, wait status)`` of every child that has ended, without blocking."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        yield pid, status


def become_candidate(fds: list[int], uid: int, home: str, memory_mb: int, file_size_mb: int, nproc: int) -> dict[str, str]:
    """In a fresh fork: fds ``[stdin, stdout, stderr, channel]`` become 0-3, limits apply, the
    process becomes ``uid`` in its own new directory ``home`` (a random name the server chose, so
    no other process can guess it and take it first). Returns the environment to use."""
    reset_signals()
    os.setsid()
    for target, fd in enumerate(fds):
        if fd != target:
            os.dup2(fd, target)
    close_all_but({0, 1, 2, 3})
    set_rlimits(memory_mb, file_size_mb, nproc)
    confine(CANDIDATE_OOM_SCORE_ADJ)
    drop_to(uid)
    os.umask(0o022)
    make_home(home, 0o711)
    return child_env(home)


def kill_uid(uid: int) -> None:
    """Run in a forked root child (never returns): SIGKILL every process of ``uid``.

    Becoming ``uid`` first makes ``kill(-1)`` reach exactly that uid's processes, in one pass
    (children forked during the pass are visited too, and a process with SIGKILL pending cannot
    fork); the extra passes are cheap insurance. Its return value says nothing useful: it
    succeeds whenever any other process exists.
    """
    code = 0
    try:
        drop_to(uid)
        for _ in range(3):
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                pass
    except BaseException:
        code = 1
    os._exit(code)

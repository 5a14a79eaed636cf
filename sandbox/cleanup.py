"""Remove everything a job or candidate left in the container, whoever owns it now.

Runs inside the container. A container serves one job at a time, so anything in its shared
writable places that does not belong to root (the server) or to a uid the caller still needs
is a leftover: files in ``/scratch`` and ``/dev/shm``, POSIX message queues in ``/dev/mqueue``,
and every SysV IPC object (an object's creator may have given it to root with ``IPC_SET``, so
objects are never selected by owner). ``sweep`` removes them as root, switching the effective
uid to the owner of each thing in turn (the server holds no CAP_DAC_OVERRIDE, CAP_FOWNER or
CAP_IPC_OWNER, but CAP_SETUID lets it act as any owner); ``leftovers`` is the server's
owner-agnostic proof that nothing is left.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import os
import stat
import time
from collections.abc import Iterator

SHARED_DIRS = ("/dev/shm",)
MQUEUE_DIR = "/dev/mqueue"
IPC_RMID = 0
_IPC_TABLES = {"shm": "shmctl", "sem": "semctl", "msg": "msgctl"}
MAX_DEPTH = 64
"""Deeper directory trees are not emptied: they stay, ``leftovers`` sees them and the container
is replaced (a bounded walk cannot be turned against the server's stack or its time)."""


def all_ipc_objects() -> list[tuple[str, int, int, int]]:
    """Every SysV IPC object of this IPC namespace: ``(kind, id, owner uid, creator uid)``."""
    out = []
    for kind, id_name in (("shm", "shmid"), ("sem", "semid"), ("msg", "msqid")):
        try:
            with open(f"/proc/sysvipc/{kind}") as f:
                header = f.readline().split()
                cols_at = [header.index(c) for c in (id_name, "uid", "cuid")]
                for line in f:
                    cols = line.split()
                    if len(cols) > max(cols_at):
                        out.append((kind, *(int(cols[i]) for i in cols_at)))
        except (OSError, ValueError):
            continue
    return out


def remove_ipc(objects: list[tuple[str, int]]) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    for kind, ident in objects:
        fn = getattr(libc, _IPC_TABLES[kind])
        if kind == "sem":
            fn(ident, 0, IPC_RMID)
        else:
            fn(ident, IPC_RMID, None)


def remove_tree(path: str) -> bool:
    """Delete ``path`` recursively without following symlinks; True if it is gone."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    if not stat.S_ISDIR(st.st_mode):
        try:
            os.unlink(path)
            return True
        except OSError:
            return False
    try:
        os.chmod(path, 0o700)
    except OSError:
        pass
    ok = True
    try:
        with os.scandir(path) as it:
            names = [e.path for e in it]
    except OSError:
        names = []
    for name in names:
        ok = remove_tree(name) and ok
    try:
        os.rmdir(path)
    except OSError:
        return False
    return ok


def live_uids(uids: set[int], first_only: bool = False) -> set[int]:
    """Which of ``uids`` own a live (non-zombie) process (one pass over /proc, reading state and
    real uid from /proc/PID/status, which everyone may read, non-dumpable processes too)."""
    found: set[int] = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status", "rb") as f:
                zombie = False
                for line in f:  # State: comes before Uid:
                    if line.startswith(b"State:"):
                        zombie = line.split()[1] in (b"Z", b"X")
                    elif line.startswith(b"Uid:"):
                        uid = int(line.split()[1])
                        if not zombie and uid in uids:
                            found.add(uid)
                            if first_only:
                                return found
                        break
        except (OSError, ValueError, IndexError):
            continue
    return found


def uids_alive(uids: list[int], wait_s: float = 0.2) -> bool:
    """True if a live (non-zombie) process of any of ``uids`` is still there after ``wait_s``."""
    deadline = time.monotonic() + wait_s
    while True:
        alive = bool(live_uids(set(uids), first_only=True))
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.0005)


# ---- owner-agnostic sweep (a container is single-tenant: anything not kept is a leftover) --------
def _set_euid(uid: int) -> None:
    """Become effective ``uid`` (real and saved uid stay root, so root can always come back; a
    change between two non-root uids has to pass through root, whose capabilities return)."""
    if os.geteuid() != 0:
        os.setresuid(-1, 0, -1)
    if uid != 0:
        os.setresuid(-1, uid, -1)


@contextlib.contextmanager
def _as_owner(uid: int) -> Iterator[None]:
    """Act with effective uid ``uid`` (a root process holding CAP_SETUID), then as before."""
    before = os.geteuid()
    _set_euid(uid)
    try:
        yield
    finally:
        _set_euid(before)


def _empty_dir(path: str, depth: int = 0) -> None:
    """Delete what is inside directory ``path`` (effective uid: its owner), whoever owns the entries.

    Unlinking needs write access to the parent (and, when it is sticky, owning it): the owner of
    ``path`` can always grant itself that; sub-directories are emptied as their own owners.
    """
    if depth > MAX_DEPTH:
        return
    try:
        os.chmod(path, 0o711)  # owner: full access; others: may reach their own sub-directories
        with os.scandir(path) as it:  # streamed: a directory of a million entries costs no memory here
            for entry in it:
                try:
                    _remove_entry(entry.path, entry.stat(follow_symlinks=False), depth)
                except OSError:
                    continue
    except OSError:
        return


def _remove_entry(path: str, st: os.stat_result, depth: int) -> None:
    """Remove ``path`` (its parent writable by the current effective uid); a directory is first
    emptied by its own owner."""
    if stat.S_ISDIR(st.st_mode):
        try:
            with _as_owner(st.st_uid):
                _empty_dir(path, depth + 1)
        except OSError:
            pass
        os.rmdir(path)
    else:
        os.unlink(path)


def _foreign_entries(dirs: list[str], keep: set[int]) -> Iterator[tuple[str, os.stat_result]]:
    """Top-level entries of ``dirs`` owned by none of ``keep`` (streamed)."""
    for d in dirs:
        try:
            with os.scandir(d) as it:
                for entry in it:
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    if st.st_uid not in keep:
                        yield entry.path, st
        except OSError:
            continue


def sweep(scratch: str, keep_uids: set[int], *, shared: bool = True) -> None:
    """Remove every SysV IPC object, every POSIX message queue, and every top-level entry of
    ``scratch`` and ``/dev/shm`` not owned by root or by one of ``keep_uids``.

    Must run as root holding CAP_SETUID (the effective uid changes meanwhile and is restored);
    the caller has already killed every process of the uids whose things are removed. With
    ``shared=False`` (not a container of its own) only ``scratch`` is swept.
    """
    keep = {0, *keep_uids}
    for kind, ident, owner, creator in all_ipc_objects() if shared else []:
        for who in dict.fromkeys((owner, creator)):  # the owner or the creator may remove it
            try:
                with _as_owner(who):
                    remove_ipc([(kind, ident)])
            except OSError:
                continue
    try:
        queues = os.listdir(MQUEUE_DIR) if shared else []
    except OSError:
        queues = []
    for name in queues:  # root owns the (sticky) mqueue root directory: it may unlink any queue
        try:
            os.unlink(os.path.join(MQUEUE_DIR, name))
        except OSError:
            pass
    # The shared places are root's sticky directories: root may unlink any top-level entry once
    # the entry's owner has emptied it.
    for path, st in _foreign_entries([scratch, *(SHARED_DIRS if shared else ())], keep):
        try:
            _remove_entry(path, st, 0)
        except OSError:
            pass


def leftovers(scratch: str, keep_uids: set[int], *, shared: bool = True, limit: int = 20) -> list[str]:
    """What a sweep should have removed but is still there (empty when the container is clean;
    at most ``limit`` names of files and directories, which suffice to say it is not)."""
    keep = {0, *keep_uids}
    left = [path for path, _ in itertools.islice(
        _foreign_entries([scratch, *(SHARED_DIRS if shared else ())], keep), limit)]
    if not shared:
        return left
    try:
        left += [os.path.join(MQUEUE_DIR, n) for n in os.listdir(MQUEUE_DIR)]
    except OSError:
        pass
    left += [f"sysv {kind} {ident}" for kind, ident, _, _ in all_ipc_objects()]
    return left

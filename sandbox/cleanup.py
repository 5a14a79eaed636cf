"""Find and remove what a job's uid left behind: files in shared writable places, SysV IPC.

Runs inside the container. The server (root, owner of ``/scratch``) lists what a uid owns;
removal happens in a helper process that has become that uid, since the server holds no
CAP_DAC_OVERRIDE/CAP_FOWNER and so cannot delete inside the job's own directories.
"""

from __future__ import annotations

import ctypes
import os
import stat
import time

SHARED_DIRS = ("/dev/shm",)
IPC_RMID = 0
_IPC_TABLES = {"shm": "shmctl", "sem": "semctl", "msg": "msgctl"}


def owned_entries(dirs: list[str], uid: int | set[int]) -> list[str]:
    """Top-level entries of ``dirs`` owned by ``uid`` (or any of a set of uids; the caller must
    be able to list ``dirs``)."""
    uids = uid if isinstance(uid, set) else {uid}
    found = []
    for d in dirs:
        try:
            with os.scandir(d) as it:
                for entry in it:
                    try:
                        if entry.stat(follow_symlinks=False).st_uid in uids:
                            found.append(entry.path)
                    except OSError:
                        continue
        except OSError:
            continue
    return found


def ipc_objects(uid: int | set[int]) -> list[tuple[str, int]]:
    """SysV IPC objects (kind, id) owned by ``uid`` (or any of a set), read from /proc/sysvipc."""
    uids = uid if isinstance(uid, set) else {uid}
    out = []
    for kind in _IPC_TABLES:
        try:
            with open(f"/proc/sysvipc/{kind}") as f:
                header = f.readline().split()
                id_col, uid_col = header.index({"shm": "shmid", "sem": "semid", "msg": "msqid"}[kind]), header.index("uid")
                for line in f:
                    cols = line.split()
                    if len(cols) > max(id_col, uid_col) and int(cols[uid_col]) in uids:
                        out.append((kind, int(cols[id_col])))
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


def scrub(scratch: str, uids: list[int]) -> bool:
    """Server-side check after the per-uid helpers ran: True if nothing of ``uids`` remains."""
    return not (owned_entries([scratch, *SHARED_DIRS], set(uids)) or ipc_objects(set(uids)))


def _any_live(uids: set[int]) -> bool:
    """True if one of ``uids`` owns a live (non-zombie) process (one pass over /proc, reading
    state and real uid from /proc/PID/status, which everyone may read, non-dumpable processes too)."""
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
                        if not zombie and int(line.split()[1]) in uids:
                            return True
                        break
        except (OSError, ValueError, IndexError):
            continue
    return False


def uids_alive(uids: list[int], wait_s: float = 0.2) -> bool:
    """True if a live (non-zombie) process of any of ``uids`` is still there after ``wait_s``."""
    deadline = time.monotonic() + wait_s
    while True:
        alive = _any_live(set(uids))
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.0005)

"""Host-wide allocation of uid blocks for job servers.

Containers share the host kernel's per-uid accounting (RLIMIT_NPROC counts every process of a
uid, in any container), so two containers must never hand out the same uid. Each job server gets
its own block of ``BLOCK`` uids from a counter kept in a lock-protected file, unique across every
process on this host that uses the same engine.
"""

from __future__ import annotations

import fcntl
import os
import tempfile

BLOCK = 1 << 16
FIRST = 1 << 20
LAST = 1 << 31  # stay below 2**31: some tools treat uids as signed 32-bit ints
STATE = os.path.join(tempfile.gettempdir(), "sppo-gym-uid-blocks")


def allocate_block(state: str = STATE) -> int:
    """First uid of a fresh block; wraps around after ~32k blocks (long-gone containers)."""
    fd = os.open(state, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        raw = os.read(fd, 32).strip()
        n = int(raw) if raw.isdigit() else int.from_bytes(os.urandom(2), "big")
        blocks = (LAST - FIRST) // BLOCK
        n %= blocks
        os.lseek(fd, 0, os.SEEK_SET)
        os.ftruncate(fd, 0)
        os.write(fd, str(n + 1).encode())
        return FIRST + n * BLOCK
    finally:
        os.close(fd)

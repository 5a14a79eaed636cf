"""A small seccomp filter every judge and candidate process installs on itself before running
untrusted code (on top of the engine's default profile).

Why: the container has no network, but its loopback still carries state that outlives a
process: a closed TCP connection stays in TIME_WAIT for a minute, and its port numbers can carry
bits from one job to the next. No judge or candidate needs an IP socket, so ``socket()`` with
``AF_INET``/``AF_INET6`` fails with ``EACCES`` (``AF_UNIX``, which pipes and the judge's channel
use, stays allowed; its names vanish with their processes). ``io_uring_setup`` fails too (it can
open sockets without the ``socket`` system call), as does every system call of a foreign ABI
(32-bit ``int 0x80`` on x86-64, x32), which this filter does not inspect.

``prctl(PR_SET_DUMPABLE, non-zero)`` fails as well: a process that dropped to its uid is not
dumpable, so its ``/proc/self`` files (``oom_score_adj`` among them) belong to root; making
itself dumpable again would let it lower the ``oom_score_adj`` that makes it, not the job
server, the first victim of the container's out-of-memory killer.

Filters are inherited by children and kept across ``exec``; an unprivileged process may install
one once ``no_new_privs`` is set (the containers run with ``no-new-privileges`` anyway).
"""

from __future__ import annotations

import ctypes
import errno
import platform
import socket

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
PR_SET_DUMPABLE = 4
RET_ALLOW = 0x7FFF0000
RET_ERRNO = 0x00050000
X32_BIT = 0x40000000

# architecture token (AUDIT_ARCH_*) and system call numbers: socket, prctl, io_uring_setup
_ARCHES = {
    "x86_64": (0xC000003E, 41, 157, 425),
    "aarch64": (0xC00000B7, 198, 167, 425),
}
_ARCHES["amd64"] = _ARCHES["x86_64"]
_ARCHES["arm64"] = _ARCHES["aarch64"]

# classic BPF opcodes
_LD_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JGE = 0x35  # BPF_JMP | BPF_JGE | BPF_K
_RET = 0x06  # BPF_RET | BPF_K
# offsets in struct seccomp_data (little-endian: low word of each argument first)
_NR, _ARCH, _ARG0, _ARG1 = 0, 4, 16, 24


class _Insn(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _Prog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_Insn))]


def program(machine: str | None = None) -> list[tuple[int, int, int, int]] | None:
    """The filter as ``(code, jt, jf, k)`` instructions for ``machine``; None if unsupported."""
    spec = _ARCHES.get((machine or platform.machine()).lower())
    if spec is None:
        return None
    arch, nr_socket, nr_prctl, nr_io_uring = spec
    deny_acces = RET_ERRNO | errno.EACCES
    deny_perm = RET_ERRNO | errno.EPERM
    deny_nosys = RET_ERRNO | errno.ENOSYS
    # Jump offsets count instructions after the jump itself; BPF only jumps forward.
    return [
        (_LD_ABS, 0, 0, _ARCH),             # 0
        (_JEQ, 1, 0, arch),                 # 1: native ABI -> 3
        (_RET, 0, 0, deny_nosys),           # 2: foreign ABI
        (_LD_ABS, 0, 0, _NR),               # 3
        (_JGE, 7, 0, X32_BIT),              # 4: x32 -> 12
        (_JEQ, 6, 0, nr_io_uring),          # 5: -> 12
        (_JEQ, 6, 0, nr_prctl),             # 6: -> 13
        (_JEQ, 0, 3, nr_socket),            # 7: other calls -> 11
        (_LD_ABS, 0, 0, _ARG0),             # 8: socket domain
        (_JEQ, 2, 0, socket.AF_INET),       # 9: -> 12
        (_JEQ, 1, 0, socket.AF_INET6),      # 10: -> 12, else 11
        (_RET, 0, 0, RET_ALLOW),            # 11
        (_RET, 0, 0, deny_acces),           # 12
        (_LD_ABS, 0, 0, _ARG0),             # 13: prctl option
        (_JEQ, 0, 3, PR_SET_DUMPABLE),      # 14: other options -> 18
        (_LD_ABS, 0, 0, _ARG1),             # 15
        (_JEQ, 1, 0, 0),                    # 16: dumpable := 0 -> 18, else 17
        (_RET, 0, 0, deny_perm),            # 17
        (_RET, 0, 0, RET_ALLOW),            # 18
    ]


def install() -> bool:
    """Install the filter on the calling thread (and its future children); False where the
    machine is not one the filter knows (the engine's default profile still applies there)."""
    insns = program()
    if insns is None:
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    arr = (_Insn * len(insns))(*(_Insn(*i) for i in insns))
    prog = _Prog(len(insns), arr)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "installing the seccomp filter failed")
    return True

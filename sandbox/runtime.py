"""Judge-side runtime: what a judge entry point gets as ``ctx`` inside the sandbox.

A judge runs as its own non-root uid and cannot fork candidates itself; it asks the job server
(over ``ctx``'s control socket) to start each candidate under a fresh uid and receives the
candidate's pipes as file descriptors. Everything read from a candidate is bounded in bytes and
time, and values cross only as plain data (``plaindata``), so nothing the candidate defines can
reach the judge's objects.
"""

from __future__ import annotations

import base64
import os
import selectors
import socket
import stat
import time
from dataclasses import dataclass
from typing import Any

from . import cpu_share
from .channel import Channel, ChannelClosed, ChannelTimeout
from .cpu_share import CpuShare, HostStarved
from .protocol import FrameReader, encode

__all__ = ["Candidate", "CandidateExited", "ChannelTimeout", "Completed", "JobContext"]

SCRATCH = "/scratch"


class CandidateExited(ChannelClosed):
    """The candidate process ended (exit, crash or kill) while the judge expected a message."""

    def __init__(self, message: str, returncode: int | None = None) -> None:
        super().__init__(message)
        self.returncode = returncode


@dataclass
class Completed:
    """Result of running a whole candidate program."""

    returncode: int | None
    stdout: bytes
    stderr: bytes
    timed_out: bool = False
    limit: str | None = None
    """``"timeout"``, ``"output"``, ``"file_size"`` or ``"memory"`` when a limit ended the run."""


class JobContext:
    """Handed to every judge entry point: scratch directory, deadline, and ``spawn``."""

    def __init__(self, ctrl: socket.socket, scratch: str, deadline: float, limits: dict) -> None:
        self._ctrl = ctrl
        self._reader = FrameReader()
        self.scratch = scratch
        self.deadline = deadline
        self.limits = dict(limits)
        self._candidates: list[Candidate] = []

    def time_left(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def spawn(
        self,
        *,
        target: str | None = None,
        args: dict | None = None,
        argv: list[str] | None = None,
        files: dict[str, bytes | str] | None = None,
        stdin: bytes | None = None,
        memory_mb: int | None = None,
        fresh: bool = True,
    ) -> Candidate:
        """Start an untrusted process under a fresh uid in its own directory.

        ``target="module:function"`` runs ``function(args, channel)`` in a process forked from the
        container's zygote, a fresh interpreter that never sees job data (talk to it with
        ``send``/``recv``); ``argv=[...]`` execs a program (talk to it with ``communicate``).
        ``files`` are written into its directory first (with ``target=`` they make the candidate an
        exec'd interpreter instead of a zygote fork).

        ``fresh`` (the default): every earlier candidate of this job is killed and everything it
        left in the container (files, IPC objects, message queues) is removed first, so that
        candidates cannot pass state to one another; ``fresh=False`` keeps them (for a judge that
        needs two candidates at once).
        """
        if (target is None) == (argv is None):
            raise ValueError("spawn needs exactly one of target= or argv=")
        enc_files = {}
        for name, data in (files or {}).items():
            if "/" in name or name in ("", ".", ".."):
                raise ValueError(f"file name {name!r} must be a plain name")
            raw = data.encode() if isinstance(data, str) else data
            enc_files[name] = base64.b64encode(raw).decode()
        req = {"op": "spawn", "target": target, "args": args, "argv": argv, "files": enc_files,
               "memory_mb": memory_mb, "fresh": fresh}
        msg, fds = self._request(req)
        if len(fds) != 4:
            raise RuntimeError(f"spawn failed: {msg}")
        cand = Candidate(self, msg["cid"], fds, stdin, msg["home"])
        self._candidates.append(cand)
        if target is not None:
            cand.send(args or {})  # candidate_boot reads its arguments first
        return cand

    # ---- control socket ----------------------------------------------------------------
    def _request(self, req: dict) -> tuple[dict, list[int]]:
        self._ctrl.sendall(encode(req))
        fds: list[int] = []
        while True:
            msgs = self._reader.feed(b"")
            if msgs:
                return msgs[0], fds
            data, got, _flags, _addr = socket.recv_fds(self._ctrl, 1 << 16, 8)
            fds += got
            if not data:
                raise RuntimeError("job server closed the control socket")
            msgs = self._reader.feed(data)
            if msgs:
                return msgs[0], fds

    def _kill(self, cid: int) -> dict:
        return self._request({"op": "kill", "cid": cid})[0]

    def _wait(self, cid: int, timeout: float | None = None) -> dict:
        """Exit status of a candidate; ``returncode`` is None if it still runs after ``timeout``."""
        return self._request({"op": "wait", "cid": cid, "timeout": timeout})[0]

    def reset(self) -> list[str]:
        """Kill every candidate of this job and remove everything they left in the container;
        returns what could not be removed (empty: the container is as the judge found it)."""
        msg = self._request({"op": "reset"})[0]
        return list(msg.get("left", []))

    def close_all(self) -> None:
        for cand in self._candidates:
            cand.close()


class Candidate:
    """An untrusted process started by ``JobContext.spawn``."""

    def __init__(self, ctx: JobContext, cid: int, fds: list[int], stdin: bytes | None, home: str) -> None:
        self._ctx = ctx
        self.cid = cid
        self.stdin_fd, self.stdout_fd, self.stderr_fd, chan_fd = fds
        self.channel = Channel(chan_fd)
        self._stdin_data = stdin
        self.returncode: int | None = None
        self.killed = False
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.home = home
        """The candidate's own directory (a random name; gone once the next fresh candidate starts)."""
        self.host_busy_at_start = cpu_share.host_busy_s()
        self.cpu_before = cpu_share.snapshot()
        for fd in (self.stdout_fd, self.stderr_fd):
            os.set_blocking(fd, False)

    # ---- message mode (target=) ---------------------------------------------------------
    def send(self, value: Any) -> None:
        try:
            self.channel.send(value)
        except ChannelClosed as e:
            raise self._exited() from e

    def recv(self, timeout: float | None = None, output_bytes: int | None = None) -> Any:
        """Next plain-data message; drains the candidate's output meanwhile (bounded)."""
        budget = output_bytes or self._ctx.limits.get("output_bytes", 65536)
        timeout = self._ctx.time_left() if timeout is None else min(timeout, self._ctx.time_left())
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.channel.recv(timeout=min(0.05, max(0.0, deadline - time.monotonic())))
            except ChannelTimeout:
                self._drain(budget)
                if time.monotonic() >= deadline:
                    raise ChannelTimeout(f"candidate sent nothing within {timeout:.2f} s") from None
            except ChannelClosed as e:
                raise self._exited() from e

    def _exited(self) -> CandidateExited:
        info = self._ctx._wait(self.cid, 5.0)
        self.returncode = info.get("returncode")
        self._drain(self._ctx.limits.get("output_bytes", 65536))
        return CandidateExited(f"candidate exited with code {self.returncode}", self.returncode)

    def _drain(self, budget: int) -> bool:
        """Read what output is available; False once the byte budget is exceeded."""
        for fd, buf in ((self.stdout_fd, self.stdout), (self.stderr_fd, self.stderr)):
            try:
                while len(buf) <= budget:
                    chunk = os.read(fd, 1 << 16)
                    if not chunk:
                        break
                    buf += chunk
            except (BlockingIOError, OSError):
                pass
        return len(self.stdout) <= budget and len(self.stderr) <= budget

    # ---- program mode (argv=) ------------------------------------------------------------
    def communicate(self, input: bytes | None = None, timeout: float | None = None, max_bytes: int | None = None) -> Completed:
        """Feed stdin, collect stdout/stderr (each at most ``max_bytes``) until exit or timeout."""
        data = memoryview(input if input is not None else (self._stdin_data or b""))
        budget = max_bytes or self._ctx.limits.get("output_bytes", 65536)
        timeout = self._ctx.time_left() if timeout is None else min(timeout, self._ctx.time_left())
        deadline = time.monotonic() + timeout
        sel = selectors.DefaultSelector()
        os.set_blocking(self.stdin_fd, False)
        if data:
            sel.register(self.stdin_fd, selectors.EVENT_WRITE)
        else:
            os.close(self.stdin_fd)
            self.stdin_fd = -1
        bufs = {self.stdout_fd: self.stdout, self.stderr_fd: self.stderr}
        for fd in bufs:
            sel.register(fd, selectors.EVENT_READ)
        limit = None
        while bufs and limit is None:
            left = deadline - time.monotonic()
            if left <= 0:
                limit = "timeout"
                break
            for key, _ in sel.select(left):
                fd = key.fd
                if fd == self.stdin_fd:
                    try:
                        n = os.write(fd, data[:65536])
                        data = data[n:]
                    except (BrokenPipeError, BlockingIOError, OSError):
                        data = data[:0]
                    if not data:
                        sel.unregister(fd)
                        os.close(fd)
                        self.stdin_fd = -1
                    continue
                try:
                    chunk = os.read(fd, 1 << 16)
                except BlockingIOError:
                    continue
                if not chunk:
                    sel.unregister(fd)
                    del bufs[fd]
                    continue
                bufs[fd] += chunk
                if len(bufs[fd]) > budget:
                    limit = "output"
        sel.close()
        if limit is None:  # output closed; the process may still run (it may have closed them itself)
            self.returncode = self._ctx._wait(self.cid, max(0.0, deadline - time.monotonic())).get("returncode")
            if self.returncode is None:
                limit = "timeout"
        if limit is not None:
            self.kill()
        if limit is None and self.returncode == -25:  # SIGXFSZ
            limit = "file_size"
        return Completed(self.returncode, bytes(self.stdout[:budget]), bytes(self.stderr[:budget]),
                         limit == "timeout", limit)

    # ---- both ------------------------------------------------------------------------------
    def cpu_share(self) -> CpuShare:
        """Since this candidate started: CPU seconds the container's processes ran and waited
        runnable for a CPU, and what the rest of the host ran."""
        return cpu_share.since(self.cpu_before, self.host_busy_at_start)

    def raise_if_starved(self, waited_s: float) -> None:
        """Call when a wait of ``waited_s`` seconds on this candidate timed out (before killing it):
        raises ``HostStarved`` if the busy host, not the candidate, used that time, so the job is
        retried instead of scoring the answer as a timeout."""
        share = self.cpu_share()
        if share.starved(waited_s):
            raise HostStarved(f"candidate starved of CPU: {share.describe(waited_s)}")

    def kill(self) -> None:
        """SIGKILL the candidate and everything it started."""
        if self.returncode is None or not self.killed:
            info = self._ctx._kill(self.cid)
            self.killed = True
            self.returncode = info.get("returncode", self.returncode)

    def read_file(self, name: str, max_bytes: int = 16 * 1024 * 1024) -> bytes:
        """Read a regular file the candidate wrote in its directory (no symlinks followed)."""
        if "/" in name or name in ("", ".", ".."):
            raise ValueError(f"file name {name!r} must be a plain name")
        dfd = os.open(self.home, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW)  # needs x, not r
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dfd)
        finally:
            os.close(dfd)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_uid != self.cid:
                raise PermissionError(f"{name} is not a regular file written by the candidate")
            if st.st_size > max_bytes:
                raise ValueError(f"{name} is {st.st_size} bytes, more than {max_bytes}")
            with os.fdopen(fd, "rb", closefd=False) as f:
                return f.read(max_bytes + 1)[:max_bytes]
        finally:
            os.close(fd)

    def close(self) -> None:
        for fd in (self.stdin_fd, self.stdout_fd, self.stderr_fd):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.stdin_fd = self.stdout_fd = self.stderr_fd = -1
        self.channel.close()

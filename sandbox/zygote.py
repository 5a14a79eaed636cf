"""The zygote: a payload-free process that forks function-mode candidates and kill helpers.

Why: a candidate must never be a fork of the job server, whose memory holds earlier requests
(test code, expected values) in freed buffers that a candidate could read once it makes itself
dumpable. Exec'ing a fresh interpreter per candidate avoids that but costs ~100 ms of start-up
per candidate. The zygote is that fresh interpreter, started once per container (``python3 -I``:
the same interpreter state an exec'd candidate had) before the server reads
any request, and it never receives job data: only uids, limits, a target name and the
candidate's pipe ends (``SCM_RIGHTS``). Its forks therefore carry nothing worth finding, and start
in about a millisecond. The per-uid kill helpers are forked here too (a small process forks fast).

Wire (``SOCK_SEQPACKET``, one JSON object per packet), server -> zygote:

* ``{"op": "spawn", "cid", "home", "target", "memory_mb", "file_size_mb", "nproc"}`` + fds
  ``[stdin, stdout, stderr, channel]`` -> ``{"op": "spawned", "cid", "pid"}`` or
  ``{"op": "error", "cid", "detail"}``;
* ``{"op": "kill", "ref", "uids"}`` -> ``{"op": "killed", "ref", "status"}`` once every uid's
  kill helper is done (they run in parallel; ``status`` is non-zero if any failed);

and unprompted, for every candidate that ends: ``{"op": "exited", "pid", "status"}``.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import signal
import socket
import sys
import traceback
from typing import Any

from . import procsetup
from .candidate_boot import run as run_candidate
from .protocol import load_entry

MAX_PACKET = 1 << 16
BOOT = "import sys; sys.path.insert(0, {root!r}); from sppo_gym.sandbox.zygote import main; main({fd}, {scratch!r})"


class Zygote:
    """Zygote side: serve the server's requests until it closes the socket."""

    def __init__(self, sock: socket.socket, scratch: str) -> None:
        self.sock, self.scratch = sock, scratch
        self.helpers: dict[int, tuple[Any, dict]] = {}  # kill helper pid -> (request ref, its group)
        self.wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)

    def send(self, msg: dict) -> None:
        self.sock.send(json.dumps(msg).encode())

    def serve(self) -> None:
        while True:
            try:
                ready, _, _ = select.select([self.sock, self.wake_r], [], [])
            except InterruptedError:
                ready = []
            if self.wake_r in ready:
                os.read(self.wake_r, 4096)
            self.reap()
            if self.sock in ready:
                data, fds, _flags, _addr = socket.recv_fds(self.sock, MAX_PACKET, 8)
                if not data:
                    return  # the server is gone
                msg = json.loads(data)
                if msg.get("op") == "spawn":
                    self.spawn(msg, fds)
                elif msg.get("op") == "kill":
                    self.kill(msg)
                for fd in fds:
                    os.close(fd)

    def spawn(self, msg: dict, fds: list[int]) -> None:
        cid = msg["cid"]
        try:
            func = load_entry(msg["target"])
            if len(fds) != 4:
                raise ValueError(f"expected 4 file descriptors, got {len(fds)}")
        except Exception as e:
            self.send({"op": "error", "cid": cid, "detail": f"cannot start {msg.get('target')!r}: {e!r}"[:500]})
            return
        try:
            pid = os.fork()
        except OSError as e:
            self.send({"op": "error", "cid": cid, "detail": f"fork failed: {e}"})
            return
        if pid == 0:  # ---- candidate process
            code = 71
            try:
                env = procsetup.become_candidate(fds, cid, msg["home"], msg["memory_mb"],
                                                 msg["file_size_mb"], msg["nproc"])
                os.environ.clear()
                os.environ.update(env)
                code = _run_as_program(func)
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(code)
        self.send({"op": "spawned", "cid": cid, "pid": pid})

    def kill(self, msg: dict) -> None:
        ref, uids = msg.get("ref"), [int(u) for u in msg.get("uids", [])]
        group = {"left": len(uids), "status": 0}
        for uid in uids:
            try:
                pid = os.fork()
            except OSError:
                group["left"] -= 1
                group["status"] = 1
                continue
            if pid == 0:
                procsetup.kill_uid(uid)  # never returns
            self.helpers[pid] = (ref, group)
        if group["left"] == 0:
            self.send({"op": "killed", "ref": ref, "status": group["status"]})

    def reap(self) -> None:
        for pid, status in procsetup.ended_children():
            if pid in self.helpers:
                ref, group = self.helpers.pop(pid)
                group["left"] -= 1
                group["status"] |= status
                if group["left"] == 0:
                    self.send({"op": "killed", "ref": ref, "status": group["status"]})
            else:
                self.send({"op": "exited", "pid": pid, "status": status})


def _run_as_program(func: Any) -> int:
    """Run the candidate as ``python3 -c`` would run it: exit code, atexit handlers, flushed stdio."""
    try:
        run_candidate(func)
        code = 0
    except SystemExit as e:
        if e.code is None or isinstance(e.code, int):
            code = e.code or 0
        else:  # sys.exit("message"): printed, status 1, as the interpreter does
            print(e.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    try:
        atexit._run_exitfuncs()
    except BaseException:
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    return code & 0xFF


def main(fd: int, scratch: str) -> None:
    """Entry point of the zygote interpreter (see ``BOOT``): fds 0 and 1 are /dev/null."""
    sock = socket.socket(fileno=fd)
    procsetup.close_all_but({0, 1, 2, fd})
    Zygote(sock, scratch).serve()


# ---- server side ---------------------------------------------------------------------------------
class ZygoteGone(RuntimeError):
    """The zygote died or stopped answering: the server falls back to exec'd candidates."""


class ZygoteClient:
    """The job server's handle on its zygote; unprompted ``exited`` events go to ``on_event``."""

    REPLY_TIMEOUT_S = 30.0

    def __init__(self, sock: socket.socket, pid: int) -> None:
        self.sock, self.pid = sock, pid
        self.alive = True
        self.on_event: Any = lambda msg: None

    @classmethod
    def start(cls, scratch: str, package_root: str) -> ZygoteClient:
        """Exec the zygote interpreter (call before the server reads any request)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = procsetup.child_env("/nonexistent")
        argv = [sys.executable, "-I", "-c", BOOT.format(root=package_root, fd=theirs.fileno(), scratch=scratch)]
        pid = os.fork()
        if pid == 0:
            try:
                devnull = os.open(os.devnull, os.O_RDWR)
                os.dup2(devnull, 0)
                os.dup2(devnull, 1)
                os.set_inheritable(theirs.fileno(), True)
                procsetup.close_all_but({0, 1, 2, theirs.fileno()})
                procsetup.reset_signals()
                os.execve(argv[0], argv, env)
            finally:
                os._exit(70)
        theirs.close()
        return cls(ours, pid)

    def fileno(self) -> int:
        return self.sock.fileno()

    def request(self, msg: dict, fds: list[int] | None = None, *, reply_op: str, key: str, value: Any) -> dict:
        """Send ``msg`` and wait for the reply whose ``key`` is ``value`` (op ``reply_op`` or
        ``error``); events that arrive meanwhile are handed to ``on_event`` first."""
        if not self.alive:
            raise ZygoteGone("the zygote is gone")
        try:
            socket.send_fds(self.sock, [json.dumps(msg).encode()], fds or [])
            while True:
                ready, _, _ = select.select([self.sock], [], [], self.REPLY_TIMEOUT_S)
                if not ready:
                    raise ZygoteGone(f"no answer from the zygote within {self.REPLY_TIMEOUT_S} s")
                reply = None
                for event in self._read():
                    if reply is None and event.get(key) == value and event.get("op") in (reply_op, "error"):
                        reply = event
                    else:
                        self.on_event(event)
                if reply is not None:
                    return reply
        except (OSError, ValueError) as e:
            self.alive = False
            raise ZygoteGone(f"the zygote is gone: {e}") from e
        except ZygoteGone:
            self.alive = False
            raise

    def poll(self) -> None:
        """Hand every waiting event to ``on_event`` (call when the socket is readable)."""
        try:
            for event in self._read():
                self.on_event(event)
        except (OSError, ValueError, ZygoteGone):
            self.alive = False

    def _read(self) -> list[dict]:
        out = []
        while True:
            try:
                data = self.sock.recv(MAX_PACKET, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return out
            if not data:
                raise ZygoteGone("the zygote closed its socket")
            out.append(json.loads(data))

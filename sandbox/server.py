"""The job server that runs inside each sandbox container (``python3 -m sppo_gym.sandbox.server``).

Why a server: a container start costs ~0.4 s, a fork from a parent that has already imported
sympy & co. costs milliseconds. The server reads job requests from stdin (length-prefixed JSON)
and answers on stdout. Each job runs in a fresh process forked from this one, dropped at once to
its own never-reused non-root uid; each candidate process the judge asks for gets another fresh
uid, forked by the container's zygote (``zygote.py``), a fresh interpreter that never sees job
data. Uids are drawn at random from the server's block and home directories get random names,
so no process can predict, pre-create or signal another's. The server keeps only
CAP_SETUID/SETGID/KILL, enforces wall time, and when a job ends kills every process of every uid
the job used and removes everything left in the container's writable places and IPC tables,
whoever owns it (``cleanup.sweep``), then checks that nothing is left, so the next job finds the
container as a fresh one would be; if the check fails, the host replaces the container. A new
candidate starts only after the job's earlier candidates are killed and swept away the same way
(``fresh``, the default), so candidates of one job cannot pass state to each other either.
"""

from __future__ import annotations

import argparse
import base64
import importlib
import json
import os
import secrets
import select
import signal
import socket
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from . import cleanup, cpu_share, procsetup
from .job import STARVED
from .procsetup import child_env, close_all_but, drop_to, make_home, reset_signals, set_rlimits
from .protocol import HEADER, FrameReader, encode, load_entry
from .runtime import JobContext  # imported here so that forked jobs start with it loaded
from .zygote import ZygoteClient, ZygoteGone

SCRATCH = "/scratch"
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_BOOT = "import sys; sys.path.insert(0, {root!r}); from sppo_gym.sandbox.candidate_boot import main; main(sys.argv[1])"
UID_BASE = 1 << 20
UID_BLOCK = 1 << 16
SETUP_FAILED = 70  # exit code of a judge process that failed before reaching its entry point


@dataclass
class CandidateProc:
    cid: int
    pid: int
    status: int | None = None
    killed: bool = False


@dataclass
class RunningJob:
    job_id: Any
    pid: int
    uid: int
    deadline: float
    started: float
    limits: dict
    result_fd: int
    out_fds: dict[int, str]
    ctrl: socket.socket
    result_buf: bytearray = field(default_factory=bytearray)
    output: dict[str, bytearray] = field(default_factory=lambda: {"stdout": bytearray(), "stderr": bytearray()})
    output_total: int = 0
    candidates: dict[int, CandidateProc] = field(default_factory=dict)
    unswept: set[int] = field(default_factory=set)
    """Candidate uids that may still own processes or things in the container."""
    ctrl_reader: FrameReader = field(default_factory=FrameReader)
    pending_waits: list[tuple[int, float]] = field(default_factory=list)
    status: str | None = None
    judge_status: int | None = None
    result_done: bool = False
    limit_hit: str | None = None
    detail: str = ""
    host_busy_at_start: float = field(default_factory=cpu_share.host_busy_s)
    cpu_before: dict[int, cpu_share.CpuShare] = field(default_factory=cpu_share.snapshot)


class Server:
    """Single-threaded event loop over stdin, job pipes and the judges' control sockets."""

    def __init__(self, in_fd: int = 0, out_fd: int = 1, scratch: str = SCRATCH, uid_base: int = UID_BASE,
                 zygote: ZygoteClient | None = None, single_tenant: bool = True) -> None:
        self.in_fd, self.out_fd, self.scratch = in_fd, out_fd, scratch
        self.single_tenant = single_tenant
        """True in a container of its own: the sweep may clear /dev/shm, /dev/mqueue and every
        SysV IPC object. False for the (unisolated, debugging) local backend, whose host it must
        not touch: only ``scratch`` is swept there."""
        self.zygote = zygote
        if zygote is not None:
            zygote.on_event = self.on_zygote_event
        self.reader = FrameReader()
        self.uid_base = uid_base
        self.used_uids: set[int] = set()
        self.jobs: dict[Any, RunningJob] = {}
        self.closing = False
        self.next_ref = 0  # ids of kill requests to the zygote
        self.dirty = False  # set when cleanup could not prove the container clean: recycle it
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)

    # ---- plumbing -------------------------------------------------------------------------
    def reply(self, msg: dict) -> None:
        data = memoryview(encode(msg))
        while data:
            data = data[os.write(self.out_fd, data) :]

    def alloc_uid(self) -> int:
        """A never-used uid drawn at random from this server's block (unpredictable, so a candidate
        cannot tell from its uid how many processes came before it or which will come next)."""
        if len(self.used_uids) >= UID_BLOCK - 4096:
            raise RuntimeError("this job server's uid block is used up")
        while (uid := self.uid_base + secrets.randbelow(UID_BLOCK)) in self.used_uids:
            pass
        self.used_uids.add(uid)
        if len(self.used_uids) >= UID_BLOCK // 2:
            self.dirty = True  # ask the host to replace this container while uids remain
        return uid

    def new_home(self) -> str:
        """A fresh, unguessable directory name in scratch (created later by its own process)."""
        return f"{self.scratch}/{secrets.token_hex(16)}"

    # ---- main loop ------------------------------------------------------------------------
    def serve(self) -> None:
        while not (self.closing and not self.jobs):
            fds = [self.wake_r] + ([] if self.closing else [self.in_fd])
            if self.zygote is not None and self.zygote.alive:
                fds.append(self.zygote.fileno())
            for job in self.jobs.values():
                fds += [job.result_fd, *job.out_fds, job.ctrl.fileno()]
            now = time.monotonic()
            deadlines = [j.deadline for j in self.jobs.values()]
            deadlines += [d for j in self.jobs.values() for _, d in j.pending_waits]
            timeout = min((d - now for d in deadlines), default=None)
            try:
                ready, _, _ = select.select(fds, [], [], None if timeout is None else max(0.0, timeout))
            except InterruptedError:
                ready = []
            if self.wake_r in ready:
                os.read(self.wake_r, 4096)
            self.reap()
            if self.zygote is not None and self.zygote.alive and self.zygote.fileno() in ready:
                self.zygote.poll()
            if self.in_fd in ready:
                self.read_requests()
            for job in list(self.jobs.values()):
                self.flush_waits(job)
                self.pump(job, ready)

    def read_requests(self) -> None:
        chunk = os.read(self.in_fd, 1 << 16)
        if not chunk:  # host went away: finish nothing new, end when running jobs are done
            self.closing = True
            for job in self.jobs.values():
                self.stop(job, "sandbox_error", "host closed the connection")
            return
        for msg in self.reader.feed(chunk):
            op = msg.get("op")
            if op == "ping":
                self.reply({"id": msg.get("id"), "op": "pong", "pid": os.getpid()})
            elif op == "preload":
                for module in msg.get("modules", []):
                    importlib.import_module(module)
                self.reply({"id": msg.get("id"), "op": "preloaded"})
            elif op == "run":
                self.start(msg)
            else:
                self.reply({"id": msg.get("id"), "status": "sandbox_error", "detail": f"bad op {op!r}"})

    # ---- jobs -----------------------------------------------------------------------------
    def start(self, msg: dict) -> None:
        job_id, limits = msg.get("id"), msg["limits"]
        try:
            func = load_entry(msg["entry"])
        except Exception as e:
            self.reply({"id": job_id, "status": "sandbox_error", "detail": f"cannot import {msg['entry']}: {e!r}"})
            return
        try:
            uid = self.alloc_uid()
        except RuntimeError as e:
            self.reply({"id": job_id, "status": "sandbox_error", "detail": str(e), "recycle": True})
            return
        result_r, result_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        ctrl_srv, ctrl_judge = socket.socketpair()
        pid = os.fork()
        if pid == 0:  # ---- judge process
            try:
                reset_signals()
                os.setsid()
                devnull = os.open(os.devnull, os.O_RDONLY)
                os.dup2(devnull, 0)
                os.dup2(out_w, 1)
                os.dup2(err_w, 2)
                keep = {0, 1, 2, result_w, ctrl_judge.fileno()}
                close_all_but(keep)
                set_rlimits(limits["memory_mb"], limits["file_size_mb"], 8)
                procsetup.confine(procsetup.JUDGE_OOM_SCORE_ADJ)
                drop_to(uid)
                os.umask(0o077)
                home = self.new_home()
                make_home(home, 0o700)
                os.environ.clear()
                os.environ.update(child_env(home))
                sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
                sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)
                _run_judge(func, msg.get("payload", {}), ctrl_judge, home, time.monotonic() + limits["wall_s"], limits, result_w)
            except BaseException:
                traceback.print_exc()
                sys.stderr.flush()
            finally:
                os._exit(SETUP_FAILED)
        for fd in (result_w, out_w, err_w):
            os.close(fd)
        ctrl_judge.close()
        ctrl_srv.setblocking(False)
        now = time.monotonic()
        self.jobs[job_id] = RunningJob(
            job_id=job_id, pid=pid, uid=uid, deadline=now + limits["wall_s"], started=now, limits=limits,
            result_fd=result_r, out_fds={out_r: "stdout", err_r: "stderr"}, ctrl=ctrl_srv,
        )
        self.reply({"id": job_id, "op": "started"})

    def pump(self, job: RunningJob, ready: list[int]) -> None:
        if job.ctrl.fileno() in ready:
            self.serve_ctrl(job)
        for fd, name in list(job.out_fds.items()):
            if fd in ready:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    os.close(fd)
                    del job.out_fds[fd]
                    continue
                job.output_total += len(chunk)
                room = job.limits["output_bytes"] - len(job.output[name])
                job.output[name] += chunk[: max(0, room)]
                if job.output_total > job.limits["output_bytes"] and job.status is None:
                    self.stop(job, "output_limit", f"judge output exceeded {job.limits['output_bytes']} bytes")
        if job.result_fd in ready and not job.result_done:
            chunk = os.read(job.result_fd, 1 << 20)
            if chunk:
                job.result_buf += chunk
            else:
                job.result_done = True
        if job.status is None and time.monotonic() >= job.deadline:
            share = cpu_share.since(job.cpu_before, job.host_busy_at_start)
            wall = float(job.limits["wall_s"])  # the time it was owed; the server itself may notice late
            took = f"{time.monotonic() - job.started:.1f} s"
            if share.starved(wall):  # the host's fault, not the job's: the pool retries it
                self.stop(job, STARVED, f"wall time {wall:g} s exceeded after {took}, but {share.describe(wall)}")
            else:
                self.stop(job, "timeout", f"wall time {wall:g} s exceeded after {took} ({share.describe(wall)})")
        if (job.result_done or job.status is not None) and job.judge_status is not None and not job.out_fds:
            self.finish(job)
        elif job.status is not None and job.judge_status is not None:
            for fd in list(job.out_fds):  # killed: drop whatever output is still buffered
                os.close(fd)
                del job.out_fds[fd]
            self.finish(job)

    def stop(self, job: RunningJob, status: str, detail: str) -> None:
        job.status, job.limit_hit, job.detail = status, status, detail
        job.output["stderr"] += f"\n[sandbox] {detail}\n".encode()
        self.kill_uids([job.uid, *job.unswept])

    def finish(self, job: RunningJob) -> None:
        del self.jobs[job.job_id]
        # Nothing of the judge may outlive the job either: kill it too, and keep nothing.
        if self.kill_uids([*job.unswept, job.uid], sweep=[]):
            self.dirty = True
        msg = {"status": job.status, "limit_hit": job.limit_hit, "detail": job.detail}
        if job.status is None:
            msg = _parse_result(job.result_buf, job.judge_status)
        elapsed = time.monotonic() - job.started
        # Killing candidates is routine (kill_uids + sweep leave nothing behind); recycle only when a
        # limit ended the judge itself or cleanup could not prove the container clean.
        # A starved job ended the usual way (its processes killed and swept): keep the container
        # warm for the retry, since a cold one is what starves first.
        recycle = self.dirty or msg.get("limit_hit") not in (None, STARVED)
        msg.update(
            id=job.job_id,
            elapsed=elapsed,
            stdout=job.output["stdout"].decode("utf-8", "replace"),
            stderr=job.output["stderr"].decode("utf-8", "replace"),
            recycle=bool(recycle),
        )
        if job.judge_status is not None and os.WIFSIGNALED(job.judge_status):
            msg["signal"] = os.WTERMSIG(job.judge_status)
        os.close(job.result_fd)
        job.ctrl.close()
        self.reply(msg)

    # ---- candidates -------------------------------------------------------------------------
    def serve_ctrl(self, job: RunningJob) -> None:
        try:
            chunk = job.ctrl.recv(1 << 20)
        except (BlockingIOError, ConnectionResetError):
            return
        if not chunk:
            return
        for req in job.ctrl_reader.feed(chunk):
            op = req.get("op")
            if op == "spawn":
                self.spawn(job, req)
            elif op == "reset":
                left = self.reset(job)
                job.ctrl.sendall(encode({"op": "reset", "clean": not left, "left": left[:20]}))
            elif op == "kill":
                cand = job.candidates.get(req.get("cid"))
                if cand:
                    cand.killed = True
                    self.kill_uids([cand.cid])
                self.reap()
                self.answer_wait(job, req.get("cid"), ack=True)
            elif op == "wait":
                timeout = req.get("timeout")
                deadline = time.monotonic() + float(timeout) if timeout is not None else job.deadline
                job.pending_waits.append((req.get("cid"), deadline))
                self.flush_waits(job)

    def reset(self, job: RunningJob) -> list[str]:
        """Kill every candidate of ``job`` and remove everything in the container but the judge's
        and the server's own; what could not be removed (then the container is recycled)."""
        left = self.kill_uids(list(job.unswept), sweep=[job.uid])
        job.unswept.clear()
        if left:
            self.dirty = True
        return left

    def spawn(self, job: RunningJob, req: dict) -> None:
        if req.get("fresh", True) and job.unswept:
            self.reset(job)
        try:
            cid = self.alloc_uid()
        except RuntimeError as e:
            job.ctrl.sendall(encode({"op": "error", "detail": str(e)}))
            return
        home = self.new_home()
        pipes = [os.pipe() for _ in range(3)]  # stdin, stdout, stderr
        chan_cand, chan_judge = socket.socketpair()
        memory_mb = min(int(req.get("memory_mb") or job.limits["memory_mb"]), job.limits["memory_mb"])
        ends = [pipes[0][0], pipes[1][1], pipes[2][1], chan_cand.fileno()]
        pid = None
        if req.get("target") and not req.get("files"):
            pid = self.spawn_from_zygote(cid, home, req["target"], ends, memory_mb, job.limits)
        if pid is None:
            pid = self.spawn_exec(cid, home, req, ends, memory_mb, job.limits)
        for end in (pipes[0][0], pipes[1][1], pipes[2][1]):
            os.close(end)
        chan_cand.close()
        job.candidates[cid] = CandidateProc(cid, pid)
        job.unswept.add(cid)
        give = [pipes[0][1], pipes[1][0], pipes[2][0], chan_judge.fileno()]
        try:
            socket.send_fds(job.ctrl, [encode({"op": "spawned", "cid": cid, "pid": pid, "home": home})], give)
        except OSError:
            self.kill_uids([cid])
        for fd in give[:3]:
            os.close(fd)
        chan_judge.close()

    def spawn_from_zygote(self, cid: int, home: str, target: str, ends: list[int], memory_mb: int,
                          limits: dict) -> int | None:
        """Fork a function-mode candidate from the zygote; None if there is no working zygote."""
        if self.zygote is None or not self.zygote.alive:
            return None
        req = {"op": "spawn", "cid": cid, "home": home, "target": target, "memory_mb": memory_mb,
               "file_size_mb": limits["file_size_mb"], "nproc": limits["nproc"]}
        try:
            reply = self.zygote.request(req, ends, reply_op="spawned", key="cid", value=cid)
        except ZygoteGone:
            self.dirty = True  # finish this job the slow way, then replace the container
            return None
        return int(reply["pid"]) if reply.get("op") == "spawned" else None

    def spawn_exec(self, cid: int, home: str, req: dict, ends: list[int], memory_mb: int, limits: dict) -> int:
        """Fork + exec: programs (``argv``), and function-mode candidates when there is no zygote."""
        pid = os.fork()
        if pid == 0:  # ---- candidate process
            try:
                env = procsetup.become_candidate(ends, cid, home, memory_mb,
                                                 limits["file_size_mb"], limits["nproc"])
                for name, data in (req.get("files") or {}).items():
                    with open(os.path.basename(name), "wb") as f:
                        f.write(base64.b64decode(data))
                # Always exec: a fork of this server would carry its memory (earlier requests
                # linger in freed buffers) into untrusted hands.
                argv = req.get("argv") or [sys.executable, "-I", "-c", _BOOT.format(root=PACKAGE_ROOT), req["target"]]
                signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # as a shell would start it
                os.execvpe(argv[0], argv, env)
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(71)
        return pid

    def on_zygote_event(self, msg: dict) -> None:
        if msg.get("op") != "exited":
            return
        for job in self.jobs.values():
            for cand in job.candidates.values():
                if cand.pid == msg.get("pid"):
                    cand.status = int(msg["status"])
                    self.flush_waits(job)
                    return

    def reap(self) -> None:
        for pid, status in procsetup.ended_children():
            if self.zygote is not None and pid == self.zygote.pid:
                self.zygote.alive = False
                self.dirty = True
            for job in self.jobs.values():
                if pid == job.pid:
                    job.judge_status = status
                for cand in job.candidates.values():
                    if cand.pid == pid:
                        cand.status = status
                        self.flush_waits(job)

    def flush_waits(self, job: RunningJob) -> None:
        now = time.monotonic()
        for item in list(job.pending_waits):
            cid, deadline = item
            cand = job.candidates.get(cid)
            if cand is None or cand.status is not None or now >= deadline:
                job.pending_waits.remove(item)
                self.answer_wait(job, cid)

    def answer_wait(self, job: RunningJob, cid: int | None, ack: bool = False) -> None:
        cand = job.candidates.get(cid) if cid is not None else None
        msg: dict[str, Any] = {"op": "ack" if ack else "exited", "cid": cid}
        if cand is not None and cand.status is not None:
            st = cand.status
            msg["returncode"] = -os.WTERMSIG(st) if os.WIFSIGNALED(st) else os.WEXITSTATUS(st)
            msg["killed"] = cand.killed
        try:
            job.ctrl.sendall(encode(msg))
        except OSError:
            pass

    def kill_uids(self, uids: list[int], sweep: list[int] | None = None) -> list[str]:
        """SIGKILL every process of each of ``uids`` from a helper that becomes that uid and signals
        -1 (the zygote forks the helpers, all at once; without a zygote, this server does); with
        ``sweep`` (uids whose things to keep), then remove everything else in the container
        (``cleanup.sweep``) and return what is still left (empty if clean).

        Uids without a live process get no helper: nothing of theirs can appear any more. The
        sweep runs here, in the server, switching its effective uid to each owner in turn; no
        process of those owners is alive, and a process can signal or trace the server only if
        it matches the server's real and saved uid (root), which never change.
        """
        live = sorted(cleanup.live_uids(set(uids))) if uids else []
        if live:
            done = False
            if self.zygote is not None and self.zygote.alive:
                self.next_ref += 1
                req = {"op": "kill", "ref": self.next_ref, "uids": live}
                try:
                    reply = self.zygote.request(req, reply_op="killed", key="ref", value=self.next_ref)
                    done = True
                    if reply.get("op") != "killed" or reply.get("status"):
                        self.dirty = True
                except ZygoteGone:
                    self.dirty = True
            if not done:
                for uid in live:
                    self.run_helper(procsetup.kill_uid, uid)
            self.reap()
            if cleanup.uids_alive(live):
                self.dirty = True
        if sweep is None:
            return []
        try:
            cleanup.sweep(self.scratch, set(sweep), shared=self.single_tenant)
        except Exception:  # whatever it could not remove shows in the leftovers below
            self.dirty = True
        left = cleanup.leftovers(self.scratch, set(sweep), shared=self.single_tenant)
        if live and cleanup.uids_alive(live, wait_s=0):
            left.append("a process of a killed uid")
        return left

    def run_helper(self, fn: Any, *args: Any) -> None:
        """Fork a root helper running ``fn(*args)`` (which never returns) and wait for it."""
        pid = os.fork()
        if pid == 0:
            fn(*args)
        while True:
            try:
                _, status = os.waitpid(pid, 0)
                if status:
                    self.dirty = True
                break
            except InterruptedError:
                continue
            except ChildProcessError:
                break


def _parse_result(buf: bytearray, judge_status: int | None) -> dict:
    if len(buf) >= HEADER.size:
        (n,) = HEADER.unpack_from(buf)
        if len(buf) >= HEADER.size + n:
            try:
                return json.loads(bytes(buf[HEADER.size : HEADER.size + n]))
            except ValueError:
                pass
    if judge_status is not None and os.WIFSIGNALED(judge_status) and os.WTERMSIG(judge_status) == signal.SIGKILL:
        return {"status": "memory", "limit_hit": "memory", "detail": "judge was killed (out of memory)"}
    code = os.WEXITSTATUS(judge_status) if judge_status is not None and os.WIFEXITED(judge_status) else None
    if code == SETUP_FAILED:
        return {"status": "sandbox_error", "detail": "the job process could not be set up"}
    return {"status": "error", "detail": f"judge ended without a result (exit code {code})"}


def _run_judge(func: Any, payload: dict, ctrl: socket.socket, home: str, deadline: float, limits: dict, result_fd: int) -> None:
    ctx = JobContext(ctrl, home, deadline, limits)
    try:
        msg = {"status": "ok", "value": func(payload, ctx)}
    except MemoryError:
        msg = {"status": "memory", "limit_hit": "memory", "detail": "judge ran out of memory"}
    except cpu_share.HostStarved as e:
        msg = {"status": STARVED, "limit_hit": STARVED, "detail": str(e)[:500]}
    except BaseException as e:
        tb = traceback.format_exc(limit=-6)
        msg = {"status": "error", "detail": f"{type(e).__name__}: {e}"[:500], "traceback": tb[-4000:]}
    ctx.close_all()
    try:
        data = encode(msg)
    except (TypeError, ValueError) as e:
        data = encode({"status": "error", "detail": f"judge returned a value that is not JSON: {e}"})
    view = memoryview(data)
    while view:
        view = view[os.write(result_fd, view) :]
    cleanup.remove_tree(home)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preload", default="", help="comma-separated modules to import before serving")
    parser.add_argument("--scratch", default=SCRATCH)
    parser.add_argument("--uid-base", type=int, default=UID_BASE, help="first uid handed to jobs")
    parser.add_argument("--local", action="store_true",
                        help="not a container of its own (debugging backend): sweep only --scratch, "
                             "never the machine's /dev/shm, message queues or SysV IPC objects")
    parser.add_argument("--no-zygote", action="store_true",
                        help="exec a fresh interpreter per function-mode candidate (slower; for comparison)")
    args = parser.parse_args(argv)
    # Before anything else: the zygote must never see a request, and it should stay small.
    zygote = None if args.no_zygote else ZygoteClient.start(args.scratch, PACKAGE_ROOT)
    for module in filter(None, args.preload.split(",")):
        importlib.import_module(module)
    # Shared writable places: anyone may create entries, nobody but root may list them (mode
    # 1733); Docker copies the image directory's mode onto a tmpfs, so set it here.
    for path in (args.scratch, *cleanup.SHARED_DIRS):
        if os.path.isdir(path):
            os.chmod(path, 0o1733)
    out_fd = os.dup(1)  # protocol stream; nothing else may write to it
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    Server(0, out_fd, args.scratch, args.uid_base, zygote, single_tenant=not args.local).serve()


if __name__ == "__main__":
    main()

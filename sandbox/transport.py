"""How the host talks to one job server: a hardened Docker container, or (debug only) a local process.

Both give the same thing: a byte stream to the server's stdin and one from its stdout, carrying
``protocol`` frames, plus ``close()`` that kills the server and everything under it.
"""

from __future__ import annotations

import itertools
import os
import select
import socket
import struct
import subprocess
import sys
import time
from typing import Protocol

from .languages import runs_native_code
from .limits import ContainerLimits
from .protocol import FrameReader, ProtocolError, encode
from .uids import allocate_block

LABEL = "sppo-gym.sandbox"
OWNER_LABEL = "sppo-gym.owner"


class TransportError(RuntimeError):
    """The server or the engine failed (not the job): the caller retries elsewhere."""


class ContainerDied(TransportError):
    """The job server's connection closed while a job ran: the container died (or was killed).

    ``oom`` is True when the engine reports that the container's memory limit was hit."""

    def __init__(self, message: str, oom: bool = False) -> None:
        super().__init__(message)
        self.oom = oom


def ipc_sysctls(limits: ContainerLimits) -> dict[str, str]:
    """Kernel limits of the container's private IPC namespace (Docker ``--sysctl``).

    Nothing a job or candidate creates there may hold memory once its processes are gone, nor
    much while they live: SysV shared memory is capped at ``limits.sysv_shm_mb`` and destroyed
    when its last user detaches (``shm_rmid_forced``); message queues and semaphore sets are few
    and small; POSIX message queues cannot be created at all (``queues_max`` 0; no judge or
    candidate needs them). The server's sweep removes whatever SysV object remains after a job.
    """
    shm_bytes = limits.sysv_shm_mb * 2**20
    return {
        "kernel.shm_rmid_forced": "1",
        "kernel.shmmax": str(shm_bytes),
        "kernel.shmall": str(shm_bytes // 4096),  # in pages
        "kernel.shmmni": "64",
        "kernel.msgmni": "16",
        "kernel.msgmnb": "16384",
        "kernel.msgmax": "8192",
        "kernel.sem": "32 1024 32 16",  # per set, total, ops per call, sets
        "fs.mqueue.queues_max": "0",
    }


class Transport(Protocol):
    name: str

    def send(self, msg: dict) -> None: ...
    def recv(self, timeout: float) -> dict: ...
    def close(self) -> None: ...


def owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class _FramedStream:
    """Shared reading logic: pull bytes until one frame is complete or the timeout passes."""

    def __init__(self) -> None:
        self._frames = FrameReader()
        self._queue: list[dict] = []

    def _read_bytes(self, timeout: float) -> bytes:  # pragma: no cover - overridden
        raise NotImplementedError

    def recv(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while not self._queue:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TransportError(f"no answer from the job server within {timeout:.1f} s")
            data = self._read_bytes(left)
            try:
                self._queue += self._frames.feed(data)
            except (ProtocolError, ValueError) as e:
                raise TransportError(f"garbled stream from the job server: {e}") from e
        return self._queue.pop(0)


class DockerTransport(_FramedStream):
    """One hardened container running the job server, attached over the engine's socket."""

    name = "docker"

    def __init__(self, client, image: str, limits: ContainerLimits, preload: list[str], *, zygote: bool = True) -> None:
        super().__init__()
        self._client = client
        api = client.api
        host_config = api.create_host_config(
            network_mode="none",
            read_only=True,
            tmpfs={
                # Images with compilers run the candidates' binaries from /scratch (languages.py);
                # Docker mounts a tmpfs noexec unless told "exec".
                "/scratch": f"rw,nosuid,nodev,{'exec' if runs_native_code(image) else 'noexec'},"
                            f"size={limits.scratch_mb}m,mode=1733",
                "/tmp": "ro,nosuid,nodev,noexec,size=1m,mode=755",
            },
            shm_size=f"{limits.shm_mb}m",
            cap_drop=["ALL"],
            cap_add=["SETUID", "SETGID", "KILL"],
            security_opt=["no-new-privileges"],
            init=True,
            pids_limit=limits.pids,
            mem_limit=f"{limits.memory_mb}m",
            memswap_limit=f"{limits.memory_mb}m",
            nano_cpus=int(limits.cpus * 1e9),
            auto_remove=False,  # removed by close() (or the reaper): kept to read OOMKilled after a death
            ipc_mode="private",
            sysctls=ipc_sysctls(limits),
        )
        command = ["python3", "-m", "sppo_gym.sandbox.server", "--uid-base", str(allocate_block())]
        if not zygote:
            command.append("--no-zygote")
        if preload:
            command += ["--preload", ",".join(preload)]
        try:
            self.container = api.create_container(
                image,
                command=command,
                stdin_open=True,
                detach=False,  # with stdin_open this sets StdinOnce: host gone => stdin EOF => server exits
                tty=False,
                environment={"LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                             # root's HOME is read-only: matplotlib (imported by reasoning-gym) caches here
                             "MPLCONFIGDIR": "/scratch/.matplotlib-server"},
                labels={LABEL: "1", OWNER_LABEL: owner_id()},
                host_config=host_config,
                network_disabled=True,
                hostname="sandbox",
                user="0",
            )["Id"]
            sock = api.attach_socket(self.container, params={"stdin": 1, "stdout": 1, "stream": 1})
            self._sock: socket.socket = getattr(sock, "_sock", sock)
            api.start(self.container)
        except Exception as e:  # docker.errors.* or requests errors: the engine failed
            raise TransportError(f"could not start a sandbox container: {e}") from e
        self._raw = bytearray()

    def send(self, msg: dict) -> None:
        try:
            self._sock.sendall(encode(msg))
        except OSError as e:
            raise TransportError(f"sandbox container is gone: {e}") from e

    def _read_bytes(self, timeout: float) -> bytes:
        """Demultiplex Docker's attach stream (8-byte headers) and return stdout payload."""
        out = bytearray()
        self._sock.settimeout(timeout)
        while not out:
            while len(self._raw) >= 8:
                _stream, size = self._raw[0], struct.unpack(">I", self._raw[4:8])[0]
                if len(self._raw) < 8 + size:
                    break
                out += self._raw[8 : 8 + size]
                del self._raw[: 8 + size]
            if out:
                break
            try:
                chunk = self._sock.recv(1 << 16)
            except TimeoutError:
                raise TransportError("no answer from the sandbox container in time") from None
            except OSError as e:
                raise TransportError(f"sandbox container connection failed: {e}") from e
            if not chunk:
                raise ContainerDied("sandbox container closed the connection (it died or was killed)",
                                    oom=self._oom_killed())
            self._raw += chunk
        return bytes(out)

    def _oom_killed(self) -> bool:
        """Whether the engine saw the container hit its memory limit (it ended or is ending)."""
        try:
            for _ in range(20):  # the engine records the exit shortly after the stream closes
                state = self._client.api.inspect_container(self.container).get("State", {})
                if state.get("OOMKilled") or not state.get("Running"):
                    return bool(state.get("OOMKilled"))
                time.sleep(0.1)
        except Exception:
            pass
        return False

    def close(self) -> None:
        try:
            self._sock.close()
        except OSError:
            pass
        try:
            self._client.api.remove_container(self.container, force=True)
        except Exception:
            pass  # already gone (auto_remove) or engine down; the reaper handles strays


class LocalTransport(_FramedStream):
    """The same job server as a local root subprocess: NO isolation, for debugging only."""

    name = "local"
    _count = itertools.count(1)  # one scratch folder per local server

    def __init__(self, preload: list[str], *, zygote: bool = True) -> None:
        super().__init__()
        n = next(self._count)
        # Unlike containers, local servers share one uid space and filesystem: give each its own.
        scratch = f"/tmp/sppo-gym-local-{os.getpid()}-{n}"
        os.makedirs(scratch, exist_ok=True)
        os.chmod(scratch, 0o1733)
        uid_base = allocate_block()
        cmd = [sys.executable, "-m", "sppo_gym.sandbox.server", "--local", "--scratch", scratch,
               "--uid-base", str(uid_base)]
        if not zygote:
            cmd.append("--no-zygote")
        if preload:
            cmd += ["--preload", ",".join(preload)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)

    def send(self, msg: dict) -> None:
        try:
            self.proc.stdin.write(encode(msg))
        except OSError as e:
            raise TransportError(f"local job server is gone: {e}") from e

    def _read_bytes(self, timeout: float) -> bytes:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            raise TransportError("no answer from the local job server in time")
        chunk = os.read(self.proc.stdout.fileno(), 1 << 16)
        if not chunk:
            raise TransportError("local job server exited")
        return chunk

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()

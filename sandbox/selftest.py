"""Task-free entry points for the sandbox's own tests, ``doctor`` and overhead benchmarks.

They exercise the job protocol and the judge/candidate split; none of them judges anything.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

from .channel import Channel
from .cpu_share import HostStarved
from .runtime import JobContext


def echo(payload: dict, ctx: JobContext) -> Any:
    """Trivial job: return the payload (the overhead benchmark's unit of work)."""
    return payload


def whoami(payload: dict, ctx: JobContext) -> dict:
    """Report the judge's identity and surroundings (used by doctor and isolation tests)."""
    ifaces = [name for _, name in socket.if_nameindex()]
    try:
        with open("/probe-readonly", "w"):
            root_writable = True
    except OSError:
        root_writable = False
    return {
        "uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(), "cwd": os.getcwd(),
        "env": dict(os.environ), "interfaces": ifaces, "root_writable": root_writable,
        "cap_eff": _cap_eff(),
    }


def _cap_eff() -> str:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapEff:"):
                return line.split()[1]
    return "?"


def run_python(payload: dict, ctx: JobContext) -> dict:
    """Run ``payload["code"]`` as an untrusted program in a candidate process; report what happened."""
    cand = ctx.spawn(argv=["python3", "-I", "prog.py"], files={"prog.py": payload["code"]},
                     memory_mb=payload.get("memory_mb"))
    done = cand.communicate(input=payload.get("stdin", "").encode(), timeout=payload.get("timeout", ctx.time_left()))
    out = {"returncode": done.returncode, "stdout": done.stdout.decode("utf-8", "replace"),
           "stderr": done.stderr.decode("utf-8", "replace")[-2000:], "timed_out": done.timed_out, "limit": done.limit}
    for name in payload.get("read_files", []):
        try:
            out.setdefault("files", {})[name] = cand.read_file(name, 1 << 20).decode("utf-8", "replace")
        except OSError as e:
            out.setdefault("files", {})[name] = f"<{type(e).__name__}>"
    return out


def call_candidate(payload: dict, ctx: JobContext) -> dict:
    """Start ``serve_code`` as a candidate and make one call through the plain-data channel."""
    cand = ctx.spawn(target="sppo_gym.sandbox.selftest:serve_code", args={"code": payload["code"]})
    try:
        cand.send({"call": payload.get("arg")})
        reply = cand.recv(timeout=payload.get("timeout", 20.0))
        return {"reply": repr(reply), "type": type(reply).__name__}
    except Exception as e:
        return {"error": type(e).__name__, "detail": str(e)[:300], "returncode": cand.returncode}


def serve_code(args: dict, channel: Channel) -> None:
    """Candidate side of ``call_candidate``: exec untrusted code defining ``f``, answer calls."""
    namespace: dict[str, Any] = {}
    exec(compile(args["code"], "candidate.py", "exec"), namespace)
    while True:
        msg = channel.recv()
        channel.send(namespace["f"](msg["call"]))


def sleep(payload: dict, ctx: JobContext) -> dict:
    """Sleep in the judge itself (host-side wall-time tests)."""
    time.sleep(float(payload.get("seconds", 1.0)))
    return {"slept": payload.get("seconds", 1.0)}


def flood(payload: dict, ctx: JobContext) -> dict:
    """Print more than the output budget from the judge itself."""
    chunk = "y" * 65536
    for _ in range(int(payload.get("bytes", 1 << 20)) // len(chunk) + 1):
        print(chunk)
    return {}


def secret_probe(payload: dict, ctx: JobContext) -> dict:
    """Plant a secret in the judge's home and let a candidate try every obvious way to read it."""
    with open("secret.txt", "w") as f:
        f.write("TOPSECRET")
    code = (
        "import os, glob\n"
        f"home = {ctx.scratch!r}\n"
        "found = []\n"
        "for p in [home + '/secret.txt'] + glob.glob('/scratch/*/secret.txt'):\n"
        "    try: found.append(open(p).read())\n"
        "    except OSError: pass\n"
        f"for path in ['/proc/{os.getpid()}/environ', '/proc/{os.getpid()}/mem', '/proc/{os.getppid()}/environ']:\n"
        "    try: found.append(open(path, 'rb').read(100).decode('latin-1'))\n"
        "    except OSError: pass\n"
        "try: found.append(str(os.listdir(home)))\n"
        "except OSError: pass\n"
        "print(repr(found))\n"
    )
    cand = ctx.spawn(argv=["python3", "-I", "probe.py"], files={"probe.py": code})
    done = cand.communicate(timeout=5)
    out = done.stdout.decode()
    return {"leaked": "TOPSECRET" in out or "secret.txt" in out or "PATH=" in out, "stdout": out[-500:]}


def sleep_whoami(payload: dict, ctx: JobContext) -> dict:
    """Hold a container for a moment, then say which uid and which job server ran this job."""
    time.sleep(float(payload.get("seconds", 0.5)))
    with open("/proc/self/cgroup") as f:
        container = f.read()  # names this container's cgroup: differs between containers
    return {"uid": os.getuid(), "server": container}


_ISOLATION_PROBE = (
    "import os, socket\n"
    "try:\n    socket.socket(socket.AF_INET); inet = 'allowed'\nexcept OSError as e:\n    inet = f'refused (errno {e.errno})'\n"
    "print(open('/proc/self/oom_score_adj').read().strip())\n"
    "print(inet)\n"
)
IPC_SYSCTLS = ("kernel/shm_rmid_forced", "kernel/shmmax", "kernel/shmall", "kernel/shmmni", "kernel/msgmni",
               "kernel/msgmnb", "kernel/msgmax", "kernel/sem",
               "fs/mqueue/queues_max")


def isolation_report(payload: dict, ctx: JobContext) -> dict:
    """What ``doctor`` checks of IPC and memory isolation, seen from inside: the container's IPC
    sysctls, the out-of-memory scores of the job server, this judge and a candidate, whether a
    candidate may open an IP socket, and whether what the last job left was cleared."""
    sysctls = {}
    for name in IPC_SYSCTLS:
        try:
            with open(f"/proc/sys/{name}") as f:
                sysctls[name.replace("/", ".")] = f.read().strip()
        except OSError:
            sysctls[name.replace("/", ".")] = None
    with open(f"/proc/{os.getppid()}/oom_score_adj") as f:
        server_adj = f.read().strip()
    with open("/proc/self/oom_score_adj") as f:
        judge_adj = f.read().strip()
    cand = ctx.spawn(argv=["python3", "-I", "probe.py"], files={"probe.py": _ISOLATION_PROBE})
    done = cand.communicate(timeout=min(20.0, ctx.time_left()))
    lines = done.stdout.decode("utf-8", "replace").split("\n")
    ipc = {}
    for kind in ("shm", "sem", "msg"):
        with open(f"/proc/sysvipc/{kind}") as f:
            ipc[kind] = len(f.read().splitlines()) - 1
    return {"sysctls": sysctls, "server_oom_score_adj": server_adj, "judge_oom_score_adj": judge_adj,
            "candidate_oom_score_adj": lines[0] if lines else None,
            "candidate_inet": lines[1] if len(lines) > 1 else None,
            "ipc_objects": ipc, "mqueue": sorted(os.listdir("/dev/mqueue")) if os.path.isdir("/dev/mqueue") else None}


def spin_on_cpu0(args: dict, channel: Channel) -> None:
    """Candidate that busy-loops on CPU 0 (for starvation tests); ``ready`` first."""
    os.sched_setaffinity(0, {0})
    channel.send({"ready": True})
    while True:
        pass


def sleep_forever(args: dict, channel: Channel) -> None:
    """Candidate that never answers and never runs (for starvation tests); ``ready`` first."""
    channel.send({"ready": True})
    time.sleep(3600)


def starved_candidate(payload: dict, ctx: JobContext) -> dict:
    """Wait ``wait_s`` on a candidate that never answers (it spins on CPU 0, or sleeps with
    ``sleep``), then ask ``raise_if_starved``: ``HostStarved`` ends the job as starved; otherwise
    the figures come back as the value."""
    target = "sleep_forever" if payload.get("sleep") else "spin_on_cpu0"
    cand = ctx.spawn(target=f"{__name__}:{target}")
    cand.recv(timeout=30.0)  # its ready message: from here on it only spins or sleeps
    started = time.monotonic()
    try:
        cand.recv(timeout=float(payload.get("wait_s", 2.0)))
    except TimeoutError:
        waited = time.monotonic() - started
        cand.raise_if_starved(waited)
        share = cand.cpu_share()
        return {"starved": False, "run_s": share.run_s, "queued_s": share.queued_s, "waited_s": waited}
    return {"error": "the candidate answered"}


def raise_host_starved(payload: dict, ctx: JobContext) -> dict:
    """A judge that reports a starved wait on every attempt (pool retry tests)."""
    raise HostStarved("test: starved on purpose")

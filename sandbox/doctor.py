"""``sppo-gym sandbox doctor``: check every piece the sandbox needs and print the fix for each gap.

Each check prints ``OK``, ``WARN`` or ``FAIL`` with what it saw; a FAIL also prints the exact
command that fixes it. Any FAIL makes the exit code non-zero.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .job import Job
from .languages import PROBES, configured_languages, languages_from_tag
from .limits import ContainerLimits, Limits
from .pool import SandboxPool
from .procsetup import CANDIDATE_OOM_SCORE_ADJ, JUDGE_OOM_SCORE_ADJ
from .transport import ipc_sysctls

ENGINE_FIX = (
    "start an engine: `bash scripts/setup.sh` (installs docker.io and starts dockerd), or "
    "`sudo dockerd > /tmp/dockerd.log 2>&1 &`; to use Docker Desktop or rootless Docker, export "
    "DOCKER_HOST (e.g. unix://$XDG_RUNTIME_DIR/docker.sock) and re-run"
)
BUILD_FIX = "sppo-gym sandbox build"


@dataclass
class Check:
    """Outcome of one check: ``level`` is OK, WARN or FAIL; ``fix`` is shown for WARN/FAIL."""

    name: str
    level: str
    detail: str
    fix: str = ""

    def render(self) -> str:
        line = f"{self.level:<4}  {self.name}: {self.detail}"
        if self.fix and self.level != "OK":
            line += f"\n      fix: {self.fix}"
        return line


def check_engine() -> tuple[Check, Any]:
    """The docker SDK reaches an engine (respects DOCKER_HOST)."""
    try:
        import docker  # here, not at the top: a missing SDK is this check's FAIL, not a crash
    except ImportError:
        return Check("engine", "FAIL", "the `docker` Python package is missing", "pip install -e ."), None
    try:
        client = docker.from_env()
        client.ping()
        ver = client.version()
    except Exception as e:  # DockerException, requests errors: all mean "no engine"
        where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        return Check("engine", "FAIL", f"cannot reach Docker at {where} ({type(e).__name__})", ENGINE_FIX), None
    host = os.environ.get("DOCKER_HOST", "default socket")
    return Check("engine", "OK", f"Docker {ver.get('Version', '?')} ({host})"), client


def check_limits(info: dict) -> list[Check]:
    """cgroup features the pool relies on: memory, swap, pids limits; the docker-init binary."""
    out = []
    warnings = " | ".join(info.get("Warnings") or []) or "none"
    cg = f"cgroup v{info.get('CgroupVersion', '?')}, driver {info.get('CgroupDriver', '?')}"
    if info.get("MemoryLimit") and info.get("PidsLimit"):
        out.append(Check("limits", "OK", f"memory and pids limits supported ({cg})"))
    else:
        out.append(Check("limits", "FAIL", f"memory/pids cgroup limits unsupported ({cg}; engine warnings: {warnings})",
                         "enable the memory and pids cgroup controllers (kernel cmdline `cgroup_enable=memory`, "
                         "or boot with cgroup v2) and restart dockerd"))
    if info.get("SwapLimit"):
        out.append(Check("swap limit", "OK", "memory+swap limit supported (no swap for jobs)"))
    else:
        out.append(Check("swap limit", "WARN", f"no swap limit support; jobs may swap beyond their memory limit ({warnings})",
                         "add `swapaccount=1` to the kernel cmdline (cgroup v1) or use cgroup v2"))
    init = info.get("InitBinary") or ""
    if init:
        out.append(Check("init", "OK", f"engine init binary {init!r} (for --init; verified by the job check)"))
    else:
        out.append(Check("init", "FAIL", "engine reports no init binary for --init",
                         "install docker-init (`apt-get install -y tini` / `docker.io` ships it) and restart dockerd"))
    return out


def check_image(client) -> tuple[Check, str | None]:
    """The image for the current sources exists (its tag is the hash of the image inputs)."""
    # lazy: .image imports the docker SDK, whose absence check_engine reports instead of crashing
    from .image import image_exists, image_tag, stale_tags

    tag = image_tag()
    if image_exists(client, tag):
        return Check("image", "OK", f"{tag} is current"), tag
    stale = stale_tags(client)
    why = f"stale images only ({', '.join(stale[:3])}): sources changed" if stale else "no sandbox image built"
    langs = [lang for lang in configured_languages() if lang != "python"]
    fix = BUILD_FIX + (f" --languages {','.join(langs)}" if langs else "")
    return Check("image", "FAIL", f"{tag} missing; {why}", fix), None


_LANGUAGE_PROBE = (
    "import json, subprocess\n"
    "out = {}\n"
    "for lang, argv in PROBES.items():\n"
    "    try:\n"
    "        p = subprocess.run(argv, capture_output=True, text=True, timeout=20)\n"
    "        text = (p.stdout + p.stderr).strip().splitlines()\n"
    "        out[lang] = text[0] if p.returncode == 0 and text else None\n"
    "    except OSError:\n"
    "        out[lang] = None\n"
    "print(json.dumps(out))\n"
)


def check_languages(image: str) -> Check:
    """Which toolchains the image really has: each language's version command, run as a candidate
    (its uid and limits), against the set the image's tag names."""
    code = f"PROBES = {dict(PROBES)!r}\n" + _LANGUAGE_PROBE
    try:
        with SandboxPool(size=1, image=image, backend="docker") as pool:
            res = pool.run(Job("sppo_gym.sandbox.selftest:run_python", {"code": code}, Limits(wall_s=60)))
        found = json.loads(res.value["stdout"]) if res.ok else None
    except Exception as e:
        return Check("languages", "FAIL", f"probe failed: {type(e).__name__}: {e}", BUILD_FIX)
    if not isinstance(found, dict):
        return Check("languages", "FAIL", f"probe job ended {res.status}: {res.detail[:300]}", BUILD_FIX)
    have = sorted(lang for lang, version in found.items() if version)
    want = languages_from_tag(image)
    missing = [lang for lang in want if lang not in have]
    detail = "; ".join(f"{lang}: {found[lang]}" for lang in have)
    if missing:
        return Check("languages", "FAIL", f"{', '.join(missing)} missing although the tag names them ({detail})",
                     f"{BUILD_FIX} --no-cache --languages {','.join(want)}")
    others = [lang for lang in PROBES if lang not in have]
    more = f"; not in this image: {', '.join(others)} (sppo-gym sandbox build --languages ...)" if others else ""
    return Check("languages", "OK", detail + more)


def _isolation_problems(me: dict) -> list[str]:
    bad = []
    if me.get("uid", 0) < 1000:
        bad.append(f"judge runs as uid {me.get('uid')}")
    if me.get("interfaces") != ["lo"]:
        bad.append(f"network interfaces {me.get('interfaces')}")
    if me.get("root_writable") is not False:
        bad.append("root filesystem is writable")
    if me.get("cap_eff") != "0000000000000000":
        bad.append(f"judge has capabilities {me.get('cap_eff')}")
    return bad


_CGROUP_PROBE = (
    "import os\n"
    "for p in ('/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes',\n"
    "          '/sys/fs/cgroup/pids.max', '/sys/fs/cgroup/pids/pids.max'):\n"
    "    if os.path.exists(p): print(os.path.basename(p), open(p).read().strip())\n"
    "print('uid', os.getuid())\n"
)


def check_job(image: str) -> Check:
    """Run trivial jobs through the real pool and check the isolation seen from inside."""
    limits = ContainerLimits()
    try:
        with SandboxPool(size=1, image=image, backend="docker", container_limits=limits) as pool:
            who = pool.run(Job("sppo_gym.sandbox.selftest:whoami", {}))
            probe = pool.run(Job("sppo_gym.sandbox.selftest:run_python", {"code": _CGROUP_PROBE}))
    except Exception as e:  # the pool itself failed to start: report, don't crash the doctor
        return Check("isolation", "FAIL", f"pool failed: {type(e).__name__}: {e}", BUILD_FIX)
    if not (who.ok and probe.ok):
        bad = who if not who.ok else probe
        return Check("isolation", "FAIL", f"job ended {bad.status}: {bad.detail[:300]}", BUILD_FIX)
    me = who.value
    seen = dict(line.split(" ", 1) for line in probe.value["stdout"].splitlines() if " " in line)
    bad = _isolation_problems(me)
    mem = seen.get("memory.max") or seen.get("memory.limit_in_bytes")
    if mem is None or not mem.isdigit() or int(mem) > limits.memory_mb * 2**20:
        bad.append(f"container memory limit not applied (saw {mem})")
    if seen.get("uid") in (None, "0", str(me.get("uid"))):
        bad.append(f"candidate uid {seen.get('uid')} is root or the judge's")
    if bad:
        return Check("isolation", "FAIL", "; ".join(bad), "check dockerd's cgroup and seccomp setup (see `docker info`)")
    return Check("isolation", "OK", f"judge uid {me['uid']}, candidate uid {seen['uid']}, only 'lo', "
                 f"read-only root, no capabilities, memory limit {int(mem) >> 20} MiB, pids {seen.get('pids.max', '?')}")


def _ipc_problems(rep: dict, limits: Any) -> list[str]:
    """What is missing of the IPC and memory isolation the sandbox relies on (see ``transport``)."""
    bad = []
    want = ipc_sysctls(limits)
    for name, value in want.items():
        seen = rep["sysctls"].get(name)
        if seen is None or seen.split() != value.split():
            bad.append(f"{name} is {seen} (want {value})")
    if rep["candidate_oom_score_adj"] != str(CANDIDATE_OOM_SCORE_ADJ):
        bad.append(f"candidate oom_score_adj {rep['candidate_oom_score_adj']} (want {CANDIDATE_OOM_SCORE_ADJ})")
    if rep["judge_oom_score_adj"] != str(JUDGE_OOM_SCORE_ADJ):
        bad.append(f"judge oom_score_adj {rep['judge_oom_score_adj']} (want {JUDGE_OOM_SCORE_ADJ})")
    try:
        if int(rep["server_oom_score_adj"]) >= JUDGE_OOM_SCORE_ADJ:
            bad.append(f"job server oom_score_adj {rep['server_oom_score_adj']} is not below the judge's")
    except (TypeError, ValueError):
        bad.append(f"job server oom_score_adj unreadable ({rep['server_oom_score_adj']!r})")
    if not str(rep["candidate_inet"]).startswith("refused"):
        bad.append(f"a candidate may open IP sockets ({rep['candidate_inet']}): seccomp filter missing")
    if any(rep["ipc_objects"].values()) or rep["mqueue"]:
        bad.append(f"the previous job left IPC objects {rep['ipc_objects']} / message queues {rep['mqueue']}")
    return bad


def check_ipc(image: str) -> Check:
    """IPC and memory isolation: the container's private IPC namespace with small limits and
    ``shm_rmid_forced``, no POSIX message queues, the sweep between jobs, out-of-memory scores
    that make candidates the first victims, and no IP sockets for judges and candidates."""
    limits = ContainerLimits()
    plant = ("import ctypes, struct\nlibc = ctypes.CDLL(None)\nq = libc.msgget(0x5d0c, 0o1600)\n"
             "buf = ctypes.create_string_buffer(512)\nlibc.msgctl(q, 2, buf)\nstruct.pack_into('I', buf, 4, 0)\n"
             "libc.msgctl(q, 1, buf)\nprint(q)\n")
    try:
        with SandboxPool(size=1, image=image, backend="docker", container_limits=limits) as pool:
            planted = pool.run(Job("sppo_gym.sandbox.selftest:run_python", {"code": plant}))
            rep = pool.run(Job("sppo_gym.sandbox.selftest:isolation_report", {}))
    except Exception as e:
        return Check("ipc/memory isolation", "FAIL", f"pool failed: {type(e).__name__}: {e}", BUILD_FIX)
    if not (planted.ok and rep.ok):
        bad = planted if not planted.ok else rep
        return Check("ipc/memory isolation", "FAIL", f"job ended {bad.status}: {bad.detail[:300]}", BUILD_FIX)
    problems = _ipc_problems(rep.value, limits)
    if problems:
        return Check("ipc/memory isolation", "FAIL", "; ".join(problems),
                     "the engine must accept IPC sysctls with a private IPC namespace (Docker >= 1.12) and "
                     "the default seccomp profile must allow seccomp(2); rebuild with `sppo-gym sandbox build`")
    v = rep.value
    return Check("ipc/memory isolation", "OK",
                 f"private IPC namespace, shm_rmid_forced=1, shmall {v['sysctls']['kernel.shmall']} pages, "
                 f"msgmni {v['sysctls']['kernel.msgmni']}, mqueue queues_max 0; a root-owned SysV queue was "
                 f"swept after its job; oom_score_adj server {v['server_oom_score_adj']} < judge "
                 f"{v['judge_oom_score_adj']} < candidate {v['candidate_oom_score_adj']}; candidate IP sockets "
                 f"{v['candidate_inet']}")


def run_checks(*, run_job: bool = True, echo: Callable[[str], None] = print) -> bool:
    """Run every check, print one line per check (plus fixes); True when nothing failed."""
    checks: list[Check] = []
    if os.environ.get("SPPO_GYM_SANDBOX", "docker") != "docker":
        checks.append(Check("backend", "WARN", f"SPPO_GYM_SANDBOX={os.environ['SPPO_GYM_SANDBOX']}: jobs run "
                            "WITHOUT isolation", "unset SPPO_GYM_SANDBOX"))
    engine, client = check_engine()
    checks.append(engine)
    if client is not None:
        checks.extend(check_limits(client.info()))
        image_check, image = check_image(client)
        checks.append(image_check)
        if image and run_job:
            checks.append(check_job(image))
            checks.append(check_ipc(image))
            checks.append(check_languages(image))
    for c in checks:
        echo(c.render())
    failed = [c.name for c in checks if c.level == "FAIL"]
    echo(f"doctor: {len(failed)} problem(s)" + (f" ({', '.join(failed)})" if failed else "; the sandbox is ready"))
    return not failed

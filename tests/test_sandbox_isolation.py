"""Nothing outlives its owner in the sandbox: not across jobs in a reused container, not between
candidates packed into one job, not as memory that belongs to no process.

Every attack here is a *channel probe*: the candidate plants markers in every place that could
outlive it (files in /scratch and /dev/shm, directories with the names a predictable scheme would
give the next candidates, SysV message queues, semaphores and shared memory handed to root with
``IPC_SET``, a POSIX message queue, loopback TCP state, a daemon child) and answers correctly;
if it finds a marker that an earlier process planted it answers WRONG. So "the answer passes"
is exactly "no channel carried anything", with no timing involved. Each attack is followed by an
honest canary that must keep its reward, and by a probe that nothing is left in the container.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import gymnasium as gym
import pytest
import sppo_gym.envs  # noqa: F401  (registers the ids)
from sppo_gym.sandbox import Job, Limits, SandboxPool
from sppo_gym.sandbox import pool as pool_module
from sppo_gym.sandbox.pool import set_pool
from sppo_gym.verifiers.code.python_tests import PythonTestsVerifier
from sppo_gym.verifiers.code.stdio import StdioVerifier

pytestmark = pytest.mark.docker

ST = "sppo_gym.sandbox.selftest"

CHANNELS = r'''
import ctypes, os, socket, struct, time
_libc = ctypes.CDLL(None, use_errno=True)
_KEY = 0x53315331
_MARK = "s1-isolation-marker"
_GUESS = 64  # neighbouring uids a sequential scheme would give the next candidates

def _found():
    hits = [p for p in ("/scratch/" + _MARK, "/dev/shm/" + _MARK) if os.path.exists(p)]
    me = os.getuid()
    hits += [f"/scratch/c{u}" for u in range(me - _GUESS, me) if os.path.exists(f"/scratch/c{u}/" + _MARK)]
    if _libc.msgget(_KEY, 0) >= 0: hits.append("msg")
    if _libc.semget(_KEY, 0, 0) >= 0: hits.append("sem")
    if _libc.shmget(_KEY, 0, 0) >= 0: hits.append("shm")
    try:
        hits += [n for n in os.listdir("/dev/mqueue") if _MARK in n]
    except OSError:
        pass
    return hits

def _give_to_root(ctl, ident, cmd_arg):
    buf = ctypes.create_string_buffer(512)
    if ctl(ident, *cmd_arg(2), buf) == 0:      # IPC_STAT
        struct.pack_into("I", buf, 4, 0)       # ipc_perm.uid := root
        ctl(ident, *cmd_arg(1), buf)           # IPC_SET (allowed to the creator)

def _plant():
    for path in ("/scratch/" + _MARK, "/dev/shm/" + _MARK):
        try:
            with open(path, "w") as f:
                f.write("x" * 4096)
            os.chmod(path, 0o666)
        except OSError:
            pass
    me = os.getuid()
    for u in range(me + 1, me + _GUESS):       # take the home directories of the next candidates
        try:
            os.mkdir(f"/scratch/c{u}", 0o777)
            os.chmod(f"/scratch/c{u}", 0o777)
            open(f"/scratch/c{u}/" + _MARK, "w").close()
        except OSError:
            pass
    try:                                       # a nested directory the owner locked itself out of
        os.makedirs("/scratch/s1-locked/deeper/deepest", exist_ok=True)
        open("/scratch/s1-locked/deeper/deepest/f", "w").close()
        os.chmod("/scratch/s1-locked/deeper", 0)
    except OSError:
        pass
    q = _libc.msgget(_KEY, 0o1666)
    if q >= 0:
        _give_to_root(_libc.msgctl, q, lambda c: (c,))
    s = _libc.semget(_KEY, 1, 0o1666)
    if s >= 0:
        _give_to_root(_libc.semctl, s, lambda c: (0, c))
    m = _libc.shmget(_KEY, 1 << 20, 0o1666)
    if m >= 0:
        _give_to_root(_libc.shmctl, m, lambda c: (c,))
    try:
        with open("/dev/mqueue/" + _MARK, "w"):
            pass
    except OSError:
        pass
    try:                                       # TIME_WAIT port numbers as bits
        srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen()
        cli = socket.create_connection(srv.getsockname()); srv.accept()[0].close(); cli.close()
    except OSError:
        pass
    try:                                       # a daemon that would keep the shm attached
        if os.fork() == 0:
            os.closerange(0, 256)              # let the judge see the candidate's pipes close
            os.setsid()
            _libc.shmat(m, None, 0)
            time.sleep(3600)
            os._exit(0)
    except OSError:
        pass
'''

PROBE_FN = CHANNELS + r'''
_mine = []  # markers found after this process planted its own prove nothing

def inc(x):
    if not _mine:
        if _found():
            return -1
        _plant()
        _mine.append(True)
    return x + 1
'''
HONEST_FN = "def inc(x):\n    return x + 1\n"
INC = {"entry_point": "inc", "test": "def check(candidate):\n    assert candidate(1) == 2\n    assert candidate(41) == 42\n",
       "canonical_solution": "def inc(x):\n    y = 0\n    for _ in range(x + 1):\n        y += 1\n    return y\n"}

PROBE_PROG = CHANNELS + r'''
x = int(input())
print(-1 if _found() else x + 1)
_plant()
'''
HONEST_PROG = "print(int(input()) + 1)\n"
INC_STDIO = {"tests": [{"input": "1\n", "output": "2\n"}, {"input": "41\n", "output": "42\n"},
                       {"input": "7\n", "output": "8\n"}]}

LEFT = r'''
import os
used = []
for p in ("/scratch", "/dev/shm"):
    st = os.statvfs(p)
    used.append(st.f_files - st.f_ffree)
ipc = {k: len(open(f"/proc/sysvipc/{k}").read().splitlines()) - 1 for k in ("shm", "sem", "msg")}
print({"inodes": used, "ipc": ipc, "mqueue": os.listdir("/dev/mqueue"),
       "marker": [p for p in ("/scratch/s1-isolation-marker", "/dev/shm/s1-isolation-marker", "/scratch/s1-locked", "/scratch/d")
                  if os.path.exists(p)]})
'''


def leftovers(pool: SandboxPool) -> dict:
    """What a fresh job sees of the container: inodes in use, IPC objects, queues, markers."""
    res = pool.run(Job(f"{ST}:run_python", {"code": LEFT}))
    assert res.ok and res.value["returncode"] == 0, (res.status, res.detail, res.value)
    return eval(res.value["stdout"])  # our own probe's repr of plain values


@pytest.fixture(scope="module")
def pool():
    """One container, reused by every job of this module (what makes cross-job channels possible)."""
    with SandboxPool(size=1, backend="docker") as p:
        yield p


@contextmanager
def verifiers_use(pool: SandboxPool) -> Iterator[None]:
    """Route verifiers (which use the process-wide pool) to ``pool`` for a while."""
    old = pool_module._DEFAULT
    set_pool(pool, close_old=False)
    try:
        yield
    finally:
        set_pool(old, close_old=False)


def assert_clean(pool: SandboxPool, baseline: dict, started: int) -> None:
    left = leftovers(pool)
    assert left["ipc"] == {"shm": 0, "sem": 0, "msg": 0}, left
    assert left["mqueue"] == [] and left["marker"] == [], left
    assert left["inodes"] == baseline["inodes"], (left, baseline)  # nothing else either
    # the server proved its container clean after each job: nothing had to be recycled
    assert pool.stats["containers_started"] == started, pool.stats


@pytest.fixture(scope="module")
def baseline(pool) -> dict:
    left = leftovers(pool)
    assert left["ipc"] == {"shm": 0, "sem": 0, "msg": 0} and left["mqueue"] == [], left
    return left


def test_the_probe_detects_a_channel_when_one_exists(pool, baseline):
    """Control: within one process the markers are found, so a pass below means 'no channel'."""
    code = CHANNELS + "_plant()\nprint(sorted(_found()))\n"
    res = pool.run(Job(f"{ST}:run_python", {"code": code}))
    assert res.ok, (res.status, res.detail)
    found = eval(res.value["stdout"])
    assert {"/scratch/s1-isolation-marker", "/dev/shm/s1-isolation-marker", "msg", "sem"} <= set(found), found
    assert res.value["returncode"] == 0
    assert_clean(pool, baseline, pool.stats["containers_started"])


def test_kernel_refuses_parked_memory_and_network_state(pool, baseline):
    code = (
        "import ctypes, socket\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "big = libc.shmget(0, 256 << 20, 0o1600)\n"                     # over kernel.shmmax
        "ids = [libc.shmget(0, 8 << 20, 0o1600) for _ in range(4)]\n"    # over kernel.shmall
        "rt = ctypes.CDLL('librt.so.1', use_errno=True)\nrt.mq_open.restype = ctypes.c_int\n"
        "mq = rt.mq_open(b'/s1q', 0o100 | 0o2, 0o600, None)\n"
        "try:\n    socket.socket(socket.AF_INET6); inet = 'open'\nexcept OSError as e:\n    inet = e.errno\n"
        "adj = open('/proc/self/oom_score_adj').read().strip()\n"
        "print([big, sum(i >= 0 for i in ids), mq, inet, adj])\n"
    )
    res = pool.run(Job(f"{ST}:run_python", {"code": code}))
    assert res.ok and res.value["returncode"] == 0, (res.status, res.value)
    big, made, mq, inet, adj = eval(res.value["stdout"])
    assert big == -1 and made <= 2 and mq == -1, res.value
    assert inet == 13 and adj == "1000", res.value  # EACCES; the candidate is the OOM killer's first pick
    assert_clean(pool, baseline, pool.stats["containers_started"])


@pytest.mark.parametrize("reward", ["pass", "speed"])
def test_no_state_survives_a_job(pool, baseline, reward):
    """Single jobs in one container: each attacker job plants, the next one would find the markers."""
    v = PythonTestsVerifier(reward=reward, pack_size=1, speed_min_rounds=2, speed_min_time_s=0.0)
    started = pool.stats["containers_started"]
    with verifiers_use(pool):
        scores = [v.verify(PROBE_FN, INC) for _ in range(3)] + [v.verify(HONEST_FN, INC)]
    for s in scores:
        assert s.passed and s.verdict == "passed" and s.reward > 0, s
    assert_clean(pool, baseline, started)


@pytest.mark.parametrize("reward", ["pass", "speed"])
def test_packed_candidates_share_nothing(pool, baseline, reward):
    """Eight problems in ONE job (pass mode; the speed reward judges one problem per job, whose
    several timed runs are then the packed candidates): attackers first and between canaries."""
    v = PythonTestsVerifier(reward=reward, pack_size=8, speed_min_rounds=2, speed_min_time_s=0.0)
    items = [(PROBE_FN, INC), (PROBE_FN, INC), (HONEST_FN, INC), (PROBE_FN, INC),
             (HONEST_FN, INC), (PROBE_FN, INC), (HONEST_FN, INC), (HONEST_FN, INC)]
    started, jobs = pool.stats["containers_started"], pool.stats["jobs"]
    with verifiers_use(pool):
        scores = v.verify_batch(items)
    assert pool.stats["jobs"] == jobs + (1 if reward == "pass" else len(items))
    for s in scores:
        assert s.passed and s.verdict == "passed" and s.reward > 0, s
    assert_clean(pool, baseline, started)


def test_stdio_cases_share_nothing(pool, baseline):
    """Program mode: every case of one stdio job is a fresh process that must not see the last."""
    v = StdioVerifier()
    started = pool.stats["containers_started"]
    with verifiers_use(pool):
        scores = v.verify_batch([(f"```python\n{PROBE_PROG}```", INC_STDIO)] * 2
                                + [(f"```python\n{HONEST_PROG}```", INC_STDIO)])
    for s in scores:
        assert s.passed and s.verdict == "passed", s
    assert_clean(pool, baseline, started)


def test_make_vec_pack_with_attackers_keeps_honest_rewards(sandbox_pool):
    """The vector env's own path (one verify_batch per step, packed): attackers cannot help
    themselves or hurt the honest answers next to them, in pass and in speed mode."""
    for reward in ("pass", "speed"):
        envs = gym.make_vec("sppo_gym/HumanEval-v0", num_envs=8, reward=reward,
                            verifier_options={"pack_size": 8, "speed_min_rounds": 2, "speed_min_time_s": 0.0})
        _, infos = envs.reset(options={"index": [0] * 8})
        answer = infos["answer"][0]
        prompt_fn = answer  # the reference completion: a whole, correct program
        attacker = CHANNELS + "\n_plant()\n" + prompt_fn  # plants at import, answers right
        wrong = CHANNELS + "\n_plant()\ndef has_close_elements(numbers, threshold):\n    return True\n"
        actions = [f"```python\n{a}```" for a in (attacker, wrong, prompt_fn, attacker, prompt_fn, wrong, prompt_fn, prompt_fn)]
        _, rewards, _, _, infos = envs.step(actions)
        envs.close()
        verdicts = list(infos["verdict"])
        for i in (2, 4, 6, 7):
            assert verdicts[i] == "passed" and rewards[i] > 0, (reward, i, verdicts, rewards)
        for i in (1, 5):
            assert verdicts[i] == "failed" and rewards[i] == 0, (reward, i, verdicts, rewards)
        assert "sandbox_error" not in verdicts, verdicts


DEEP_TREE = r'''
import os
os.chdir("/scratch")
for i in range(3000):                      # deeper than PATH_MAX allows to name, and than Python's stack
    os.mkdir("d", 0o700)
    os.chdir("d")
open("s1-isolation-marker", "w").close()
os.chdir("/scratch")
os.chmod("d", 0)
print("planted")
'''


def test_a_deep_directory_tree_does_not_take_the_server_down():
    """Leftovers the sweep will not walk (too deep) mean a replaced container, never a dead
    server or a dirty next job."""
    with SandboxPool(size=1, backend="docker") as pool:
        res = pool.run(Job(f"{ST}:run_python", {"code": DEEP_TREE}))
        assert res.ok and res.value["stdout"].strip() == "planted", (res.status, res.value)
        assert res.attempts == 1, res
        left = leftovers(pool)
        assert left["marker"] == [] and left["ipc"] == {"shm": 0, "sem": 0, "msg": 0}, left
        assert pool.stats["sandbox_errors"] == 0, pool.stats
        assert pool.stats["containers_started"] == 2, pool.stats  # too deep to sweep: replaced


MEMORY_HOG = r'''
import os
kids = []
for _ in range(60):                       # 60 x 28 MB: beyond the container's memory, each
    try:                                  # process smaller than the job server
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        try:
            hog = b"x" * (28 << 20)       # touched pages, not a lazy allocation
            import time; time.sleep(5)
        finally:
            os._exit(0)
    kids.append(pid)
for pid in kids:
    os.waitpid(pid, 0)
print("survived")
'''


def test_filling_the_container_kills_the_candidate_not_the_server(baseline):
    """Memory pressure is charged to the candidate: the OOM killer picks candidates (score 1000)
    over the job server, the job ends with a verdict, and the same container serves an honest
    job afterwards."""
    with SandboxPool(size=1, backend="docker", limits=Limits(wall_s=60, memory_mb=512)) as pool:
        # As in real use, the job server has imported the judges (sympy: ~70 MB resident), so each
        # hog process is smaller than the server: the kernel's size-based choice alone would take
        # the server, and only the out-of-memory scores make it take the candidates.
        warm = pool.run(Job("sppo_gym.verifiers.math.judge:judge", {"gold": "1/2", "response": "0.5"}))
        assert warm.ok, (warm.status, warm.detail)
        res = pool.run(Job(f"{ST}:run_python", {"code": MEMORY_HOG, "memory_mb": 512, "timeout": 40}))
        assert res.status != "sandbox_error", (res.status, res.detail)
        assert res.attempts == 1, res  # the container did not die under it
        after = pool.run(Job(f"{ST}:run_python", {"code": "print(len(b'y' * (300 << 20)))", "memory_mb": 512}))
        assert after.ok and after.value["stdout"].strip() == str(300 << 20), (after.status, after.value)


def test_a_program_that_lowers_its_score_still_gets_a_verdict():
    """Known limit (docs/THREAT_MODEL.md): an exec'd program is dumpable again and may lower its
    score to the job server's. Then either the kernel still takes the hogs, or it takes the job
    server on every attempt and the job ends as ``memory``: never ``sandbox_error``."""
    code = "open('/proc/self/oom_score_adj', 'w').write('0')\n" + MEMORY_HOG
    with SandboxPool(size=1, backend="docker", limits=Limits(wall_s=60, memory_mb=512)) as pool:
        warm = pool.run(Job("sppo_gym.verifiers.math.judge:judge", {"gold": "1/2", "response": "0.5"}))
        assert warm.ok, (warm.status, warm.detail)
        res = pool.run(Job(f"{ST}:run_python", {"code": code, "memory_mb": 512, "timeout": 40}))
        assert res.status in ("ok", "memory"), (res.status, res.detail)
        assert res.status == "ok" or res.attempts == pool.retries + 1, res
        after = pool.run(Job(f"{ST}:run_python", {"code": "print(len(b'y' * (300 << 20)))", "memory_mb": 512}))
        assert after.ok and after.value["stdout"].strip() == str(300 << 20), (after.status, after.value)


def test_a_job_whose_container_dies_every_time_is_a_verdict_not_an_infrastructure_error():
    """If a job brings its container down on every attempt, the job is to blame: ``memory``."""
    pool = SandboxPool(size=1, backend="docker", retries=1, limits=Limits(wall_s=120))
    killed: set[str] = set()
    stop = threading.Event()

    def killer() -> None:
        busy_since: dict[str, float] = {}  # container -> when it first had a job in flight
        while not stop.is_set():
            for w in list(pool._all):
                cid = w.transport.container
                if w.jobs:
                    busy_since.setdefault(cid, time.monotonic())
                if cid in busy_since and cid not in killed and time.monotonic() - busy_since[cid] > 1.5:
                    killed.add(cid)
                    try:
                        pool._client.api.kill(cid)
                    except Exception:
                        pass
            time.sleep(0.2)

    t = threading.Thread(target=killer, daemon=True)
    try:
        pool.warm(1)
        t.start()
        res = pool.run(Job(f"{ST}:sleep", {"seconds": 100}))
    finally:
        stop.set()
        pool.close()
    assert res.status == "memory" and res.attempts == 2, (res.status, res.detail, killed)

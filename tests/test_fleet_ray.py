"""The Ray sandbox pool on a real local Ray cluster (2-3 nodes on this machine, one Docker engine).

Each node runs its own Docker pool; the tests check that verdicts equal the local pool's, that a
node killed mid-batch costs no job, and that only a fleet with no node left reports
``sandbox_error``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import gymnasium as gym
import pytest
import ray
import sppo_gym.envs  # noqa: F401
from ray.cluster_utils import Cluster
from sppo_gym.sandbox import Job, Limits, RayPool, SandboxPool, get_pool, set_pool
from sppo_gym.sandbox import pool as pool_module
from sppo_gym.sandbox.transport import LABEL, OWNER_LABEL

pytestmark = pytest.mark.docker

SLEEP = "sppo_gym.sandbox.selftest:sleep"


def test_local_address_runs_jobs_and_cleans_up_at_exit():
    """SPPO_GYM_RAY_ADDRESS=local: a one-node Ray in the process; at exit its containers are gone.
    (First in the file: it starts its own Ray before the shared cluster exists.)"""
    code = ("import json; from sppo_gym.sandbox import Job, get_pool; p = get_pool(); "
            "r = p.run_batch([Job('sppo_gym.sandbox.selftest:echo', {'i': i}) for i in range(3)]); "
            "print(json.dumps({'kind': type(p).__name__, 'values': [x.value for x in r], "
            "'pids': [n.pid for n in p._nodes.values()]}))")
    env = {**os.environ, "SPPO_GYM_RAY_ADDRESS": "local", "SPPO_GYM_POOL_SIZE": "1"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["kind"] == "RayPool" and out["values"] == [{"i": 0}, {"i": 1}, {"i": 2}]
    assert containers_of(set(out["pids"])) == []  # closed before Ray shut down, not left for a reaper


@pytest.fixture(scope="module")
def cluster():
    """A head and one worker node; small footprint, fast failure detection."""
    c = Cluster(initialize_head=True, connect=True, head_node_args={
        "num_cpus": 1, "include_dashboard": False,
        "_system_config": {"health_check_period_ms": 500, "health_check_failure_threshold": 4},
    })
    c.add_node(num_cpus=1)
    yield c
    ray.shutdown()
    c.shutdown()


def containers_of(pids: set[int]) -> list[str]:
    """Sandbox containers (running or stopped) owned by these processes of this host."""
    import docker

    client = docker.from_env()
    found = client.api.containers(all=True, filters={"label": LABEL})
    return [c["Id"] for c in found
            if (c.get("Labels") or {}).get(OWNER_LABEL, "").rpartition(":")[2] in {str(p) for p in pids}]


def mixed_items() -> list[tuple[str, dict, list[tuple[str, dict]]]]:
    """(env id, kwargs, [(response, problem)]): a right and a wrong answer for math, code, Coq, reasoning-gym."""
    out = []
    for env_id, kwargs, index, right, wrong in [
        ("sppo_gym/Arithmetic-v0", {}, 1, lambda a: f"The answer is {a}.", lambda a: "The answer is 7.5."),
        ("sppo_gym/HumanEval-v0", {}, 2, lambda a: f"```python\n{a}\n```", lambda a: "```python\ndef f():\n    pass\n```"),
        ("sppo_gym/CoqProof-v0", {}, 3, lambda a: f"```coq\n{a}\n```", lambda a: "```coq\nreflexivity.\n```"),
        ("sppo_gym/ReasoningGym-v0", {"task": "basic_arithmetic"}, 4, lambda a: f"<answer>{a}</answer>",
         lambda a: "<answer>-1</answer>"),
    ]:
        env = gym.make(env_id, **kwargs)
        _, info = env.reset(options={"index": index})
        problem = env.unwrapped._sel.problem
        out.append((env_id, kwargs, [(right(info["answer"]), problem), (wrong(info["answer"]), problem)]))
        env.close()
    return out


def verdicts(items) -> list[tuple[float, str, bool]]:
    out = []
    for env_id, kwargs, pairs in items:
        verifier = gym.make(env_id, **kwargs).unwrapped.verifier
        out += [(s.reward, s.verdict, s.passed) for s in verifier.verify_batch(pairs)]
    return out


@pytest.fixture
def own_default_pool():
    """The test swaps the process-wide pool; the session's pool (other test files use it) is put
    back afterwards, never closed."""
    session_pool = pool_module._DEFAULT
    set_pool(None, close_old=False)
    yield
    set_pool(session_pool)  # closes whatever the test left as the default


def test_ray_pool_gives_the_local_pools_verdicts(cluster, monkeypatch, own_default_pool):
    items = mixed_items()
    local = SandboxPool(2)
    set_pool(local)
    try:
        expected = verdicts(items)
    finally:
        set_pool(None)
    monkeypatch.setenv("SPPO_GYM_RAY_ADDRESS", "auto")  # how a user selects it: get_pool() joins the cluster
    monkeypatch.setenv("SPPO_GYM_POOL_SIZE", "1")  # containers per node
    pool = get_pool()
    try:
        assert isinstance(pool, RayPool) and get_pool() is pool
        assert len(pool.nodes()) == 2 and pool.size == 2
        got = verdicts(items)
        per_node = pool.node_stats()
    finally:
        set_pool(None)
    assert got == expected
    assert {v for _, v, _ in got} >= {"correct", "passed", "proved", "wrong"}  # right and wrong answers
    assert all(s.get("jobs", 0) > 0 for s in per_node.values()), per_node  # both nodes judged
    assert pool.stats["node_failures"] == 0 and pool.stats["sandbox_errors"] == 0


def test_node_killed_mid_batch_loses_nothing(cluster):
    victim = cluster.add_node(num_cpus=1)
    pool = RayPool(size_per_node=1)
    pids = {n.pid for n in pool._nodes.values()}
    assert len(pool.nodes()) == 3
    seconds = [round(0.6 + 0.01 * i, 2) for i in range(12)]
    out: dict[str, list] = {}
    runner = threading.Thread(target=lambda: out.setdefault("r", pool.run_batch(
        [Job(SLEEP, {"seconds": s}) for s in seconds])))
    runner.start()
    deadline = time.monotonic() + 120
    while not any(n["inflight"] for n in pool.nodes() if n["node_id"] == victim.node_id):
        assert time.monotonic() < deadline, "the batch never reached the victim node"
        time.sleep(0.05)
    time.sleep(0.2)  # its job is running now
    cluster.remove_node(victim)
    runner.join(timeout=300)
    results = out["r"]
    assert [r.status for r in results] == ["ok"] * len(seconds)
    assert [r.value["slept"] for r in results] == seconds  # input order kept
    assert pool.stats["node_failures"] == 1 and pool.stats["rescheduled"] >= 1
    assert victim.node_id in pool.excluded and any(e["node_id"] == victim.node_id for e in pool.events)
    assert len(pool.nodes()) == 2
    pool.close()
    assert containers_of(pids) == []  # the dead node's containers were reaped too


def test_no_node_left_is_sandbox_error_not_a_verdict(cluster):
    pool = RayPool(size_per_node=1)
    for node in pool._nodes.values():  # every pool actor dies; the nodes themselves stay up
        ray.kill(node.handle)
    results = pool.run_batch([Job(SLEEP, {"seconds": 0.1}) for _ in range(4)])
    assert [r.status for r in results] == ["sandbox_error"] * 4
    assert all("no Ray node could run the job" in r.detail for r in results), results[0].detail
    assert pool.stats["node_failures"] == len(pool._nodes)
    pool.close()


def test_ray_pool_refuses_bad_limits_like_the_local_pool(cluster):
    pool = RayPool(size_per_node=1)
    try:
        with pytest.raises(ValueError, match="must leave 128 MiB"):
            pool.run(Job(SLEEP, {}, Limits(memory_mb=4096)))
    finally:
        pool.close()

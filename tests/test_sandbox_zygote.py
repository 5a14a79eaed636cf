"""The zygote (sandbox/zygote.py) against the real Docker engine: function-mode candidates are
forks of a payload-free interpreter with the same state an exec'd one had, and the server falls
back to exec'd candidates (then replaces the container) when the zygote is gone."""

from __future__ import annotations

import ast
import re

import pytest
from sppo_gym.sandbox import Job, SandboxPool

pytestmark = pytest.mark.docker

ST = "sppo_gym.sandbox.selftest"
PROBE = r'''
import os, random, sys
def f(_):
    with open(f"/proc/{os.getppid()}/cmdline", "rb") as fh:
        parent = fh.read().replace(b"\0", b" ").decode()
    return {"parent": parent, "uid": os.getuid(), "isolated": sys.flags.isolated,
            "env": sorted(os.environ),
            "random": random.random(), "cwd": os.getcwd(), "path": list(sys.path)}
'''
ALLOWED_ENV = {"PATH", "HOME", "TMPDIR", "LANG", "PYTHONDONTWRITEBYTECODE", "PYTHONHASHSEED",
               "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"}


def probe(pool) -> dict:
    res = pool.run(Job(f"{ST}:call_candidate", {"code": PROBE, "arg": 0}))
    assert res.status == "ok" and "reply" in res.value, (res.status, res.detail, res.value)
    return ast.literal_eval(res.value["reply"])


def assert_like_an_exec_d_interpreter(info: dict) -> None:
    assert info["uid"] >= 100_000
    assert info["isolated"] == 1  # python3 -I (which also ignores PYTHONHASHSEED: hashes are randomised)
    assert set(info["env"]) <= ALLOWED_ENV, info["env"]
    assert re.fullmatch(r"/scratch/[0-9a-f]{32}", info["cwd"]), info["cwd"]  # unguessable, not c<uid>
    assert not any(p in ("", ".") or p.startswith("/scratch") for p in info["path"]), info["path"]


def test_function_candidates_are_zygote_forks_with_fresh_state(sandbox_pool):
    first, second = probe(sandbox_pool), probe(sandbox_pool)
    for info in (first, second):
        assert "sppo_gym.sandbox.zygote" in info["parent"], info["parent"]
        assert_like_an_exec_d_interpreter(info)
    assert first["uid"] != second["uid"]
    assert abs(first["uid"] - second["uid"]) > 1  # drawn at random, not the next one (p ~ 3e-5 to fail)
    assert first["random"] != second["random"]  # `random` reseeds in every fork


def test_pool_without_zygote_execs_candidates():
    with SandboxPool(1, zygote=False) as pool:
        info = probe(pool)
    assert "sppo_gym.sandbox.server" in info["parent"], info["parent"]
    assert_like_an_exec_d_interpreter(info)


def test_dead_zygote_falls_back_to_exec_and_the_container_is_replaced():
    with SandboxPool(1) as pool:
        assert "zygote" in probe(pool)["parent"]
        (worker,) = pool._all
        api = pool._docker()[0].api
        container = worker.transport.container
        ex = api.exec_create(container, ["pkill", "-KILL", "-f", "sppo_gym.sandbox.zygote"], user="0")
        api.exec_start(ex)
        assert api.exec_inspect(ex)["ExitCode"] == 0  # pkill found and killed it
        info = probe(pool)  # the job still runs, on the exec path
        assert "sppo_gym.sandbox.server" in info["parent"], info["parent"]
        assert_like_an_exec_d_interpreter(info)
        info = probe(pool)  # ... and the container was replaced by one with a zygote
        assert "sppo_gym.sandbox.zygote" in info["parent"], info["parent"]
        assert pool.stats["containers_started"] >= 2

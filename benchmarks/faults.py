"""Fault injection: restart the Docker engine in the middle of a batch (run by hand; it disrupts
every other Docker user on the machine).

    python benchmarks/faults.py [--jobs 16] [--restart-cmd "systemctl restart docker"]

Shows that (1) jobs caught by the restart end as ``sandbox_error`` or are retried to ``ok`` —
never as a verdict about the job, (2) nothing hangs: every job returns within its wall time plus
retries, and (3) the same pool serves a new batch afterwards without being recreated.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import signal
import subprocess
import threading
import time

import docker
from sppo_gym.sandbox import Job, Limits, SandboxPool


def restart_engine(cmd: str | None) -> None:
    if cmd:
        subprocess.run(cmd, shell=True, check=True)
        return
    if shutil.which("systemctl") and subprocess.run(["systemctl", "is-active", "--quiet", "docker"]).returncode == 0:
        subprocess.run(["systemctl", "restart", "docker"], check=True)
        return
    pid = int(subprocess.run(["pidof", "dockerd"], capture_output=True, text=True, check=True).stdout.split()[0])
    os.kill(pid, signal.SIGTERM)
    while os.path.exists(f"/proc/{pid}"):
        time.sleep(0.1)
    with open("/tmp/dockerd-faults.log", "ab") as log:
        subprocess.Popen(["dockerd"], stdout=log, stderr=log, start_new_session=True)
    client = docker.from_env()
    for _ in range(120):
        try:
            client.ping()
            return
        except Exception:
            time.sleep(0.5)
    raise RuntimeError("dockerd did not come back within 60 s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=16)
    ap.add_argument("--restart-cmd", default=None)
    args = ap.parse_args()
    limits = Limits(wall_s=10)
    with SandboxPool(limits=limits) as pool:
        pool.warm()
        jobs = [Job("sppo_gym.sandbox.selftest:sleep", {"seconds": 2}) for _ in range(args.jobs)]
        restarter = threading.Timer(1.0, restart_engine, args=(args.restart_cmd,))
        t0 = time.perf_counter()
        restarter.start()
        during = pool.run_batch(jobs)
        t_during = time.perf_counter() - t0
        restarter.join()
        t1 = time.perf_counter()
        after = pool.run_batch([Job("sppo_gym.sandbox.selftest:echo", {"i": i}) for i in range(args.jobs)])
        t_after = time.perf_counter() - t1
        print(f"batch during restart: {dict(collections.Counter(r.status for r in during))} "
              f"attempts {dict(collections.Counter(r.attempts for r in during))} in {t_during:.1f} s "
              f"(longest job {max(r.elapsed for r in during):.1f} s)")
        print(f"batch after restart:  {dict(collections.Counter(r.status for r in after))} in {t_after:.1f} s")
        print(f"pool stats: {pool.stats}")
        assert all(r.status in ("ok", "sandbox_error") for r in during)
        assert all(r.status == "ok" for r in after), "the pool did not recover by itself"


if __name__ == "__main__":
    main()

"""The warm pool: job servers in hardened containers, ready to take jobs in milliseconds.

One job at a time per container; as many containers as the machine can run. A container that
saw a limit hit, could not prove itself clean, or served ``max_jobs`` jobs is replaced (in the
background) by a fresh one. Engine and container failures are retried on another container a
bounded number of times and then reported as ``sandbox_error`` — never as a wrong answer.
A job whose container died under it on every attempt is the exception: the job itself brought
it down (it filled the container's memory, so the kernel's out-of-memory killer took the job
server), and it ends as ``memory``, a verdict on the job, so that no answer can turn its own
zero into an infrastructure error.
"""

from __future__ import annotations

import asyncio
import atexit
import itertools
import logging
import os
import queue
import threading
import time
import warnings
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

from .job import STARVED, Job, JobResult
from .limits import ContainerLimits, Limits
from .transport import ContainerDied, DockerTransport, LocalTransport, Transport, TransportError

log = logging.getLogger(__name__)

START_TIMEOUT_S = 120.0
"""Time for a server to accept a job; covers importing an entry module the first time."""
RETRY_BACKOFF_S = 1.0
"""Pause before the n-th retry is n times this."""
GRACE_S = 20.0
"""Extra host-side wait beyond a job's wall time before the container is declared wedged."""


def default_pool_size() -> int:
    """Two containers per core (jobs wait on I/O and forks), bounded by memory, 2..16."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        mem_gb = 8.0
    return int(max(2, min(2 * cpus, mem_gb // 2, 16)))


class _Worker:
    """One job server and its bookkeeping."""

    _ids = itertools.count()

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.jobs = 0
        self.retire = False

    def execute(self, job: Job, limits: Limits) -> JobResult:
        job_id = next(self._ids)
        self.jobs += 1
        self.transport.send({"op": "run", "id": job_id, "entry": job.entry, "payload": job.payload, "limits": limits.to_json()})
        first = self.transport.recv(START_TIMEOUT_S)
        if first.get("op") != "started":  # refused before starting (e.g. entry not importable)
            self.retire = True
            return JobResult.from_wire(first)
        reply = self.transport.recv(limits.wall_s + GRACE_S)
        if reply.get("id") != job_id:
            raise TransportError(f"job server answered job {reply.get('id')} while {job_id} was running")
        if reply.get("recycle"):
            self.retire = True
        return JobResult.from_wire(reply)


class SandboxPool:
    """Run sandbox jobs on a warm pool of job servers (see module docstring)."""

    def __init__(
        self,
        size: int | None = None,
        *,
        limits: Limits | None = None,
        container_limits: ContainerLimits | None = None,
        backend: str | None = None,
        image: str | None = None,
        retries: int = 2,
        client=None,
        zygote: bool = True,
    ) -> None:
        self.size = size or int(os.environ.get("SPPO_GYM_POOL_SIZE", 0)) or default_pool_size()
        self.limits = limits or Limits()
        self.container_limits = container_limits or ContainerLimits()
        self.backend = backend or os.environ.get("SPPO_GYM_SANDBOX", "docker")
        if self.backend not in ("docker", "local"):
            raise ValueError(f"sandbox backend must be 'docker' or 'local', got {self.backend!r}")
        if self.backend == "local":
            warnings.warn(
                "SPPO_GYM_SANDBOX=local: jobs run WITHOUT isolation on this machine (debugging only)",
                RuntimeWarning, stacklevel=2,
            )
        self.retries = retries
        self.zygote = zygote
        """False: each function-mode candidate is a freshly exec'd interpreter (slower; for benchmarks)."""
        self._client = client
        self._image = image or os.environ.get("SPPO_GYM_IMAGE") or None
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._lock = threading.Lock()
        self._live = 0
        self._all: set[_Worker] = set()
        self._preload: list[str] = []
        self._executor = ThreadPoolExecutor(max_workers=self.size, thread_name_prefix="sandbox")
        self._closed = False
        self.stats = {"jobs": 0, "retries": 0, "sandbox_errors": 0, "containers_started": 0}
        _POOLS.add(self)

    # ---- public API ----------------------------------------------------------------------
    def run(self, job: Job) -> JobResult:
        """Run one job; infrastructure failures are retried, then reported as sandbox_error.

        A job that ran out of wall time while the host starved it of CPU (``cpu_share``: it
        waited for a CPU at least half the time and ran less than half, while others had the CPU)
        is such a failure too: its wall time measured the host's load, not the job. Retrying it
        usually succeeds (the retry also finds a warm container)."""
        limits = job.limits or self.limits
        if limits.memory_mb > self.container_limits.memory_mb - 128:
            raise ValueError(
                f"job memory_mb={limits.memory_mb} must leave 128 MiB of the container's "
                f"{self.container_limits.memory_mb} MiB; raise ContainerLimits.memory_mb"
            )
        self._note_entry(job.entry)
        last = "no attempt"
        deaths, ooms = 0, 0
        for attempt in range(1, self.retries + 2):
            if attempt > 1:
                time.sleep(RETRY_BACKOFF_S * (attempt - 1))  # let a restarting engine come back
            try:
                worker = self._acquire()
            except TransportError as e:
                last = str(e)
                self.stats["retries"] += 1
                continue
            try:
                result = worker.execute(job, limits)
                result.attempts = attempt
                if result.status == STARVED:  # the host had no CPU for it: not the job's outcome
                    last = f"the host was too busy: {result.detail}"
                    self.stats["starved"] = self.stats.get("starved", 0) + 1
                    continue
                self.stats["jobs"] += 1
                return result
            except TransportError as e:
                last = str(e)
                worker.retire = True
                self.stats["retries"] += 1
                if isinstance(e, ContainerDied):
                    deaths += 1
                    ooms += e.oom
                log.warning("sandbox attempt %d failed: %s", attempt, e)
            finally:
                self._release(worker)
        if deaths == self.retries + 1 and deaths >= 2:
            self.stats["container_deaths"] = self.stats.get("container_deaths", 0) + deaths
            why = "hit its memory limit" if ooms else "died"
            return JobResult("memory", limit_hit="memory", attempts=deaths,
                             detail=f"the job's container {why} on each of {deaths} attempts: {last}"[:500])
        self.stats["sandbox_errors"] += 1
        return JobResult("sandbox_error", detail=f"after {self.retries + 1} attempts: {last}"[:500], attempts=self.retries + 1)

    def run_batch(self, jobs: Sequence[Job] | Iterable[Job]) -> list[JobResult]:
        """Run jobs concurrently over the pool; results come back in input order."""
        return list(self._executor.map(self.run, list(jobs)))

    async def arun(self, job: Job) -> JobResult:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self.run, job)

    def warm(self, n: int | None = None) -> None:
        """Start up to ``n`` (default: all) job servers now instead of on first use."""
        workers = []
        for _ in range(min(n or self.size, self.size)):
            try:
                workers.append(self._acquire())
            except TransportError:
                break
        for w in workers:
            self._release(w)

    def close(self) -> None:
        """Stop every job server and remove its container."""
        self._closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            workers, self._all = list(self._all), set()
            self._live = 0
        for w in workers:
            w.transport.close()
        _POOLS.discard(self)

    def __enter__(self) -> SandboxPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- workers ---------------------------------------------------------------------------
    def _note_entry(self, entry: str) -> None:
        module = entry.partition(":")[0]
        if module not in self._preload:
            self._preload.append(module)

    def _acquire(self) -> _Worker:
        if self._closed:
            raise TransportError("the sandbox pool is closed")
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            grow = self._live < self.size
            if grow:
                self._live += 1
        if grow:
            try:
                return self._start_worker()
            except BaseException:
                with self._lock:
                    self._live -= 1
                raise
        try:
            return self._idle.get(timeout=START_TIMEOUT_S * 2)
        except queue.Empty:
            raise TransportError("no sandbox container became free in time (pool exhausted)") from None

    def _release(self, worker: _Worker) -> None:
        if self._closed:
            worker.transport.close()
            return
        if worker.retire or worker.jobs >= self.container_limits.max_jobs:
            with self._lock:
                self._all.discard(worker)
            threading.Thread(target=self._replace, args=(worker,), daemon=True).start()
        else:
            self._idle.put(worker)

    def _replace(self, old: _Worker) -> None:
        """Retire ``old`` and start its successor off the request path."""
        old.transport.close()
        try:
            new = self._start_worker()
        except TransportError as e:
            log.warning("could not start a replacement sandbox container: %s", e)
            with self._lock:
                self._live -= 1
            return
        if self._closed:
            new.transport.close()
        else:
            self._idle.put(new)

    def _start_worker(self) -> _Worker:
        if self.backend == "local":
            transport: Transport = LocalTransport(list(self._preload), zygote=self.zygote)
        else:
            client, image = self._docker()
            transport = DockerTransport(client, image, self.container_limits, list(self._preload), zygote=self.zygote)
        worker = _Worker(transport)
        try:
            transport.send({"op": "ping", "id": "hello"})
            transport.recv(START_TIMEOUT_S)
        except TransportError:
            transport.close()
            raise
        with self._lock:
            self._all.add(worker)
        self.stats["containers_started"] += 1
        return worker

    def _docker(self):
        with self._lock:
            if self._client is None:
                # lazy: the docker SDK costs ~0.15 s to import (python -X importtime); in-process verifiers,
                # the local backend and everything that only names a pool never start a container
                import docker

                from .reaper import reap_strays

                try:
                    self._client = docker.from_env()
                    self._client.ping()
                except Exception as e:
                    self._client = None
                    raise TransportError(f"cannot reach the Docker engine ({e}); run `sppo-gym sandbox doctor`") from e
                reap_strays(self._client)
            if self._image is None:
                from .image import ensure_image  # lazy: imports the docker SDK too (see above)

                self._image = ensure_image(self._client)
            return self._client, self._image


_POOLS: set[SandboxPool] = set()
_DEFAULT: SandboxPool | None = None
_DEFAULT_LOCK = threading.Lock()


def get_pool() -> SandboxPool:
    """The process-wide pool, created on first use with defaults.

    Environment: ``SPPO_GYM_SANDBOX`` (``docker``, or ``local`` for unisolated debugging),
    ``SPPO_GYM_POOL_SIZE`` (containers), ``SPPO_GYM_IMAGE`` (use this image tag instead of
    building the project's own).
    """
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None or _DEFAULT._closed:
            _DEFAULT = SandboxPool()
        return _DEFAULT


def set_pool(pool: SandboxPool | None, *, close_old: bool = True) -> None:
    """Replace the process-wide pool, e.g. to change limits or size. The old one is closed unless
    ``close_old=False`` (to switch between pools that stay in use, as benchmarks do)."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        old, _DEFAULT = _DEFAULT, pool
    if close_old and old is not None and old is not pool:
        old.close()


@atexit.register
def _close_all() -> None:
    for pool in list(_POOLS):
        pool.close()

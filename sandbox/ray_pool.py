"""Sandbox jobs over a Ray cluster: one local Docker pool per node, jobs spread by queue length.

``RayPool`` has the local pool's interface (``run``, ``run_batch`` with results in input order,
``arun``, ``size``, ``close``) and puts one :class:`NodePool` actor on every alive Ray node. Each
actor owns an ordinary :class:`~sppo_gym.sandbox.pool.SandboxPool` on its node's Docker engine
(building or finding the image there), so a job runs in exactly the container, image and limits
the local pool would use: verdicts are the same. A node joins the fleet only after a probe job
ran on it and its image tag equals the driver's (same sandbox and verifier sources); nodes
without Docker, or with other code, are left out and listed in ``excluded``.

Dispatch: each job goes to the node with the fewest jobs in flight relative to its pool size,
and no node gets more than ``queue_factor`` x its size in flight, so work waits on the driver
(where any node can still take it) rather than in a queue that dies with its node.

Failures: a job whose node died, became unreachable or did not answer within its bounded time
is sent again to another node — never scored. Each such event is logged, counted in ``stats``
and kept in ``events``. Only when no node is left (after looking for new ones) or a job lost
``max_node_failures`` nodes does it end as ``sandbox_error``, like the local pool's own
infrastructure failures. Failures inside a node (a container that died) are the node pool's
business, handled exactly as on one machine.

Select it with ``SPPO_GYM_RAY_ADDRESS`` (``auto`` joins the running cluster, ``local`` starts a
one-node Ray here, or ``ray://host:10001`` / ``host:6379``): :func:`sppo_gym.sandbox.get_pool`
then returns a ``RayPool``. Or build one (``RayPool(address)``) and install it with
``set_pool``. Needs ``pip install 'sppo-gym[ray]'`` on the driver and every node, with the same
sppo-gym version.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .image import get_client, image_exists, image_tag
from .job import Job, JobResult
from .limits import ContainerLimits, Limits
from .pool import GRACE_S, START_TIMEOUT_S, SandboxPool
from .reaper import reap_strays

log = logging.getLogger(__name__)

PROBE_ENTRY = "sppo_gym.sandbox.selftest:echo"
PROBE_TIMEOUT_S = 1800.0
"""A node's first probe may build the sandbox image there (minutes on a fresh host)."""
REFRESH_S = 30.0
"""How often a batch looks for nodes that joined the cluster."""
MAX_EVENTS = 200


class NodePool:
    """Ray actor body: a local ``SandboxPool`` on the node the actor was placed on."""

    def __init__(self, size: int | None, limits: Limits, container_limits: ContainerLimits,
                 image: str | None, retries: int, want: str | None) -> None:
        self.pool = SandboxPool(size, limits=limits, container_limits=container_limits, backend="docker",
                                image=image, retries=retries)
        self.want = want

    def probe(self) -> dict[str, Any]:
        """Pick the image, run one trivial job (this starts Docker), describe the node.

        With ``want`` (the driver's image tag), the node uses that exact image: built here when
        the node's own sources hash to it, else only if the engine already holds it (a tag names
        its content), else the node is refused: other code could give other verdicts.
        """
        info: dict[str, Any] = {"ok": False, "size": self.pool.size, "host": socket.gethostname(), "pid": os.getpid()}
        if self.want is not None and image_tag() != self.want:
            if not image_exists(get_client(), self.want):
                return {**info, "detail": f"this node's sources hash to {image_tag()}, not the driver's "
                                          f"{self.want}, and its engine lacks that image"}
            self.pool._image = self.want
        result = self.pool.run(Job(PROBE_ENTRY, {"probe": True}))
        return {**info, "ok": result.ok and result.value == {"probe": True}, "detail": result.detail or result.status,
                "image": self.pool._image}

    def run(self, job: Job) -> JobResult:
        return self.pool.run(job)

    def stats(self) -> dict[str, Any]:
        return dict(self.pool.stats)

    def close(self) -> list[str]:
        """Stop this node's containers, then remove strays of dead processes on this host
        (the containers of a node that was killed here earlier)."""
        client = self.pool._client
        self.pool.close()
        return reap_strays(client) if client is not None else []


@dataclass
class _Node:
    node_id: str
    handle: Any
    size: int
    host: str
    pid: int
    inflight: int = 0
    dead: bool = False
    info: dict[str, Any] = field(default_factory=dict)


class RayPool:
    """Run sandbox jobs on every Docker node of a Ray cluster (see module docstring)."""

    backend = "ray"

    def __init__(
        self,
        address: str | None = None,
        *,
        size_per_node: int | None = None,
        limits: Limits | None = None,
        container_limits: ContainerLimits | None = None,
        image: str | None = None,
        retries: int = 2,
        max_node_failures: int = 3,
        queue_factor: int = 2,
        check_image: bool = True,
        init_kwargs: dict[str, Any] | None = None,
    ) -> None:
        try:
            import ray  # optional (the `ray` extra): imported only when a Ray pool is made
        except ImportError as e:
            raise ImportError("the Ray sandbox pool needs Ray: pip install 'sppo-gym[ray]'") from e
        self._ray = ray
        self.address = address or os.environ.get("SPPO_GYM_RAY_ADDRESS") or "auto"
        self.limits = limits or Limits()
        self.container_limits = container_limits or ContainerLimits()
        self.size_per_node = size_per_node or int(os.environ.get("SPPO_GYM_POOL_SIZE", 0)) or None
        self.retries = retries
        self.max_node_failures = max_node_failures
        self.queue_factor = max(1, queue_factor)
        self._image = image or os.environ.get("SPPO_GYM_IMAGE") or None
        self._want: str | None = None
        """The image every node must run (the driver's sources' tag), unless one is named."""
        if check_image and self._image is None:
            self._want = image_tag()
        self._started_ray = False
        if not ray.is_initialized():
            kwargs = {"include_dashboard": False, "configure_logging": False, **(init_kwargs or {})}
            if self.address != "local":
                kwargs["address"] = self.address
            ray.init(**kwargs)
            self._started_ray = True
        self._lock = threading.Condition()
        self._nodes: dict[str, _Node] = {}
        self.excluded: dict[str, str] = {}
        """Nodes left out of the fleet, with why (no Docker, other code, died)."""
        self.events: deque[dict[str, Any]] = deque(maxlen=MAX_EVENTS)
        """Recent node failures: time, node, reason, jobs sent elsewhere."""
        self.stats = {"jobs": 0, "node_failures": 0, "rescheduled": 0, "sandbox_errors": 0}
        self._last_refresh = 0.0
        self._closed = False
        self._executor = ThreadPoolExecutor(max_workers=32, thread_name_prefix="raypool")
        if not _POOLS:
            atexit.unregister(_close_all)
            atexit.register(_close_all)
        _POOLS.add(self)
        self.refresh()
        if not self._alive():
            reasons = "; ".join(f"{k[:8]}: {v}" for k, v in self.excluded.items()) or "the cluster has no alive node"
            self.close()
            raise RuntimeError(f"no Ray node can run sandbox jobs ({reasons}); run `sppo-gym sandbox doctor` on each")

    # ---- fleet ------------------------------------------------------------------------------
    @property
    def size(self) -> int:
        """Containers across the alive nodes (verifiers size their batches by it)."""
        return sum(n.size for n in self._alive()) or 1

    def nodes(self) -> list[dict[str, Any]]:
        """The alive nodes of the fleet: id, host, pool size, jobs in flight."""
        return [{"node_id": n.node_id, "host": n.host, "size": n.size, "inflight": n.inflight} for n in self._alive()]

    def _alive(self) -> list[_Node]:
        return [n for n in self._nodes.values() if not n.dead]

    def refresh(self) -> None:
        """Start a pool actor on every alive node not yet in the fleet and probe it."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy  # optional dependency

        ray = self._ray
        self._last_refresh = time.monotonic()
        known = set(self._nodes) | set(self.excluded)
        new = [n["NodeID"] for n in ray.nodes() if n.get("Alive") and n["NodeID"] not in known]
        if not new:
            return
        actor_cls = ray.remote(NodePool)
        handles = {}
        for node_id in new:
            strategy = NodeAffinitySchedulingStrategy(node_id=node_id, soft=False)
            handles[node_id] = actor_cls.options(
                num_cpus=0, max_concurrency=64, max_restarts=0, scheduling_strategy=strategy,
            ).remote(self.size_per_node, self.limits, self.container_limits, self._image, self.retries, self._want)
        probes = {node_id: h.probe.remote() for node_id, h in handles.items()}
        for node_id, ref in probes.items():
            try:
                info = ray.get(ref, timeout=PROBE_TIMEOUT_S)
            except Exception as e:  # no Docker there, actor could not start, node died, timeout
                reason = f"probe failed: {type(e).__name__}: {e}"[:300]
                info = None
            else:
                reason = ""
                if not info["ok"]:
                    reason = f"probe failed: {info['detail']}"[:300]
            if reason:
                log.warning("Ray node %s left out of the sandbox fleet: %s", node_id[:8], reason)
                self.excluded[node_id] = reason
                ray.kill(handles[node_id])
                continue
            with self._lock:
                self._nodes[node_id] = _Node(node_id, handles[node_id], int(info["size"]), info["host"],
                                             int(info["pid"]), info=info)
                self._lock.notify_all()

    def _pick(self) -> _Node | None:
        """The alive node with the lowest load that still has room, or None (caller holds the lock)."""
        best, load = None, None
        for n in self._nodes.values():
            if n.dead or n.inflight >= self.queue_factor * n.size:
                continue
            ratio = n.inflight / n.size
            if load is None or ratio < load:
                best, load = n, ratio
        return best

    def _fail_node(self, node: _Node, reason: str, moved: int) -> None:
        with self._lock:
            first = not node.dead
            node.dead = True
            self._lock.notify_all()
        if first:
            self.stats["node_failures"] += 1
            self.excluded[node.node_id] = f"failed: {reason}"[:300]
            log.warning("Ray node %s (%s) failed: %s; its jobs go to other nodes", node.node_id[:8], node.host, reason)
            try:
                self._ray.kill(node.handle)
            except Exception:
                pass
        self.events.append({"time": time.time(), "node_id": node.node_id, "host": node.host,
                            "reason": reason[:300], "rescheduled": moved})

    # ---- public API ---------------------------------------------------------------------------
    def run(self, job: Job) -> JobResult:
        """Run one job on the least-loaded node; a lost node means another node, not a verdict."""
        return self.run_batch([job])[0]

    async def arun(self, job: Job) -> JobResult:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self.run, job)

    def run_batch(self, jobs: Sequence[Job] | Iterable[Job]) -> list[JobResult]:
        """Run jobs over the fleet; results come back in input order."""
        from ray.exceptions import (  # optional dependency
            GetTimeoutError,
            RayActorError,
            RayError,
            RayTaskError,
        )

        ray = self._ray
        jobs = list(jobs)
        for job in jobs:
            self._check_limits(job)
        if time.monotonic() - self._last_refresh > REFRESH_S:
            self.refresh()
        results: list[JobResult | None] = [None] * len(jobs)
        losses = [0] * len(jobs)
        last_reason = [""] * len(jobs)
        pending = deque(range(len(jobs)))
        inflight: dict[Any, tuple[int, _Node, float]] = {}
        while pending or inflight:
            with self._lock:
                while pending:
                    node = self._pick()
                    if node is None:
                        break
                    i = pending.popleft()
                    ref = node.handle.run.remote(jobs[i])
                    node.inflight += 1
                    inflight[ref] = (i, node, time.monotonic() + self._deadline(jobs[i]))
            if not inflight:  # nothing of ours running: every node is full (other batches) or gone
                if self._closed:
                    raise RuntimeError("the Ray sandbox pool is closed")
                if not self._alive():
                    self.refresh()
                    if not self._alive():
                        for i in pending:
                            why = last_reason[i] or "no node of the cluster can run sandbox jobs"
                            results[i] = JobResult("sandbox_error", detail=f"no Ray node could run the job: {why}"[:500],
                                                   attempts=losses[i] + 1)
                            self.stats["sandbox_errors"] += 1
                        pending.clear()
                        break
                with self._lock:
                    self._lock.wait(timeout=0.5)
                continue
            ready, _ = ray.wait(list(inflight), num_returns=1, timeout=1.0)
            if ready:
                ready, _ = ray.wait(list(inflight), num_returns=len(inflight), timeout=0)
            now = time.monotonic()
            expired = [ref for ref, (_, _, deadline) in inflight.items() if ref not in ready and now > deadline]
            for ref in [*ready, *expired]:
                i, node, _ = inflight.pop(ref)
                with self._lock:
                    node.inflight -= 1
                    self._lock.notify_all()
                try:
                    if ref in expired:
                        raise GetTimeoutError(f"node gave no answer within {self._deadline(jobs[i]):.0f} s")
                    results[i] = ray.get(ref)
                    self.stats["jobs"] += 1
                    continue
                except RayActorError as e:  # the actor or its node died, or cannot be reached
                    reason = _first_line(e)
                except RayTaskError as e:  # the node's pool raised (a bug): raised here as it would be locally
                    raise e.as_instanceof_cause() from None
                except RayError as e:  # lost objects, a dead raylet, no answer in time
                    reason = _first_line(e)
                self._fail_node(node, reason, 1)
                losses[i] += 1
                last_reason[i] = reason
                if losses[i] >= self.max_node_failures:
                    results[i] = JobResult("sandbox_error", attempts=losses[i],
                                           detail=f"lost {losses[i]} Ray nodes under this job; last: {reason}"[:500])
                    self.stats["sandbox_errors"] += 1
                else:
                    self.stats["rescheduled"] += 1
                    pending.appendleft(i)
        return [r for r in results if r is not None]

    def _check_limits(self, job: Job) -> None:
        limits = job.limits or self.limits
        if limits.memory_mb > self.container_limits.memory_mb - 128:
            raise ValueError(
                f"job memory_mb={limits.memory_mb} must leave 128 MiB of the container's "
                f"{self.container_limits.memory_mb} MiB; raise ContainerLimits.memory_mb"
            )

    def _deadline(self, job: Job) -> float:
        """Longest a node may take: its own pool's bounded retries, plus waiting behind a full queue."""
        wall = (job.limits or self.limits).wall_s + GRACE_S
        return (self.retries + 1) * (wall + START_TIMEOUT_S) * (1 + self.queue_factor)

    def node_stats(self) -> dict[str, dict[str, Any]]:
        """Each alive node's local pool counters (containers started, retries, ...)."""
        refs = {n.node_id: n.handle.stats.remote() for n in self._alive()}
        out = {}
        for node_id, ref in refs.items():
            try:
                out[node_id] = self._ray.get(ref, timeout=30)
            except Exception as e:
                out[node_id] = {"error": str(e)[:200]}
        return out

    def warm(self, n: int | None = None) -> None:
        """Nodes start their containers on first use; probing already started one each."""

    def close(self) -> None:
        """Stop every node's containers (and strays of killed nodes on those hosts), end the actors,
        and shut Ray down if this pool started it."""
        if self._closed:
            return
        self._closed = True
        _POOLS.discard(self)
        ray = self._ray
        with self._lock:
            nodes = self._alive()
            self._lock.notify_all()
        try:
            ray.get([n.handle.close.remote() for n in nodes], timeout=120)
        except Exception as e:
            log.warning("could not close every node's sandbox pool: %s", e)
        for n in nodes:
            try:
                ray.kill(n.handle)
            except Exception:
                pass
        self._executor.shutdown(wait=False, cancel_futures=True)
        if self._started_ray and ray.is_initialized():
            ray.shutdown()

    def __enter__(self) -> RayPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_POOLS: set[RayPool] = set()


def _close_all() -> None:
    """Close pools left open at exit. Registered after ``import ray`` (which registers Ray's own
    shutdown), so it runs first, while the node actors can still remove their containers."""
    for pool in list(_POOLS):
        pool.close()


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"[:300]

"""Hardened Docker sandbox: run named entry points on JSON payloads in warm, isolated containers.

Knows nothing about tasks. See ``docs/ARCHITECTURE.md`` and ``SANDBOX.md`` for the guarantees.
"""

from .job import STATUSES, Job, JobResult
from .limits import ContainerLimits, Limits
from .pool import SandboxPool, get_pool, set_pool

__all__ = ["STATUSES", "ContainerLimits", "Job", "JobResult", "Limits", "SandboxPool", "get_pool", "set_pool"]

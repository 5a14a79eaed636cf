"""Hardened Docker sandbox: run named entry points on JSON payloads in warm, isolated containers.

Knows nothing about tasks. See ``docs/ARCHITECTURE.md`` and ``SANDBOX.md`` for the guarantees.
The public names load on first use (PEP 562): processes inside the container import single
submodules (``plaindata``, ``channel``) without the host-side pool and its imports, which keeps
the zygote small and its forks fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .job import STATUSES, Job, JobResult
    from .limits import ContainerLimits, Limits
    from .pool import SandboxPool, get_pool, set_pool
    from .ray_pool import RayPool

_HOME = {"STATUSES": "job", "Job": "job", "JobResult": "job", "ContainerLimits": "limits", "Limits": "limits",
         "SandboxPool": "pool", "get_pool": "pool", "set_pool": "pool", "RayPool": "ray_pool"}
__all__ = ["STATUSES", "ContainerLimits", "Job", "JobResult", "Limits", "RayPool", "SandboxPool", "get_pool",
           "set_pool"]


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
    globals()[name] = value
    return value

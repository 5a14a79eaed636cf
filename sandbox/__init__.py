"""Hardened Docker sandbox: run named entry points on JSON payloads in warm, isolated containers.

Knows nothing about tasks. See ``docs/ARCHITECTURE.md`` and ``docs/THREAT_MODEL.md`` for the
guarantees. The public names load on first use (PEP 562): processes inside the container import
single submodules (``plaindata``, ``channel``) without the host-side pool and its imports, which
keeps the zygote small and its forks fast.

Where each module runs (the image holds the whole package; the host never runs the container side
except through ``transport.LocalTransport``, a debugging aid without isolation):

==================  =========  ==============================================================
module              runs       role
==================  =========  ==============================================================
``pool``            host       the warm pool of job servers (``get_pool``, ``run_batch``)
``ray_pool``        host       the same interface over a Ray cluster, one local pool per node
``transport``       host       one job server: a hardened container (or a local process)
``job``             host       ``Job`` / ``JobResult`` and the job statuses (``STATUSES``)
``limits``          host       per-job and per-container limits (sent to the server as numbers)
``uids``            host       host-wide uid blocks, one per job server
``image``           host       image inputs, tag (hash of the inputs) and offline build
``languages``       host       toolchains an image can hold (build, ``doctor``, transport)
``cli``             host       ``sppo-gym sandbox build | doctor | tag | ...``
``doctor``          host       checks every piece the sandbox needs, prints the fix
``reaper``          host       removes containers left by crashed runs
``protocol``        both       length-prefixed JSON frames, the one wire format
``server``          container  the job server (``python3 -m sppo_gym.sandbox.server``): runs judges
``zygote``          container  payload-free parent that forks function-mode candidates
``candidate_boot``  container  first code of every candidate: read arguments, call the target
``runtime``         container  ``ctx`` of a judge: spawn candidates, talk to them
``procsetup``       container  turn a fresh fork into a sandboxed process (limits, uid, fds)
``seccomp``         container  the extra seccomp filter each judge and candidate installs
``cleanup``         container  remove everything a job left behind
``channel``         container  judge <-> candidate messages (bounded reads from an untrusted peer)
``plaindata``       container  the plain-data codec candidates answer with
``selftest``        container  task-free entry points for the sandbox's own tests and ``doctor``
==================  =========  ==============================================================
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .default import get_pool
    from .job import STATUSES, Job, JobResult
    from .limits import ContainerLimits, Limits
    from .pool import SandboxPool, set_pool
    from .ray_pool import RayPool

_HOME = {"STATUSES": "job", "Job": "job", "JobResult": "job", "ContainerLimits": "limits", "Limits": "limits",
         "SandboxPool": "pool", "get_pool": "default", "set_pool": "pool", "RayPool": "ray_pool"}
__all__ = ["STATUSES", "ContainerLimits", "Job", "JobResult", "Limits", "RayPool", "SandboxPool", "get_pool",
           "set_pool"]


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
    globals()[name] = value
    return value

"""The process-wide pool the verifiers use: the local Docker pool, or a Ray fleet.

``sppo_gym.sandbox.get_pool`` is this module's :func:`get_pool`. It lives apart from ``pool`` so
that the local pool knows nothing of Ray (``ray_pool`` builds on ``pool``, not the reverse).
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

from . import pool as _pool

if TYPE_CHECKING:
    from .pool import SandboxPool
    from .ray_pool import RayPool

_LOCK = threading.Lock()


def get_pool() -> SandboxPool | RayPool:
    """The process-wide pool, created on first use.

    With ``SPPO_GYM_RAY_ADDRESS`` set (``auto`` joins a running Ray cluster, ``local`` starts a
    one-node Ray here, or a cluster address) it is a :class:`~sppo_gym.sandbox.ray_pool.RayPool`
    over every Docker node of the cluster; otherwise the local Docker pool, configured by
    ``SPPO_GYM_SANDBOX``, ``SPPO_GYM_POOL_SIZE`` and ``SPPO_GYM_IMAGE`` (see ``pool.get_pool``).
    ``set_pool`` replaces either.
    """
    if os.environ.get("SPPO_GYM_RAY_ADDRESS"):
        with _LOCK:
            current = _pool._DEFAULT
            if current is None or current._closed:
                from .ray_pool import RayPool  # lazy: it loads the image module and the Docker SDK

                _pool.set_pool(RayPool(), close_old=False)  # type: ignore[arg-type]  # same interface
    return _pool.get_pool()

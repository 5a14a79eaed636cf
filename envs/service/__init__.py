"""sppo-gym as a verification service: ``sppo-gym serve``, its client, and trainer reward functions.

* ``app`` — the FastAPI application (``create_app``, ``ServiceConfig``): batches in, verdicts out.
* ``client`` — ``ServiceClient``, ``RemoteVerifier`` and ``remote_env`` (an env verified remotely).
* ``rewards`` — reward functions for TRL, verl and OpenRLHF that call the service.

Needs ``pip install 'sppo-gym[serve]'``. How to run several instances or a Ray fleet behind it:
``docs/FLEET.md``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import ServiceConfig, create_app
    from .client import RemoteVerifier, ServiceClient, ServiceRequestError, remote_env
    from .rewards import RemoteEnvReward, compute_score, compute_score_batch, openrlhf_reward_func

_HOME = {"ServiceConfig": "app", "create_app": "app", "RemoteVerifier": "client", "ServiceClient": "client",
         "ServiceRequestError": "client", "remote_env": "client", "RemoteEnvReward": "rewards",
         "compute_score": "rewards", "compute_score_batch": "rewards", "openrlhf_reward_func": "rewards"}
__all__ = ["RemoteEnvReward", "RemoteVerifier", "ServiceClient", "ServiceConfig", "ServiceRequestError",
           "compute_score", "compute_score_batch", "create_app", "openrlhf_reward_func", "remote_env"]


def __getattr__(name: str) -> Any:
    """Lazy: the client side needs no FastAPI, the server side no trainer."""
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
    globals()[name] = value
    return value

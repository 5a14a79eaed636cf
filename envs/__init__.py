"""Single-step Gymnasium environments with verifiable rewards.

``import sppo_gym.envs`` registers every built-in id under the ``sppo_gym`` namespace (string
entry points: nothing heavy is imported until an env is made). ``gymnasium.make(
"sppo_gym.envs:sppo_gym/Arithmetic-v0")`` works without a prior import.
"""

from __future__ import annotations

from typing import Any

from .registry import BUILTIN_ENVS, builtin_ids, register_builtin

register_builtin()

__all__ = ["BUILTIN_ENVS", "SANDBOX_ERROR", "SingleStepEnv", "SingleStepVectorEnv", "builtin_ids", "register_task"]


def __getattr__(name: str) -> Any:
    """Lazy access to the heavier parts, so importing the package stays cheap.

    Kept lazy on purpose (measured, ``python -X importtime``): ``import sppo_gym.envs`` ~0.10 s,
    with ``tasks``/``base``/``vector`` (verifiers, sandbox client) ~0.15 s; ``gymnasium.make`` with
    the string entry points imports an env's module only when it is made (tests/test_envs_builtin.py
    checks that importing the package loads no verifier).
    """
    if name == "SANDBOX_ERROR":  # the verdict string lives with the verdicts (sppo_gym.verifiers.score)
        from sppo_gym.verifiers.score import SANDBOX_ERROR

        return SANDBOX_ERROR
    if name == "register_task":
        from .tasks import register_task

        return register_task
    if name == "SingleStepEnv":
        from .base import SingleStepEnv

        return SingleStepEnv
    if name == "SingleStepVectorEnv":
        from .vector import SingleStepVectorEnv

        return SingleStepVectorEnv
    raise AttributeError(f"module 'sppo_gym.envs' has no attribute {name!r}")

"""The built-in environment ids, registered with string entry points (no heavy imports here).

Every id also gets a ``vector_entry_point`` (``sppo_gym.envs.vector:<Name>VectorEnv``), so
``gymnasium.make_vec(id, num_envs=N)`` returns the suite's batched env by default.
Specs are marked ``nondeterministic``: verification runs under wall-clock limits and ``info``
carries timings, so a step is not bit-reproducible (seeded resets and the rewards of a given
response are; the tests check both).
"""

from __future__ import annotations

from typing import NamedTuple

import gymnasium as gym

NAMESPACE = "sppo_gym"


class BuiltinEnv(NamedTuple):
    name: str
    entry_point: str
    description: str

    @property
    def id(self) -> str:
        return f"{NAMESPACE}/{self.name}"

    @property
    def vector_entry_point(self) -> str:
        return f"sppo_gym.envs.vector:{vector_class_name(self.entry_point)}"


def vector_class_name(entry_point: str) -> str:
    """``pkg.mod:ArithmeticEnv`` -> ``ArithmeticVectorEnv``."""
    cls = entry_point.rpartition(":")[2]
    return cls.removesuffix("Env") + "VectorEnv"


BUILTIN_ENVS: tuple[BuiltinEnv, ...] = (
    BuiltinEnv("Arithmetic-v0", "sppo_gym.envs.arithmetic:ArithmeticEnv",
               "procedural arithmetic problems, seeded, with difficulty levels (exact answer)"),
    BuiltinEnv("MathAnswer-v0", "sppo_gym.envs.math_answer:MathAnswerEnv",
               "math word problems from JSONL with a final answer (\\boxed{}, GSM8K ####), symbolic check"),
    BuiltinEnv("PythonTests-v0", "sppo_gym.envs.python_tests:PythonTestsEnv",
               "write a Python function; judged by HumanEval/MBPP-style tests in the sandbox"),
    BuiltinEnv("HumanEval-v0", "sppo_gym.envs.python_tests:HumanEvalEnv",
               "the 164 HumanEval problems, judged by their tests in the sandbox"),
    BuiltinEnv("StdioCode-v0", "sppo_gym.envs.stdio_code:StdioCodeEnv",
               "write a whole program; judged on stdin/stdout test cases in the sandbox"),
    BuiltinEnv("CoqProof-v0", "sppo_gym.envs.coq_proof:CoqProofEnv",
               "prove a Coq theorem; checked by coqc in the sandbox (statement and axioms checked)"),
    BuiltinEnv("ReasoningGym-v0", "sppo_gym.envs.reasoning_gym_env:ReasoningGymEnv",
               "any reasoning-gym task (task=..., plus its config), scored by the task's own scorer"),
)


def register_builtin() -> None:
    """Register every built-in id (idempotent: re-importing does not re-register)."""
    for env in BUILTIN_ENVS:
        if env.id in gym.registry:
            continue
        gym.register(
            id=env.id,
            entry_point=env.entry_point,
            vector_entry_point=env.vector_entry_point,
            nondeterministic=True,
        )


def builtin_ids() -> list[str]:
    return [env.id for env in BUILTIN_ENVS]

"""A small Gymnasium env for the resume tests: the training process can be made to crash at a
known step, between two checkpoints.

``trainer_test/CrashDigits-v0`` is a single-step text env under the stock ``SyncVectorEnv``: the
prompt asks for digits, the reward is the share of digit characters in the response (learnable
by the tiny random model, and it depends on every weight, so a resume that restores anything
wrongly shows in the metrics). With ``CRASH_VAR=raise:K`` in the environment the K-th training
step (split ``train``) raises :class:`InjectedCrash` while it scores the batch; with ``kill:K``
the process sends itself SIGKILL there, as an out-of-memory kill or a pre-empted machine would.
Importable as ``--env trainer_crash_env:trainer_test/CrashDigits-v0`` from a subprocess.
"""

from __future__ import annotations

import os
import signal

from indexed_text_env import IndexedTextEnv, register

ENV_ID = "trainer_test/CrashDigits-v0"
CRASH_VAR = "SPPO_GYM_TEST_CRASH"


class InjectedCrash(RuntimeError):
    """The failure the resume tests inject."""


class CrashDigitsEnv(IndexedTextEnv):
    """Reward: share of digit characters; slot 0 of the training vector env counts the steps."""

    n_problems = 1000

    def __init__(self, slot: int = 0, split: str = "train"):
        super().__init__(slot, split)
        self.steps = 0

    def prompt(self, index: int) -> str:
        return f"Write digits like {index}"

    def step(self, action: str) -> tuple[str, float, bool, bool, dict]:
        if self.split == "train" and self.slot == 0:
            self.steps += 1
            self._maybe_crash()
        reward = sum(c.isdigit() for c in action) / max(1, len(action))
        verdict = "correct" if reward == 1.0 else "wrong" if reward == 0.0 else "partial"
        return "", reward, True, False, {"verdict": verdict, "index": self.index}

    def _maybe_crash(self) -> None:
        how, _, at = os.environ.get(CRASH_VAR, "").partition(":")
        if not at or int(at) != self.steps:
            return
        if how == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        raise InjectedCrash(f"injected crash at training step {self.steps}")


register(ENV_ID, CrashDigitsEnv)

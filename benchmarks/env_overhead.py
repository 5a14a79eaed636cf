"""Per-step overhead of the env layer itself (problem selection, prompt, info, batching), no verification.

Verification is replaced by a verifier that returns a ready Score, so what is timed is exactly what
the env layer adds around a verifier: ``reset`` (draw or look up a problem, build the prompt, info)
plus ``step`` (checks, info). One "step" below = one reset + one step (a whole single-step episode).

Baselines measured in the same run: a bare ``gymnasium.Env`` that only returns a stored prompt and a
constant reward (the floor of any Gymnasium env), and Gymnasium's ``SyncVectorEnv`` over our single
envs (the alternative to our vector env).

    python benchmarks/env_overhead.py [--episodes 20000] [--num-envs 64] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable, Sequence

import gymnasium as gym
import numpy as np
from sppo_gym.envs.base import SingleStepEnv, UnicodeText
from sppo_gym.envs.vector import SingleStepVectorEnv
from sppo_gym.verifiers import Score, Verifier

ROWS = [{"task_id": f"HumanEval/{i}", "prompt": f"def f{i}(x):\n    \"\"\"Return x plus {i}.\"\"\"\n",
         "entry_point": f"f{i}", "test": f"assert f{i}(1) == {i + 1}", "answer": str(i)} for i in range(164)]


class ConstantVerifier(Verifier):
    """Returns a ready Score: stands in for the sandbox so only the env layer is timed."""

    name = "constant"

    def payload(self, response: str, problem: dict) -> dict:
        return {}

    def verify_batch(self, items: Sequence[tuple[str, dict]]) -> list[Score]:
        return [Score(1.0, "correct", passed=True) for _ in items]


def procedural(rng: np.random.Generator) -> dict:
    a = int(rng.integers(100))
    return {"prompt": f"What is {a} + {a}?", "answer": str(a + a)}


def time_generator(episodes: int) -> float:
    """The procedural generator's own cost (user code, not env layer), timed alone."""
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    for _ in range(episodes):
        procedural(rng)
    return (time.perf_counter() - t0) / episodes


class BareEnv(gym.Env):
    """The floor: a Gymnasium env that does nothing but hand out a prompt and a constant reward."""

    def __init__(self) -> None:
        self.observation_space = UnicodeText(1 << 18, min_length=1)
        self.action_space = UnicodeText(1 << 16)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return ROWS[int(self.np_random.integers(len(ROWS)))]["prompt"], {}

    def step(self, action):
        return "p", 1.0, True, False, {}


def single_env(problems) -> SingleStepEnv:
    return SingleStepEnv(problems, verifier=ConstantVerifier(), prompt="{prompt}")


def time_single(env: gym.Env, episodes: int) -> float:
    env.reset(seed=0)
    env.step("x")
    t0 = time.perf_counter()
    for _ in range(episodes):
        env.reset()
        env.step("def f(x): return x")
    return (time.perf_counter() - t0) / episodes


def time_vector(envs, episodes: int, options_fn: Callable[[], dict | None]) -> float:
    n = envs.num_envs
    actions = ["def f(x): return x"] * n
    envs.reset(seed=0)
    envs.step(actions)
    rounds = max(1, episodes // n)
    t0 = time.perf_counter()
    for _ in range(rounds):
        envs.reset(options=options_fn())
        envs.step(actions)
    return (time.perf_counter() - t0) / (rounds * n)


def run(episodes: int, num_envs: int) -> dict[str, float]:
    idx = np.arange(num_envs) % len(ROWS)
    sync = gym.vector.SyncVectorEnv([lambda: single_env(ROWS)] * num_envs)
    ours = SingleStepVectorEnv(num_envs, env_fn=lambda: single_env(ROWS))
    wrapped = gym.wrappers.PassiveEnvChecker(gym.wrappers.OrderEnforcing(single_env(ROWS)))
    return {
        "bare gymnasium env (baseline)": time_single(BareEnv(), episodes),
        "single env, 164-row list": time_single(single_env(ROWS), episodes),
        "single env, list, with gym.make wrappers": time_single(wrapped, episodes),
        "single env, procedural source": time_single(single_env(procedural), episodes),
        "  (of which the generator's own code)": time_generator(episodes),
        f"our vector env, N={num_envs}, random draws": time_vector(ours, episodes, lambda: None),
        f"our vector env, N={num_envs}, options index": time_vector(ours, episodes, lambda: {"index": idx}),
        f"SyncVectorEnv, N={num_envs} (baseline)": time_vector(sync, episodes, lambda: None),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=20000)
    ap.add_argument("--num-envs", type=int, default=64)
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()
    results = run(args.episodes, args.num_envs)
    bare = results["bare gymnasium env (baseline)"]
    sync = results[f"SyncVectorEnv, N={args.num_envs} (baseline)"]
    print(f"{'configuration':<48} {'us/step':>9} {'x bare':>8}")
    for name, sec in results.items():
        print(f"{name:<48} {sec * 1e6:>9.1f} {sec / bare:>8.1f}")
    ours = results[f"our vector env, N={args.num_envs}, options index"]
    print(f"\nour vector env vs SyncVectorEnv (per sub-env step): {sync / ours:.1f}x faster")
    print(f"python {platform.python_version()}, gymnasium {gym.__version__}, numpy {np.__version__}, "
          f"{platform.processor() or platform.machine()}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({k: v * 1e6 for k, v in results.items()}, f, indent=2)


if __name__ == "__main__":
    main()

"""Ready-made reward functions that call the verification service, for TRL, verl and OpenRLHF.

Each reads the service address and token from ``SPPO_GYM_SERVICE_URL`` / ``SPPO_GYM_SERVICE_TOKEN``
unless given, so no secret has to sit in a trainer's config file.

TRL (``GRPOTrainer``; the dataset comes from ``sppo_gym.envs.trl_adapter.trl_dataset``)::

    from sppo_gym.envs.trl_adapter import trl_dataset
    from sppo_gym.envs.service.rewards import RemoteEnvReward
    dataset = trl_dataset("sppo_gym/HumanEval-v0")
    trainer = GRPOTrainer(model=..., train_dataset=dataset, reward_funcs=RemoteEnvReward("sppo_gym/HumanEval-v0"))

A ``sandbox_error`` verdict becomes ``None`` (TRL leaves the completion out rather than scoring 0).

verl (``custom_reward_function.path=pkg://sppo_gym.envs.service.rewards``)::

    custom_reward_function.name=compute_score          # NaiveRewardManager: one call per response
    # or, one request per batch:
    reward_model.reward_manager=batch custom_reward_function.name=compute_score_batch

``data_source`` picks the judge: a registered env id (``sppo_gym/MathAnswer-v0``; the problem is
``extra_info["task_id"]`` / ``extra_info["index"]``, else ``ground_truth`` as its reference answer)
or a built-in verifier name (``math``, ``exact``, ...; ``ground_truth`` is the reference answer, or a
problem dict). Anything else falls back to ``SPPO_GYM_VERL_VERIFIER`` (default ``math``). The score
is a dict: ``score`` plus ``verdict``/``passed`` that verl logs; a ``sandbox_error`` scores 0 there
(verl has no "no reward"), and its ``sandbox_error`` field is 1 so it can be filtered.

OpenRLHF: point ``--reward.remote_url`` at the service itself
(``http://HOST:8008/v1/openrlhf?env=sppo_gym/MathAnswer-v0`` with task ids as labels, or
``?verifier=math`` with reference answers as labels; OpenRLHF sends no token, so run it on
loopback or a private network), or at a two-line Python file when a token is needed::

    # reward.py, then --reward.remote_url reward.py
    from sppo_gym.envs.service.rewards import openrlhf_reward_func as reward_func
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
from sppo_gym.verifiers import BUILTIN, SANDBOX_ERROR

from ..trl_adapter import _completion_text
from .client import ServiceClient

_CLIENTS: dict[tuple[str | None, str | None], ServiceClient] = {}
_LOCK = threading.Lock()


def _client(url: str | None = None, token: str | None = None) -> ServiceClient:
    """One client (connection pool) per address, shared by the calls of a process."""
    with _LOCK:
        key = (url, token)
        if key not in _CLIENTS:
            _CLIENTS[key] = ServiceClient(url, token)
        return _CLIENTS[key]


class RemoteEnvReward:
    """A TRL reward function: ``reward(prompts, completions, task_id, **kw) -> list[float | None]``.

    The service rebuilds each problem from its ``task_id`` (``trl_dataset`` writes that column) and
    scores the completion with the env's verifier.
    """

    def __init__(self, env_id: str, *, url: str | None = None, token: str | None = None, split: str = "train",
                 **env_kwargs: Any) -> None:
        self.env_id = env_id
        self.env_kwargs = {**env_kwargs, "split": split}
        self.client = _client(url, token)
        self.__name__ = "sppo_gym_remote:" + env_id  # TRL logs each reward function under its __name__
        self.sandbox_errors = 0

    def __call__(self, prompts: Sequence[Any] | None = None, completions: Sequence[Any] = (),
                 task_id: Sequence[str] = (), **kwargs: Any) -> list[float | None]:
        if len(task_id) != len(completions):
            raise ValueError("the dataset must carry the task_id column (build it with trl_dataset)")
        items = [{"task_id": t, "response": _completion_text(c)} for t, c in zip(task_id, completions, strict=True)]
        results = self.client.verify(items, env=self.env_id, env_kwargs=self.env_kwargs)
        self.sandbox_errors += sum(r["verdict"] == SANDBOX_ERROR for r in results)
        return [None if r["verdict"] == SANDBOX_ERROR else float(r["reward"]) for r in results]


# ---- verl ------------------------------------------------------------------------------------------
def _verl_request(data_source: str, solution: str, ground_truth: Any, extra_info: dict | None) -> tuple[dict, dict]:
    """(target, item) for one verl sample; see the module docstring for how the judge is chosen."""
    extra = extra_info or {}
    if isinstance(data_source, str) and data_source in gym.registry:
        target = {"env": data_source, "env_kwargs": dict(extra.get("env_kwargs") or {})}
        if extra.get("task_id") is not None:
            return target, {"task_id": str(extra["task_id"]), "response": solution}
        if extra.get("index") is not None:
            return target, {"index": int(extra["index"]), "response": solution}
    else:
        name = data_source if data_source in BUILTIN else os.environ.get("SPPO_GYM_VERL_VERIFIER", "math")
        target = {"verifier": name, "verifier_options": {}}
    problem = dict(ground_truth) if isinstance(ground_truth, dict) else {"answer": ground_truth}
    return target, {"problem": problem, "response": solution}


def _verl_score(result: dict[str, Any]) -> dict[str, Any]:
    return {"score": float(result["reward"]), "verdict": result["verdict"], "passed": bool(result["passed"]),
            "sandbox_error": int(result["verdict"] == SANDBOX_ERROR)}


def compute_score(data_source: str, solution_str: str, ground_truth: Any, extra_info: dict | None = None,
                  url: str | None = None, token: str | None = None, **kwargs: Any) -> dict[str, Any]:
    """verl's ``compute_score(data_source, solution_str, ground_truth, extra_info)`` over the service."""
    return compute_score_batch([data_source], [solution_str], [ground_truth], [extra_info], url=url, token=token)[0]


def compute_score_batch(data_sources: Sequence[str], solution_strs: Sequence[str], ground_truths: Sequence[Any],
                        extra_infos: Sequence[dict | None] | None = None, url: str | None = None,
                        token: str | None = None, **kwargs: Any) -> list[dict[str, Any]]:
    """verl's batch reward manager signature: one request per judge for the whole batch, order kept."""
    extra_infos = extra_infos if extra_infos is not None else [None] * len(solution_strs)
    groups: dict[str, tuple[dict, list[int], list[dict]]] = {}
    for n, sample in enumerate(zip(data_sources, solution_strs, ground_truths, extra_infos, strict=True)):
        target, item = _verl_request(*sample)
        key = repr(sorted(target.items()))
        groups.setdefault(key, (target, [], []))
        groups[key][1].append(n)
        groups[key][2].append(item)
    out: list[dict[str, Any] | None] = [None] * len(solution_strs)
    client = _client(url, token)
    for target, positions, items in groups.values():
        for n, result in zip(positions, client.verify(items, **target), strict=True):
            out[n] = _verl_score(result)
    return [r for r in out if r is not None]


# ---- OpenRLHF -------------------------------------------------------------------------------------
def openrlhf_reward_func(queries: Sequence[str], prompts: Sequence[str], labels: Sequence[Any],
                         **kwargs: Any) -> dict[str, Any]:
    """OpenRLHF's ``reward_func(queries, prompts, labels)`` (the ``--reward.remote_url file.py`` form).

    The judge comes from ``SPPO_GYM_OPENRLHF_ENV`` (labels are task ids) or ``SPPO_GYM_OPENRLHF_VERIFIER``
    (labels are reference answers or problem JSON; default ``math``). Returns plain lists.
    """
    env = os.environ.get("SPPO_GYM_OPENRLHF_ENV")
    query = f"env={env}" if env else f"verifier={os.environ.get('SPPO_GYM_OPENRLHF_VERIFIER', 'math')}"
    body = {"query": list(queries), "prompts": list(prompts), "labels": list(labels)}
    return _client().post(f"/v1/openrlhf?{query}", body)

"""Client of the verification service, and a remote verifier backend for sppo-gym envs.

``ServiceClient(url, token)`` posts batches to ``/v1/verify``: requests larger than the service's
item limit are split, 429/503 answers are retried after their ``Retry-After`` (bounded), and
every other 4xx raises :class:`ServiceRequestError` with the service's message.

``remote_env(env_id, url=..., **env_kwargs)`` is ``gymnasium.make`` (or ``make_vec`` with
``num_envs``) whose verification happens in the service: prompts, seeding and info stay local,
each step's (response, problem) pairs go to the service and its scores come back. URL and token
default to ``SPPO_GYM_SERVICE_URL`` and ``SPPO_GYM_SERVICE_TOKEN``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import httpx
from sppo_gym.verifiers import VERDICTS, Score

DEFAULT_URL = "http://127.0.0.1:8008"


class ServiceRequestError(RuntimeError):
    """The service refused a request (4xx) or stayed unreachable; ``status`` is 0 for the latter."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"verification service: {status or 'unreachable'}: {message}")
        self.status = status
        self.message = message


def _plain(value: Any) -> Any:
    """JSON for what problem dicts may hold besides JSON (NumPy scalars, tuples, sets)."""
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


class ServiceClient:
    """Talk to one service (or a load balancer in front of several)."""

    def __init__(self, url: str | None = None, token: str | None = None, *, timeout_s: float = 900.0,
                 retries: int = 8, max_items: int = 1024) -> None:
        self.url = (url or os.environ.get("SPPO_GYM_SERVICE_URL") or DEFAULT_URL).rstrip("/")
        token = token if token is not None else os.environ.get("SPPO_GYM_SERVICE_TOKEN")
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.retries = retries
        self.max_items = max_items
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout_s)

    def verify(self, items: Sequence[dict[str, Any]], *, env: str | None = None, env_kwargs: dict | None = None,
               verifier: str | None = None, verifier_options: dict | None = None) -> list[dict[str, Any]]:
        """Results (``reward``, ``verdict``, ``passed``, ``detail``, ...) for ``items`` in order."""
        out: list[dict[str, Any]] = []
        for start in range(0, len(items), self.max_items):
            body: dict[str, Any] = {"items": list(items[start : start + self.max_items])}
            if env is not None:
                body.update(env=env, env_kwargs=env_kwargs or {})
            else:
                body.update(verifier=verifier, verifier_options=verifier_options or {})
            out += self.post("/v1/verify", body)["results"]
        return out

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST JSON; retry on 429/503 and connection failures, raise on other errors."""
        content = json.dumps(body, default=_plain)
        last = ""
        for attempt in range(self.retries + 1):
            try:
                response = self._http.post(path, content=content)
            except httpx.TransportError as e:
                last = f"{type(e).__name__}: {e}"
                time.sleep(min(2.0**attempt * 0.1, 10.0))
                continue
            if response.status_code in (429, 503):
                last = _error_text(response)
                time.sleep(min(float(response.headers.get("Retry-After", 1) or 1), 30.0))
                continue
            if response.status_code >= 400:
                raise ServiceRequestError(response.status_code, _error_text(response))
            return response.json()
        raise ServiceRequestError(0, f"gave up after {self.retries + 1} attempts: {last}")

    def health(self) -> dict[str, Any]:
        response = self._http.get("/healthz")
        response.raise_for_status()
        return response.json()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _error_text(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", response.text))[:500]
    except ValueError:
        return response.text[:500]


class RemoteVerifier:
    """A verifier whose judging happens in the service: same ``verify``/``verify_batch`` as a local one.

    Sends each pair as ``{"problem", "response"}`` for ``env`` (configured by ``env_kwargs``, as the
    env's own verifier would be) or for a built-in ``verifier``.
    """

    version = "1"

    def __init__(self, client: ServiceClient | None = None, *, env: str | None = None,
                 env_kwargs: dict[str, Any] | None = None, verifier: str | None = None,
                 verifier_options: dict[str, Any] | None = None) -> None:
        if (env is None) == (verifier is None):
            raise ValueError("RemoteVerifier needs exactly one of env= or verifier=")
        self.client = client or ServiceClient()
        self.target = {"env": env, "env_kwargs": env_kwargs or {}} if env else \
            {"verifier": verifier, "verifier_options": verifier_options or {}}
        self.name = f"remote:{env or verifier}"
        self.limits = None

    def verify(self, response: str, problem: dict) -> Any:
        return self.verify_batch([(response, problem)])[0]

    def verify_batch(self, items: Sequence[tuple[str, dict]]) -> list[Any]:
        for response, _ in items:
            if not isinstance(response, str):
                raise TypeError(f"response must be str, got {type(response).__name__}")
        results = self.client.verify([{"response": r, "problem": p} for r, p in items], **self.target)
        scores = []
        for r in results:
            if r["verdict"] not in VERDICTS:  # a newer service: keep the run going, say why
                scores.append(Score(0.0, "judge_error", detail=f"the service's verdict {r['verdict']!r} is unknown "
                                                               "to this sppo-gym version"))
                continue
            scores.append(Score(float(r["reward"]), r["verdict"], passed=bool(r["passed"]), detail=r.get("detail", ""),
                                elapsed=float(r.get("elapsed", 0.0))))
        return scores


def remote_env(env_id: str, *, url: str | None = None, token: str | None = None, num_envs: int | None = None,
               client: ServiceClient | None = None, **env_kwargs: Any) -> Any:
    """``gymnasium.make(env_id, **env_kwargs)`` (``make_vec`` with ``num_envs``) verified by the service."""
    verifier = RemoteVerifier(client or ServiceClient(url, token), env=env_id, env_kwargs=env_kwargs)
    if num_envs is None:
        env = gym.make(env_id, **env_kwargs)
        env.unwrapped.verifier = verifier
    else:
        env = gym.make_vec(env_id, num_envs=num_envs, **env_kwargs)
        single = getattr(env.unwrapped, "env", None)
        if single is None or not hasattr(single, "verifier"):
            raise TypeError(f"{env_id}: the vector env is not the suite's own (vectorization_mode must be the default)")
        single.verifier = verifier
    return env

"""The HTTP verification service behind ``sppo-gym serve``: batches of responses in, verdicts out.

``POST /v1/verify`` takes ``{"env": ID, "env_kwargs": {...}, "items": [{"index": i | "task_id":
"..." | "problem": {...}, "response": "..."}]}`` and answers ``{"results": [{"reward", "verdict",
"passed", "detail", ...}]}`` in item order. Instead of ``env``, ``{"verifier": NAME,
"verifier_options": {...}}`` names a built-in verifier; its items carry the ``problem`` dict.
``POST /v1/openrlhf`` speaks OpenRLHF's remote reward format. ``GET /healthz`` (no token),
``GET /metrics`` (Prometheus text), ``/docs`` and ``/openapi.json`` describe the rest. Items that
carry their ``problem`` are judged by the env's verifier as configured by ``env_kwargs`` (its
``data`` is then not read: this is how :class:`~sppo_gym.envs.service.client.RemoteVerifier` works).

What the service promises:
* It runs no model text anywhere but the sandbox: responses go to the env's own verifier, which
  judges them in sandbox jobs (the pool of this process: local Docker, or a Ray fleet with
  ``SPPO_GYM_RAY_ADDRESS``). Envs come only from Gymnasium's registry of sppo-gym envs (an id
  never imports a module), and ``env_kwargs["data"]`` may only name files under ``--data-dir``.
* Every malformed request gets a 4xx with ``{"error": ...}`` and leaves the service as it was:
  401 (token missing or wrong), 404 (unknown env or verifier), 413 (body over the limit), 422
  (wrong types, too many items, bad kwargs, bad index), 429 (this client's rate), 503 (queue full).
* Bounded work: at most ``max_concurrent`` batches verify at once and ``max_queued`` wait; more
  are refused with 503 and ``Retry-After`` at once rather than queued without bound.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, model_validator
from sppo_gym.sandbox import Limits, set_pool
from sppo_gym.sandbox import pool as pool_module
from sppo_gym.verifiers import BUILTIN, SANDBOX_ERROR, get_verifier
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..base import SingleStepEnv, package_version

LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True)
class ServiceConfig:
    """Limits and access of one service instance (all have safe defaults)."""

    token: str | None = None
    """Bearer token every ``/v1`` and ``/metrics`` request must carry; required off loopback."""
    max_body_bytes: int = 8 * 2**20
    max_items: int = 1024
    """Items per request."""
    max_concurrent: int = 4
    """Batches verifying at once (each spreads its items over the whole sandbox pool)."""
    max_queued: int = 32
    """Batches waiting for a slot; beyond this a request gets 503 at once."""
    rate_per_s: float = 50.0
    """Requests per second per client address (token bucket); beyond it 429."""
    burst: int = 100
    max_envs: int = 32
    """Env instances (id + kwargs) kept ready."""
    data_dirs: tuple[str, ...] = ()
    """Folders ``env_kwargs["data"]`` may point into; none: no ``data`` argument is accepted."""


# ---- request and response models ----------------------------------------------------------------
class Item(BaseModel):
    """One response to verify, with exactly one way to name its problem."""

    model_config = ConfigDict(extra="forbid")
    response: StrictStr
    index: StrictInt | None = Field(default=None, ge=0, description="problem index in the env's dataset")
    task_id: StrictStr | None = Field(default=None, description="problem id (info['task_id'])")
    problem: dict[str, Any] | None = Field(default=None, description="the problem dict itself")

    @model_validator(mode="after")
    def _one_problem(self) -> Item:
        given = [k for k in ("index", "task_id", "problem") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"each item names its problem by exactly one of index, task_id, problem (got {given or 'none'})")
        return self


class VerifyRequest(BaseModel):
    """A batch for one env (or one built-in verifier)."""

    model_config = ConfigDict(extra="forbid")
    env: StrictStr | None = Field(default=None, description="a registered id, e.g. sppo_gym/MathAnswer-v0")
    env_kwargs: dict[str, Any] = Field(default_factory=dict)
    verifier: StrictStr | None = Field(default=None, description="a built-in verifier name instead of env")
    verifier_options: dict[str, Any] = Field(default_factory=dict)
    items: list[Item]

    @model_validator(mode="after")
    def _one_target(self) -> VerifyRequest:
        if (self.env is None) == (self.verifier is None):
            raise ValueError("name exactly one of env or verifier")
        if self.verifier is not None and any(it.problem is None for it in self.items):
            raise ValueError("with a verifier every item carries its problem dict")
        if self.env is None and self.env_kwargs:
            raise ValueError("env_kwargs go with env")
        return self


class Result(BaseModel):
    reward: float
    verdict: str
    passed: bool
    detail: str
    elapsed: float = 0.0
    task_id: str | None = None


class VerifyResponse(BaseModel):
    results: list[Result]


class OpenRLHFRequest(BaseModel):
    """OpenRLHF's remote reward request: decoded prompt+response, prompts and labels."""

    model_config = ConfigDict(extra="allow")
    query: list[StrictStr]
    prompts: list[StrictStr] | None = None
    labels: list[Any] | None = None


class ServiceError(Exception):
    """A client mistake with its HTTP status; rendered as ``{"error": message}``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


# ---- the machinery ----------------------------------------------------------------------------------
class _Buckets:
    """Token bucket per client; the table stays bounded (idle clients are forgotten)."""

    def __init__(self, rate: float, burst: int, max_clients: int = 10_000) -> None:
        self.rate, self.burst, self.max_clients = rate, burst, max_clients
        self._state: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str) -> float:
        """0 when allowed, else the seconds until a token is back."""
        now = time.monotonic()
        tokens, last = self._state.pop(key, (float(self.burst), now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.rate
        self._state[key] = (tokens, now)
        while len(self._state) > self.max_clients:
            self._state.popitem(last=False)
        return wait


class _Metrics:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: dict[tuple[str, int], int] = {}
        self.verdicts: dict[str, int] = {}
        self.items = 0
        self.batch_seconds = 0.0
        self.batches = 0

    def request(self, path: str, status: int) -> None:
        with self.lock:
            self.requests[(path, status)] = self.requests.get((path, status), 0) + 1

    def batch(self, results: list[Result], seconds: float) -> None:
        with self.lock:
            self.batches += 1
            self.items += len(results)
            self.batch_seconds += seconds
            for r in results:
                self.verdicts[r.verdict] = self.verdicts.get(r.verdict, 0) + 1


class Verification:
    """Env cache and the synchronous verify call (runs in the service's worker threads)."""

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self._envs: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._making: dict[str, threading.Lock] = {}

    def env(self, env_id: str, kwargs: dict[str, Any]) -> Any:
        """The unwrapped single-step env for ``env_id`` + ``kwargs`` (made once, kept LRU)."""
        if env_id not in gym.registry:  # never gym.make("module:id"): that would import a module
            raise ServiceError(404, f"unknown env {env_id!r}; `sppo-gym envs` lists the registered ids")
        self._check_data(kwargs)
        key = json.dumps([env_id, kwargs], sort_keys=True)
        with self._lock:
            if key in self._envs:
                self._envs.move_to_end(key)
                return self._envs[key]
            making = self._making.setdefault(key, threading.Lock())
        with making:
            with self._lock:
                if key in self._envs:
                    return self._envs[key]
            try:
                env = gym.make(env_id, disable_env_checker=True, **kwargs).unwrapped
            except (TypeError, ValueError, KeyError, FileNotFoundError, gym.error.Error) as e:
                raise ServiceError(422, f"cannot make {env_id} with these env_kwargs: {e}"[:500]) from None
            if not isinstance(env, SingleStepEnv):
                raise ServiceError(422, f"{env_id} is not a sppo-gym single-step env")
            with self._lock:
                self._envs[key] = env
                self._making.pop(key, None)
                while len(self._envs) > self.config.max_envs:
                    self._envs.popitem(last=False)[1].close()
            return env

    def _check_data(self, kwargs: dict[str, Any]) -> None:
        if "data" not in kwargs or kwargs["data"] is None:
            return
        data = kwargs["data"]
        if not isinstance(data, str):
            raise ServiceError(422, "env_kwargs.data must be a path (str)")
        path = Path(data).resolve()
        for root in self.config.data_dirs:
            if path.is_relative_to(Path(root).resolve()):
                return
        raise ServiceError(403, "env_kwargs.data may only name files under the service's --data-dir folders"
                                if self.config.data_dirs else "this service accepts no env_kwargs.data (start it with --data-dir)")

    def verifier(self, name: str, options: dict[str, Any]) -> Any:
        if name not in BUILTIN:
            raise ServiceError(404, f"unknown verifier {name!r}; built-in: {', '.join(sorted(BUILTIN))}")
        options = dict(options)
        if "timeout_s" in options:
            timeout = options.pop("timeout_s")
            if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or not 0 < timeout <= 600:
                raise ServiceError(422, "verifier_options.timeout_s must be a number in (0, 600]")
            options["limits"] = Limits(wall_s=float(timeout))
        try:
            return get_verifier(name, **options)
        except (TypeError, ValueError) as e:
            raise ServiceError(422, f"bad verifier_options for {name}: {e}"[:500]) from None

    def run(self, req: VerifyRequest) -> list[Result]:
        """Resolve every item's problem, then one ``verify_batch`` over the whole request."""
        task_ids: list[str | None] = [None] * len(req.items)
        if req.env is not None:
            kwargs = req.env_kwargs
            if all(it.problem is not None for it in req.items):  # the problems came along: no data file needed
                kwargs = {k: v for k, v in kwargs.items() if k != "data"}
            env = self.env(req.env, kwargs)
            verifier = env.verifier
            problems = []
            rng = np.random.default_rng(0)
            for n, it in enumerate(req.items):
                if it.problem is not None:
                    problems.append(it.problem)
                    continue
                try:
                    sel = env.select(rng, {"index": it.index} if it.index is not None else {"task_id": it.task_id})
                except (ValueError, KeyError, IndexError, TypeError) as e:
                    raise ServiceError(422, f"items[{n}]: {e}"[:500]) from None
                problems.append(sel.problem)
                task_ids[n] = sel.task_id
        else:
            verifier = self.verifier(req.verifier or "", req.verifier_options)
            problems = [it.problem for it in req.items]
        try:
            scores = verifier.verify_batch([(it.response, p) for it, p in zip(req.items, problems, strict=True)])
        except (ValueError, KeyError, TypeError) as e:  # a problem dict the verifier cannot read
            raise ServiceError(422, f"a problem could not be verified as given: {type(e).__name__}: {e}"[:500]) from None
        return [Result(reward=s.reward, verdict=s.verdict, passed=bool(s.passed), detail=s.detail,
                       elapsed=float(s.elapsed), task_id=t) for s, t in zip(scores, task_ids, strict=True)]


def openrlhf_items(body: OpenRLHFRequest, env: str | None) -> list[Item]:
    """OpenRLHF sends ``query`` = decoded prompt + response; the response is what follows the prompt.
    Labels: a task id (with ``env``), or a problem dict as JSON, or a bare reference answer."""
    prompts = body.prompts or [""] * len(body.query)
    labels = body.labels if body.labels is not None else [None] * len(body.query)
    if not len(prompts) == len(labels) == len(body.query):
        raise ServiceError(422, "query, prompts and labels must have the same length")
    items = []
    for n, (query, prompt, label) in enumerate(zip(body.query, prompts, labels, strict=True)):
        response = query[len(prompt):] if prompt and query.startswith(prompt) else query
        if env is not None:
            if not isinstance(label, str):
                raise ServiceError(422, f"labels[{n}] must be the problem's task_id (str) for env={env}")
            items.append(Item(response=response, task_id=label))
            continue
        if isinstance(label, str):
            try:
                parsed = json.loads(label)
            except ValueError:
                parsed = None
            label = parsed if isinstance(parsed, dict) else {"answer": label}
        if not isinstance(label, dict):
            raise ServiceError(422, f"labels[{n}] must be a reference answer (str) or a problem object")
        items.append(Item(response=response, problem=label))
    return items


class _BodyLimit:
    """ASGI middleware: a body over the limit is refused (413) before it is read into memory."""

    def __init__(self, app: Callable, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        too_big = JSONResponse({"error": f"request body over {self.max_bytes} bytes"}, status_code=413)
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await too_big(scope, receive, send)
            return
        seen = 0

        async def limited() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:  # chunked upload without a length: stop reading here
                    raise HTTPException(413, f"request body over {self.max_bytes} bytes")
            return message

        await self.app(scope, limited, send)


def create_app(config: ServiceConfig | None = None, *, own_pool: bool = False) -> FastAPI:
    """The FastAPI application (``uvicorn.run(create_app(cfg))``; tests use it directly).

    ``own_pool``: the app owns the process's sandbox pool and closes it at shutdown (``serve`` does:
    uvicorn ends a SIGTERM'd process by re-raising the signal, so exit hooks would never run).
    """
    config = config or ServiceConfig()
    executor = ThreadPoolExecutor(max_workers=config.max_concurrent, thread_name_prefix="verify")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        executor.shutdown(wait=False, cancel_futures=True)
        if own_pool:
            set_pool(None)  # closes the pool: its containers go now, not at some later reaping

    app = FastAPI(title="sppo-gym verification service", version=package_version(), lifespan=lifespan,
                  description=__doc__.split("\n\n")[1] if __doc__ else "")
    app.add_middleware(_BodyLimit, max_bytes=config.max_body_bytes)
    verification = Verification(config)
    buckets = _Buckets(config.rate_per_s, config.burst)
    metrics = _Metrics()
    slots = asyncio.Semaphore(config.max_concurrent)
    load = {"running": 0, "waiting": 0}
    app.state.config, app.state.verification, app.state.metrics = config, verification, metrics

    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse({"error": exc.message}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)  # also the router's own 404 / 405
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors()[:20]:
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            problems.append(f"{where or 'body'}: {err.get('msg', 'invalid')}")
        return JSONResponse({"error": "malformed request: " + "; ".join(problems)}, status_code=422)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:  # a bug: say so, stay up
        return JSONResponse({"error": f"internal error: {type(exc).__name__}"}, status_code=500)

    @app.middleware("http")
    async def _count(request: Request, call_next: Callable) -> Any:
        response = await call_next(request)
        metrics.request(request.url.path if request.url.path in _PATHS else "other", response.status_code)
        return response

    async def authorized(request: Request) -> None:
        if config.token is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), config.token.encode()):
            raise ServiceError(401, "missing or wrong bearer token (Authorization: Bearer TOKEN)",
                               {"WWW-Authenticate": "Bearer"})

    async def rate_limited(request: Request) -> None:
        wait = buckets.take(request.client.host if request.client else "unknown")
        if wait > 0:
            raise ServiceError(429, "too many requests from this client; slow down",
                               {"Retry-After": str(max(1, math.ceil(wait)))})

    async def verify(req: VerifyRequest) -> list[Result]:
        if len(req.items) > config.max_items:
            raise ServiceError(422, f"{len(req.items)} items; at most {config.max_items} per request")
        if not req.items:
            return []
        if load["running"] + load["waiting"] >= config.max_concurrent + config.max_queued:
            raise ServiceError(503, "the service is at capacity; retry later", {"Retry-After": "1"})
        load["waiting"] += 1
        try:
            await slots.acquire()
        finally:
            load["waiting"] -= 1
        load["running"] += 1
        t0 = time.perf_counter()
        try:
            results = await asyncio.get_running_loop().run_in_executor(executor, verification.run, req)
        finally:
            load["running"] -= 1
            slots.release()
        metrics.batch(results, time.perf_counter() - t0)
        return results

    guards = [Depends(authorized), Depends(rate_limited)]

    @app.post("/v1/verify", response_model=VerifyResponse, dependencies=guards,
              responses={k: {"description": v} for k, v in _ERRORS.items()})
    async def verify_endpoint(req: VerifyRequest) -> VerifyResponse:
        """Verify a batch of responses; results come back in item order."""
        return VerifyResponse(results=await verify(req))

    @app.post("/v1/openrlhf", dependencies=guards, responses={k: {"description": v} for k, v in _ERRORS.items()})
    async def openrlhf_endpoint(body: OpenRLHFRequest, env: str | None = Query(None), verifier: str | None = Query(None),
                                ) -> dict[str, Any]:
        """OpenRLHF's remote reward API (``--reward.remote_url http://HOST:PORT/v1/openrlhf?env=ID``).
        ``rewards``/``scores`` per query; ``extra_logs`` counts passes and sandbox errors (numbers only,
        as OpenRLHF logs them)."""
        if (env is None) == (verifier is None):
            raise ServiceError(422, "pass exactly one of ?env=ID or ?verifier=NAME")
        items = openrlhf_items(body, env)
        results = await verify(VerifyRequest(env=env, verifier=verifier, items=items))
        rewards = [r.reward for r in results]
        return {"rewards": rewards, "scores": rewards,
                "extra_logs": {"passed": [float(r.passed) for r in results],
                               "sandbox_error": [float(r.verdict == SANDBOX_ERROR) for r in results]}}

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        """Liveness and load (no token needed: load balancers call it)."""
        pool = _pool_info()
        return {"status": "ok", "version": package_version(), "running": load["running"], "waiting": load["waiting"],
                "capacity": config.max_concurrent + config.max_queued, **pool}

    @app.get("/metrics", response_class=PlainTextResponse, dependencies=[Depends(authorized)])
    async def metrics_endpoint() -> str:
        """Prometheus text format: requests by path and status, items by verdict, batch time, load."""
        lines = ["# TYPE sppo_gym_requests_total counter"]
        with metrics.lock:
            lines += [f'sppo_gym_requests_total{{path="{p}",status="{s}"}} {n}' for (p, s), n in sorted(metrics.requests.items())]
            lines.append("# TYPE sppo_gym_items_total counter")
            lines += [f'sppo_gym_items_total{{verdict="{v}"}} {n}' for v, n in sorted(metrics.verdicts.items())]
            lines += ["# TYPE sppo_gym_batch_seconds summary",
                      f"sppo_gym_batch_seconds_sum {metrics.batch_seconds:.6f}", f"sppo_gym_batch_seconds_count {metrics.batches}"]
        lines += ["# TYPE sppo_gym_batches_running gauge", f"sppo_gym_batches_running {load['running']}",
                  "# TYPE sppo_gym_batches_waiting gauge", f"sppo_gym_batches_waiting {load['waiting']}"]
        return "\n".join(lines) + "\n"

    return app


_PATHS = {"/v1/verify", "/v1/openrlhf", "/healthz", "/metrics"}
_ERRORS = {401: "token missing or wrong", 403: "env_kwargs.data outside --data-dir", 404: "unknown env or verifier",
           413: "body over the size limit", 422: "malformed request", 429: "client over its rate",
           503: "at capacity: retry after Retry-After seconds"}


def _pool_info() -> dict[str, Any]:
    """The sandbox pool's backend and size, without starting one."""
    pool = pool_module._DEFAULT
    if pool is None:
        backend = "ray" if os.environ.get("SPPO_GYM_RAY_ADDRESS") else os.environ.get("SPPO_GYM_SANDBOX", "docker")
        return {"pool": backend, "pool_size": None}
    return {"pool": pool.backend, "pool_size": pool.size}

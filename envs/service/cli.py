"""``sppo-gym serve``: run the verification service (FastAPI app under uvicorn)."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from sppo_gym.sandbox import get_pool


def serve_command(
    host: str = typer.Option("127.0.0.1", help="Address to listen on. Off loopback a token is required."),
    port: int = typer.Option(8008, help="TCP port."),
    token: str = typer.Option(None, help="Bearer token clients must send (default: $SPPO_GYM_SERVICE_TOKEN; "
                                         "prefer the variable: a flag shows in the process list)."),
    data_dir: list[Path] = typer.Option([], "--data-dir", help="Folder env_kwargs.data may name files in "
                                                               "(repeatable; none: no data argument accepted)."),
    max_concurrent: int = typer.Option(4, help="Batches verifying at once."),
    max_queued: int = typer.Option(32, help="Batches waiting for a slot; more get 503 + Retry-After."),
    max_items: int = typer.Option(1024, help="Items per request."),
    max_body_mb: float = typer.Option(8.0, help="Largest request body (MiB); larger gets 413."),
    rate: float = typer.Option(50.0, help="Requests per second per client address; more get 429."),
    workers_log: str = typer.Option("info", "--log-level", help="uvicorn log level."),
) -> None:
    """Serve verification over HTTP: POST /v1/verify, /v1/openrlhf; GET /healthz, /metrics, /docs.

    The sandbox pool is this process's: local Docker by default, a Ray fleet with
    SPPO_GYM_RAY_ADDRESS. See docs/FLEET.md.
    """
    try:  # here, not at the top: every sppo-gym command loads this module, and the extra is optional
        import uvicorn

        from .app import LOOPBACK, ServiceConfig, create_app
    except ImportError as e:
        raise typer.BadParameter(f"the service needs its extra: pip install 'sppo-gym[serve]' ({e})") from e
    token = token or os.environ.get("SPPO_GYM_SERVICE_TOKEN") or None
    if host not in LOOPBACK and not token:
        typer.echo(f"refusing to listen on {host} without a token: set SPPO_GYM_SERVICE_TOKEN (or --token), "
                   "or listen on 127.0.0.1", err=True)
        raise typer.Exit(2)
    for d in data_dir:
        if not d.is_dir():
            raise typer.BadParameter(f"--data-dir {d} is not a folder")
    config = ServiceConfig(token=token, max_body_bytes=int(max_body_mb * 2**20), max_items=max_items,
                           max_concurrent=max_concurrent, max_queued=max_queued, rate_per_s=rate,
                           burst=max(1, int(2 * rate)), data_dirs=tuple(str(d.resolve()) for d in data_dir))
    pool = get_pool()  # start it (and a Ray fleet's probes) before the first request
    typer.echo(f"sppo-gym serve: http://{host}:{port} (pool: {pool.backend}, {pool.size} containers; "
               f"token {'required' if token else 'off (loopback)'}; docs at /docs)", err=True)
    uvicorn.run(create_app(config, own_pool=True), host=host, port=port, log_level=workers_log, timeout_graceful_shutdown=30)

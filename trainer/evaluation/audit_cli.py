"""``sppo-gym audit``: run no-work policies on an env and fail when its reward pays them.

Kept import-light (gymnasium, the envs and any model load only once the command runs). Exit
codes: 0 no leak, 1 a leak, 2 bad input (unknown env id, bad JSON, bad policy spec), 3
inconclusive (every reply of some policy ended in a sandbox error or a verifier exception).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from .bench_cli import slug

_DOC = "\n\n".join((
    "Audit an env's reward: run a battery of policies that do no work (the prompt echoed, its numbers "
    "and expressions restated in every answer format it asks for, empty, constants, format-only and "
    "maximal-length replies; for code and Coq envs stubs, early exits, Admitted and axioms) on "
    "problems 0..n-1, plus your own suspects (--policy, the same specs as `sppo-gym bench`).",
    "A policy whose mean reward exceeds the leak threshold (default 5%; items where its claimed answer "
    "IS the reference, like a constant 'yes' on a yes/no question answered yes, are left out) is a leak. "
    "Prints a table, writes OUT/audit.json. Exit 0: no leak; 1: leak; 2: bad input; 3: inconclusive "
    "(sandbox errors only). See docs/AUDIT.md.",
))


def default_out(env_id: str) -> Path:
    """``runs/audit/<env>``: audits of different envs do not collide by default."""
    return Path("runs") / "audit" / slug(env_id, "env")


def audit_command(
    env: str = typer.Option(..., "--env", help="Environment id (`sppo-gym envs` lists them)."),
    env_kwargs: str = typer.Option("{}", "--env-kwargs", help="""JSON keyword arguments, e.g. '{"difficulty": 2}'."""),
    n: int = typer.Option(50, "--n", help="Number of problems (indices 0..n-1; fewer if the env holds fewer)."),
    policy: Optional[list[str]] = typer.Option(  # noqa: UP045
        None, "--policy", help="A suspect of your own: model dir, preset, python:MODULE:FUNCTION or "
                               "openai:BASE_URL#MODEL; repeat for several."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder (default: runs/audit/ENV)."),  # noqa: UP045
    threshold: Optional[float] = typer.Option(  # noqa: UP045
        None, help="Leak threshold on a policy's mean reward (default 0.05, see docs/AUDIT.md)."),
    batch_size: int = typer.Option(16, help="Replies judged per vector-env batch."),
    max_new_tokens: int = typer.Option(512, help="Longest reply of a model or endpoint suspect, in tokens."),
    device: str = typer.Option("auto", help="Device of a local model suspect: auto, cpu, cuda, ..."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    # lazy, as in bench_command: the audit and bench modules load when the command runs
    from .audit import LEAK_THRESHOLD, AuditError, audit_env, report_table
    from .bench import parse_envs
    from .bench_store import BenchError

    try:
        kwargs = parse_envs([env], [env_kwargs])[0].kwargs
    except BenchError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # local models come from disk only
    try:
        report = audit_env(env, kwargs, n, policy or [], threshold=LEAK_THRESHOLD if threshold is None else threshold,
                           batch_size=batch_size, progress=progress, max_new_tokens=max_new_tokens, device=device,
                           say=lambda m: typer.echo(m, err=True))
    except AuditError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    path = report.write(out or default_out(env))
    typer.echo(report_table(report))
    typer.echo(f"\nreport {path}")
    raise typer.Exit(report.exit_code)


audit_command.__doc__ = _DOC

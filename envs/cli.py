"""``sppo-gym envs``: every built-in environment id with a one-line description."""

from __future__ import annotations

import textwrap

import typer

from .reasoning_gym_env import task_names
from .registry import BUILTIN_ENVS


def envs_command(
    tasks: bool = typer.Option(True, help="Also list the reasoning-gym task names (ReasoningGym-v0's task=)."),
) -> None:
    """List the built-in environment ids (and, compactly, the reasoning-gym task names)."""
    width = max(len(env.id) for env in BUILTIN_ENVS)
    for env in BUILTIN_ENVS:
        typer.echo(f"{env.id:<{width}}  {env.description}")
    if not tasks:
        return
    try:
        names = task_names()  # imports reasoning_gym
    except ImportError as e:
        typer.echo(f"\nreasoning-gym tasks: unavailable ({e}); pip install reasoning-gym")
        return
    typer.echo(f"\nreasoning-gym tasks ({len(names)}; gymnasium.make('sppo_gym/ReasoningGym-v0', task=NAME, **config)):")
    typer.echo(textwrap.fill(", ".join(names), width=100, initial_indent="  ", subsequent_indent="  "))

"""The ``sppo-gym`` command line. Each sub-command lives with the layer it belongs to."""

from __future__ import annotations

import importlib

import typer
from sppo_gym.sandbox.cli import app as sandbox_app

app = typer.Typer(
    help="sppo-gym: verifiable-reward Gymnasium environments and a compact SPPO trainer.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(sandbox_app, name="sandbox", help="Build and check the Docker sandbox.")


def _register(module: str, name: str) -> None:
    """Attach the command function ``name`` of ``module`` (each module keeps its heavy imports lazy)."""
    app.command(name.removesuffix("_command"))(getattr(importlib.import_module(module), name))


for _module, _name in (
    ("sppo_gym.envs.cli", "envs_command"),
    ("sppo_gym.trainer.train_cli", "train_command"),
    ("sppo_gym.trainer.evaluation.bench_cli", "bench_command"),
    ("sppo_gym.trainer.evaluation.audit_cli", "audit_command"),
    ("sppo_gym.envs.service.cli", "serve_command"),
):
    _register(_module, _name)

if __name__ == "__main__":
    app()

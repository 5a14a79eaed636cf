"""The ``sppo-gym`` command line. Each sub-command lives with the layer it belongs to."""

from __future__ import annotations

import typer
from sppo_gym.sandbox.cli import app as sandbox_app

app = typer.Typer(
    help="sppo-gym: verifiable-reward Gymnasium environments and a compact SPPO trainer.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(sandbox_app, name="sandbox", help="Build and check the Docker sandbox.")


def _register_optional(module: str, name: str) -> None:
    """Attach a sub-command defined in ``module`` as function ``name`` (kept import-light)."""
    import importlib

    mod = importlib.import_module(module)
    app.command(name.replace("_command", ""))(getattr(mod, name))


for _module, _name in (
    ("sppo_gym.envs.cli", "envs_command"),
    ("sppo_gym.trainer.train_cli", "train_command"),
    ("sppo_gym.trainer.bench_cli", "bench_command"),
):
    try:
        _register_optional(_module, _name)
    except ModuleNotFoundError as e:  # during development a layer may not exist yet
        if e.name != _module:
            raise

if __name__ == "__main__":
    app()

"""``sppo-gym sandbox ...``: build the image, check the setup, remove stray containers."""

from __future__ import annotations

import typer

from .languages import parse_languages

LANGUAGES_HELP = ("Toolchains beyond Python, comma-separated: cpp, java, javascript, go, rust, or 'all' "
                  "(default: $SPPO_GYM_LANGUAGES, else Python only; the tag names the set).")


def _languages(spec: str | None) -> tuple[str, ...] | None:
    """The parsed ``--languages`` value (None: the configured default); a clear exit when unknown."""
    if spec is None:
        return None
    try:
        return parse_languages(spec)
    except ValueError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e


app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)


@app.command()
def build(
    prune: bool = typer.Option(False, "--prune", help="Remove older sppo-gym-sandbox tags afterwards."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the resulting tag."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Rebuild every layer (the base image is kept)."),
    if_missing: bool = typer.Option(False, "--if-missing", help="Do nothing when the current tag exists."),
    languages: str | None = typer.Option(None, "--languages", help=LANGUAGES_HELP),
) -> None:
    """Build the sandbox image for the current sources (incremental; no registry needed)."""
    # lazy: docker SDK ~0.15 s (python -X importtime); trainer/cli.py imports this app at every start
    from .image import build_image, ensure_image, get_client, prune_images

    langs = _languages(languages)
    try:
        client = get_client()
        if if_missing and not no_cache:
            tag = ensure_image(client, quiet=quiet, languages=langs)
        else:
            tag = build_image(client, quiet=quiet, no_cache=no_cache, languages=langs)
    except RuntimeError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from e
    if prune:
        prune_images(client, quiet=quiet)
    typer.echo(tag)


@app.command()
def tag(languages: str | None = typer.Option(None, "--languages", help=LANGUAGES_HELP)) -> None:
    """Print the image tag the current sources need (a hash of the image inputs)."""
    # lazy: docker SDK ~0.15 s (python -X importtime); trainer/cli.py imports this app at every start
    from .image import image_tag

    typer.echo(image_tag(_languages(languages)))


@app.command()
def doctor(
    skip_job: bool = typer.Option(False, "--skip-job", help="Do not start a container to check isolation."),
) -> None:
    """Check engine, image, init, limits and isolation; print the fix for anything that fails."""
    # lazy: docker SDK ~0.15 s (python -X importtime); trainer/cli.py imports this app at every start
    from .doctor import run_checks

    raise typer.Exit(0 if run_checks(run_job=not skip_job) else 1)


@app.command()
def reap(
    all_: bool = typer.Option(False, "--all", help="Remove every sandbox container, even those of live processes."),
) -> None:
    """Remove sandbox containers left behind by crashed runs."""
    # lazy: docker SDK ~0.15 s (python -X importtime); trainer/cli.py imports this app at every start
    from .image import get_client
    from .reaper import reap_strays

    try:
        client = get_client()
    except RuntimeError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from e
    removed = reap_strays(client, everything=all_)
    typer.echo(f"removed {len(removed)} container(s)")


if __name__ == "__main__":  # `python -m sppo_gym.sandbox.cli`: skips the top-level CLI's imports
    app()

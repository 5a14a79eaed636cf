"""Which programming languages a sandbox image can run, and the Debian packages that bring them.

Python is always in the image (the job server is Python). The other toolchains are large (about
1.3 GB together), so they are opt-in: ``sppo-gym sandbox build --languages cpp,java`` or the
``SPPO_GYM_LANGUAGES`` environment variable (read by the pool when it picks or builds its image).
They come from Debian bookworm's own packages, installed in an image layer of their own, and the
image tag names the language set (``sppo-gym-sandbox:<hash>-cpp-java``), so images of different
sets live side by side. This module imports nothing heavy: judges and the CLI both read it.
"""

from __future__ import annotations

import os

PYTHON = "python"

TOOLCHAINS: dict[str, tuple[str, ...]] = {
    PYTHON: (),  # python3 is in the base layers of every image
    "cpp": ("g++",),
    "go": ("golang-go",),
    "java": ("openjdk-17-jdk-headless",),
    "javascript": ("nodejs",),
    "rust": ("rustc",),
}
"""Language -> the Debian bookworm packages that bring its compiler or runtime."""

PROBES: dict[str, tuple[str, ...]] = {
    PYTHON: ("python3", "--version"),
    "cpp": ("g++", "--version"),
    "go": ("go", "version"),
    "java": ("javac", "-J-Xmx64m", "-J-XX:CompressedClassSpaceSize=32m", "-J-XX:ReservedCodeCacheSize=32m", "-version"),
    "javascript": ("node", "--version"),
    "rust": ("rustc", "--version"),
}
"""Language -> a command that prints its toolchain's version (``sandbox doctor`` runs them)."""

LANGUAGES: tuple[str, ...] = tuple(sorted(TOOLCHAINS))
ALIASES = {"c++": "cpp", "js": "javascript", "node": "javascript", "golang": "go", "rs": "rust", "py": PYTHON}
ENV_VAR = "SPPO_GYM_LANGUAGES"


def canonical(name: str) -> str:
    """The canonical name of a language (``js`` -> ``javascript``); ValueError for unknown ones."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in TOOLCHAINS:
        raise ValueError(f"unknown language {name!r}; known: {', '.join(LANGUAGES)} (or 'all')")
    return key


def parse_languages(spec: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """A sorted, duplicate-free language set from ``"cpp,java"``, ``"all"`` or a list; always
    includes Python. Empty or None means Python only."""
    items = spec.split(",") if isinstance(spec, str) else list(spec or [])
    names = {PYTHON}
    for item in items:
        if not item.strip():
            continue
        if item.strip().lower() == "all":
            names.update(LANGUAGES)
        else:
            names.add(canonical(item))
    return tuple(sorted(names))


def configured_languages() -> tuple[str, ...]:
    """The language set the pool's image must have: ``$SPPO_GYM_LANGUAGES`` (default Python only)."""
    return parse_languages(os.environ.get(ENV_VAR, ""))


def debian_packages(languages: tuple[str, ...]) -> tuple[str, ...]:
    """The Debian packages of the toolchain layer for ``languages`` (empty: Python only)."""
    return tuple(sorted({pkg for lang in languages for pkg in TOOLCHAINS[canonical(lang)]}))


def tag_suffix(languages: tuple[str, ...]) -> str:
    """The part of the image tag that names the languages beyond Python (``""`` for Python only)."""
    extra = [lang for lang in parse_languages(list(languages)) if lang != PYTHON]
    return "-" + "-".join(extra) if extra else ""


def languages_from_tag(tag: str) -> tuple[str, ...]:
    """The language set an image tag names (inverse of ``tag_suffix``)."""
    _, _, version = tag.rpartition(":")
    return parse_languages(version.split("-")[1:])


def runs_native_code(tag: str) -> bool:
    """Whether an image (by its tag) has compilers, so candidates must exec the binaries they
    compiled from ``/scratch``; Python-only images (and tags this module did not make) keep
    ``/scratch`` mounted ``noexec``."""
    try:
        return languages_from_tag(tag) != (PYTHON,)
    except ValueError:
        return False

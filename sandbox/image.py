"""The sandbox Docker image: tag from a hash of its inputs, offline-capable build, staleness check.

The tag ``sppo-gym-sandbox:<12 hex>`` hashes everything that goes into the image (Dockerfile,
pinned requirements, the sandbox/ and verifiers/ source, the language set), so a stale image is
simply a missing tag. Images with compilers beyond Python (``languages``) add the set to the tag:
``sppo-gym-sandbox:<12 hex>-cpp-go``. Building needs no registry: the Debian base is pulled when a registry answers, otherwise
bootstrapped with ``mmdebstrap`` and ``docker import``; Python wheels are downloaded on the host
(PyPI over the host's network) into a cache and copied into the build context.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import docker
import docker.errors

from .languages import (
    PYTHON,
    configured_languages,
    debian_packages,
    languages_from_tag,
    parse_languages,
    tag_suffix,
)

IMAGE_REPO = "sppo-gym-sandbox"
BASE_IMAGE = "sppo-gym-base:bookworm"
"""Local name of the Debian base the Dockerfile starts FROM."""
PULL_BASE = "debian:bookworm-slim"
"""Registry image used as the base when a registry is reachable."""
DEBIAN_SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
IMAGE_PYTHON = "3.11"
"""Debian bookworm's python3: the interpreter the downloaded wheels must fit."""
LABEL = "sppo-gym.sandbox"
HOST_ONLY_VERIFIERS = ("coq/theorems.py", "coq/lemmas.py", "math/data")
"""Parts of ``verifiers/`` that no judge imports (the Coq theorem-set generator, the labelled math
test set): left out of the image and its tag, so editing them neither ships nor rebuilds anything."""
_SKIP_DIRS = {"__pycache__"}  # and every dot-folder (.pytest_cache, ...)
_SKIP_SUFFIXES = (".pyc", ".pyo")
_PLATFORMS = {
    "x86_64": "x86_64",
    "amd64": "x86_64",
    "aarch64": "aarch64",
    "arm64": "aarch64",
}


def _say(msg: str, quiet: bool) -> None:
    if not quiet:
        print(f"[sandbox build] {msg}", file=sys.stderr, flush=True)


def image_dir() -> Path:
    """Folder holding the Dockerfile and requirements.txt (package data of sppo_gym.sandbox)."""
    return Path(__file__).resolve().parent / "image"


def _package_dir(name: str) -> Path:
    """Source folder of ``sppo_gym.<name>`` without importing it (works editable or installed)."""
    spec = importlib.util.find_spec(f"sppo_gym.{name}")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"cannot locate the sppo_gym.{name} package; reinstall with `pip install -e .`")
    return Path(next(iter(spec.submodule_search_locations))).resolve()


def _source_files(root: Path, prefix: str, skip: tuple[str, ...] = ()) -> Iterator[tuple[str, Path]]:
    """Files under ``root`` (sorted, no bytecode or dot-files), minus ``skip`` (folders or files,
    as paths relative to ``root``)."""
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath).relative_to(root)
        dirnames[:] = sorted(d for d in dirnames
                             if d not in _SKIP_DIRS and not d.startswith(".") and (here / d).as_posix() not in skip)
        for fname in sorted(filenames):
            if fname.endswith(_SKIP_SUFFIXES) or fname.startswith(".") or (here / fname).as_posix() in skip:
                continue
            path = Path(dirpath) / fname
            yield f"{prefix}/{path.relative_to(root).as_posix()}", path


def image_inputs() -> list[tuple[str, Path]]:
    """Every file of the build context except wheels: ``(path in context, file on disk)``, sorted.

    Wheels are fully determined by requirements.txt, so hashing that file covers them.
    """
    files = [("Dockerfile", image_dir() / "Dockerfile"), ("requirements.txt", image_dir() / "requirements.txt")]
    # sandbox/image/ (this Dockerfile and pins) is build input, not image content.
    files.extend(_source_files(_package_dir("sandbox"), "src/sppo_gym/sandbox", skip=("image",)))
    files.extend(_source_files(_package_dir("verifiers"), "src/sppo_gym/verifiers", skip=HOST_ONLY_VERIFIERS))
    return sorted(files)


def snapshot() -> list[tuple[str, bytes]]:
    """Contents of every input, read once: the tag and the build context come from the same bytes
    (sources edited during a build cannot produce an image whose tag lies about its content)."""
    return [(arcname, path.read_bytes()) for arcname, path in image_inputs()]


def inputs_digest(inputs: list[tuple[str, Path]] | list[tuple[str, bytes]] | None = None,
                  languages: tuple[str, ...] | None = None) -> str:
    """SHA-256 over the sorted context paths and contents, the base image it starts from and the
    language set (default: ``configured_languages()``)."""
    langs = parse_languages(list(languages)) if languages is not None else configured_languages()
    h = hashlib.sha256()
    h.update(f"base={BASE_IMAGE}\0python={IMAGE_PYTHON}\0".encode())
    if langs != (PYTHON,):  # Python-only tags stay what they were before languages existed
        h.update(f"languages={','.join(langs)}\0".encode())
    for arcname, item in sorted(inputs if inputs is not None else snapshot()):
        data = item if isinstance(item, bytes) else item.read_bytes()
        h.update(f"{arcname}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


def tag_for(digest: str, languages: tuple[str, ...] | None = None) -> str:
    langs = parse_languages(list(languages)) if languages is not None else configured_languages()
    return f"{IMAGE_REPO}:{digest[:12]}{tag_suffix(langs)}"


def image_tag(languages: tuple[str, ...] | None = None) -> str:
    """The tag the current source tree's image must have: ``sppo-gym-sandbox:<12 hex>``, plus
    ``-<language>...`` for toolchains beyond Python (default: ``configured_languages()``)."""
    langs = parse_languages(list(languages)) if languages is not None else configured_languages()
    return tag_for(inputs_digest(languages=langs), langs)


def get_client() -> docker.DockerClient:
    """A Docker client from the environment (DOCKER_HOST etc.), with a clear error if unreachable."""
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as e:
        raise RuntimeError(
            "cannot reach a Docker engine. Start one with `scripts/setup.sh` (or `sudo dockerd &`), "
            "or point DOCKER_HOST at an existing engine (Docker Desktop, rootless: "
            "unix://$XDG_RUNTIME_DIR/docker.sock)."
        ) from e
    return client


def image_exists(client: docker.DockerClient, tag: str) -> bool:
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return True


def cache_dir() -> Path:
    """Host cache for wheels and build locks (``$SPPO_GYM_CACHE`` or ``~/.cache/sppo-gym``)."""
    root = os.environ.get("SPPO_GYM_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sppo-gym"
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def _build_lock() -> Iterator[None]:
    """Serialise builds across processes (a pool and a CLI may both try to build)."""
    with open(cache_dir() / "build.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def read_requirements(path: Path | None = None) -> tuple[list[str], list[str]]:
    """Pinned requirement lines split into (wheel-available, sdist-only) by the ``# sdist`` mark."""
    wheels, sdists = [], []
    for raw in (path or image_dir() / "requirements.txt").read_text().splitlines():
        spec, _, comment = raw.partition("#")
        spec = spec.strip()
        if not spec:
            continue
        if "==" not in spec:
            raise ValueError(f"requirements.txt: {spec!r} must be pinned exactly (name==version)")
        (sdists if comment.strip() == "sdist" else wheels).append(spec)
    return wheels, sdists


def _pip_download(args: list[str], dest: Path) -> None:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
           "--quiet", "--dest", str(dest), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"wheel download failed ({' '.join(cmd[:6])} ...):\n{proc.stderr[-3000:]}")


def download_wheels(arch: str = "x86_64", *, quiet: bool = False) -> Path:
    """Download the image's pinned wheels (and sdists) for CPython 3.11 on ``arch``; cached, idempotent."""
    req = image_dir() / "requirements.txt"
    key = hashlib.sha256(req.read_bytes() + arch.encode()).hexdigest()[:12]
    dest = cache_dir() / "wheels" / f"cp311-{arch}-{key}"
    if (dest / ".complete").exists():
        _say(f"wheels cached in {dest}", quiet)
        return dest
    wheels, sdists = read_requirements(req)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=dest.name + ".", dir=dest.parent))
    _say(f"downloading {len(wheels)} wheels + {len(sdists)} sdists for CPython {IMAGE_PYTHON}/{arch}", quiet)
    pyver = IMAGE_PYTHON.replace(".", "")
    platforms = [f"manylinux_2_{v}_{arch}" for v in (36, 34, 28, 27, 24, 17)] + [f"manylinux2014_{arch}"]
    plat_args = [a for p in platforms for a in ("--platform", p)]
    _pip_download(["--only-binary=:all:", "--python-version", IMAGE_PYTHON, "--implementation", "cp",
                   "--abi", f"cp{pyver}", "--abi", "abi3", "--abi", "none", *plat_args, *wheels], tmp)
    if sdists:
        _pip_download(["--no-binary=:all:", *sdists], tmp)
    (tmp / ".complete").write_text("\n".join(wheels + sdists) + "\n")
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return dest


def ensure_base(client: docker.DockerClient, *, quiet: bool = False) -> str:
    """Make ``BASE_IMAGE`` exist: pull Debian from a registry, else bootstrap it with mmdebstrap."""
    if image_exists(client, BASE_IMAGE):
        return BASE_IMAGE
    repo, tag = BASE_IMAGE.split(":")
    try:
        _say(f"pulling {PULL_BASE} as the base", quiet)
        client.images.pull(PULL_BASE).tag(repo, tag)
        return BASE_IMAGE
    except docker.errors.APIError as e:
        _say(f"no registry ({str(e.explanation or e).splitlines()[0][:160]}); bootstrapping the base offline", quiet)
    if shutil.which("mmdebstrap") is None:
        raise RuntimeError(
            f"no registry is reachable and `mmdebstrap` is not installed, so the {DEBIAN_SUITE} base "
            "cannot be built. Install it (`sudo apt-get install -y mmdebstrap`) or make a registry "
            f"reachable so `docker pull {PULL_BASE}` works."
        )
    mirror = os.environ.get("SPPO_GYM_DEBIAN_MIRROR", DEFAULT_MIRROR)
    with tempfile.TemporaryDirectory(prefix="sppo-base-", dir=cache_dir()) as tmp:
        tar = Path(tmp) / "base.tar"
        cmd = ["mmdebstrap", "--variant=minbase", DEBIAN_SUITE, str(tar), mirror]
        _say(" ".join(cmd) + "  (a few minutes)", quiet)
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"mmdebstrap failed (run as root, or see its output):\n{proc.stderr[-3000:]}")
        _say(f"docker import -> {BASE_IMAGE}", quiet)
        client.api.import_image_from_file(str(tar), repository=repo, tag=tag)
    return BASE_IMAGE


def assemble_context(dest: Path, files: list[tuple[str, bytes]], wheels: Path) -> None:
    """Write the build context into ``dest``: Dockerfile, requirements, wheels/, src/ (world-readable)."""
    for arcname, data in files:
        target = dest / arcname
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    shutil.copytree(wheels, dest / "wheels", ignore=shutil.ignore_patterns(".complete"))
    for dirpath, _, filenames in os.walk(dest):
        os.chmod(dirpath, 0o755)
        for fname in filenames:
            os.chmod(os.path.join(dirpath, fname), 0o644)  # judge uids only need to read


def _stream_build(client: docker.DockerClient, ctx: Path, tag: str, digest: str, *, quiet: bool, no_cache: bool,
                  languages: tuple[str, ...] = (PYTHON,)) -> None:
    log: list[str] = []
    stream = client.api.build(
        path=str(ctx), tag=tag, rm=True, forcerm=True, decode=True, pull=False, timeout=3600, nocache=no_cache,
        buildargs={"BASE_IMAGE": BASE_IMAGE, "SPPO_TOOLCHAINS": " ".join(debian_packages(languages))},
        labels={LABEL: "1", f"{LABEL}.inputs": digest, f"{LABEL}.languages": ",".join(languages)},
    )
    for chunk in stream:
        if "error" in chunk:
            tail = "".join(log[-40:])
            raise RuntimeError(f"docker build of {tag} failed: {chunk['error'].strip()}\n--- last output ---\n{tail}")
        text = chunk.get("stream", "")
        if text:
            log.append(text)
            if not quiet:
                sys.stderr.write(text)
                sys.stderr.flush()


def _engine_arch(client: docker.DockerClient) -> str:
    arch = str(client.info().get("Architecture", "x86_64"))
    if arch not in _PLATFORMS:
        raise RuntimeError(f"unsupported engine architecture {arch!r}; supported: {sorted(set(_PLATFORMS))}")
    return _PLATFORMS[arch]


def build_image(client: docker.DockerClient | None = None, *, quiet: bool = False, no_cache: bool = False,
                languages: tuple[str, ...] | None = None) -> str:
    """Build (or find) the image for the current sources and ``languages`` (default:
    ``configured_languages()``) and return its tag.

    Incremental: the base, apt, wheel and toolchain layers come from Docker's cache; a source
    change rebuilds only the final COPY layer.
    """
    client = client or get_client()
    langs = parse_languages(list(languages)) if languages is not None else configured_languages()
    with _build_lock():
        files = snapshot()
        digest = inputs_digest(files, langs)
        tag = tag_for(digest, langs)
        # Both are network-bound and independent: the base bootstrap and the wheel download overlap.
        with ThreadPoolExecutor(max_workers=1) as pool:
            wheels_future = pool.submit(download_wheels, _engine_arch(client), quiet=quiet)
            ensure_base(client, quiet=quiet)
            wheels = wheels_future.result()
        with tempfile.TemporaryDirectory(prefix="sppo-ctx-") as tmp:
            assemble_context(Path(tmp), files, wheels)
            _say(f"docker build -> {tag}", quiet)
            _stream_build(client, Path(tmp), tag, digest, quiet=quiet, no_cache=no_cache, languages=langs)
    _say(f"built {tag}", quiet)
    return tag


def ensure_image(client: docker.DockerClient | None = None, *, quiet: bool = False,
                 languages: tuple[str, ...] | None = None) -> str:
    """Tag of the current image for ``languages`` (default: ``configured_languages()``), building it
    first when missing (the pool calls this on start)."""
    client = client or get_client()
    langs = parse_languages(list(languages)) if languages is not None else configured_languages()
    tag = image_tag(langs)
    if image_exists(client, tag):
        return tag
    return build_image(client, quiet=quiet, languages=langs)


def current_tags(client: docker.DockerClient) -> list[str]:
    """Tags of sppo-gym-sandbox images built from the current sources (any language set)."""
    files = snapshot()
    out = []
    for t in {t for img in client.images.list(name=IMAGE_REPO) for t in img.tags if t.startswith(IMAGE_REPO + ":")}:
        try:
            langs = languages_from_tag(t)
        except ValueError:
            continue
        if t == tag_for(inputs_digest(files, langs), langs):
            out.append(t)
    return sorted(out)


def stale_tags(client: docker.DockerClient) -> list[str]:
    """Tags of sppo-gym-sandbox images not built from the current sources (whatever their languages)."""
    current = set(current_tags(client))
    return sorted(
        t for img in client.images.list(name=IMAGE_REPO) for t in img.tags
        if t.startswith(IMAGE_REPO + ":") and t not in current
    )


def prune_images(client: docker.DockerClient, *, quiet: bool = False) -> list[str]:
    """Remove stale sppo-gym-sandbox tags (images still used by a container are kept)."""
    removed = []
    for tag in stale_tags(client):
        try:
            client.images.remove(tag)
            removed.append(tag)
            _say(f"removed {tag}", quiet)
        except docker.errors.APIError as e:
            _say(f"kept {tag}: {e.explanation or e}", quiet)
    return removed

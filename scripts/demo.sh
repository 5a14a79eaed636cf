#!/usr/bin/env bash
# The main job: idempotent setup (venv, Docker engine, sandbox image), then the demo command.
# Extra arguments are passed to the demo command.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
# The demo command (one line): SPPO on two-digit addition with SmolLM2-135M; prints held-out
# accuracy before and after, writes runs/sppo/ (metrics.csv, reward.png, final/).
DEMO=(.venv/bin/sppo-gym train --env sppo_gym/Arithmetic-v0 --model smollm2-135m)
echo "[demo] ${DEMO[*]} $*" >&2
exec "${DEMO[@]}" "$@"

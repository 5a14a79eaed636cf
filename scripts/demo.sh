#!/usr/bin/env bash
# The main job: idempotent setup (venv, Docker engine, sandbox image), then the demo command.
# Extra arguments are passed to the demo command.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
# The demo command (one line): SPPO on two-digit addition with SmolLM2-135M; prints held-out
# accuracy before and after, and a few held-out answers with their verdicts before and after
# (read them: a number, not the question restated); writes runs/sppo/ (metrics.csv with verdict
# counts per step, samples.json, reward.png, final/).
DEMO=(.venv/bin/sppo-gym train --env sppo_gym/Arithmetic-v0 --model smollm2-135m)
echo "[demo] ${DEMO[*]} $*" >&2
exec "${DEMO[@]}" "$@"

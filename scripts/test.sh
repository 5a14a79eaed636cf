#!/usr/bin/env bash
# Run the test-suite: idempotent setup (venv, Docker engine, sandbox image), then pytest.
# Extra arguments go to pytest, e.g. `scripts/test.sh -m "not slow"` or `scripts/test.sh tests/test_image.py`.
# Exit status is pytest's: any failure, error, or an empty selection (no tests ran) fails the run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
echo "[test] .venv/bin/python -m pytest -q $*" >&2
exec .venv/bin/python -m pytest -q "$@"

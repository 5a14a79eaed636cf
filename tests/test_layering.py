"""Import layering: trainer -> envs -> verifiers -> sandbox, and no import cycle anywhere.

The contracts are in pyproject.toml (``[tool.importlinter]``); import-linter builds the import graph
with grimp, which reads every import statement, those inside functions included, so a cycle hidden
behind a function-level import fails here as well. Same check by hand: ``lint-imports`` in the repo root.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_kept() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " kept, 0 broken." in proc.stdout, proc.stdout[-4000:]

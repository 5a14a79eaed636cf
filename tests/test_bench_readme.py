"""The README's "Benchmark a policy" example runs as written (real sandbox, real SmolLM2)."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def _example() -> tuple[str, str, list[list[str]]]:
    section = README.read_text().split("## Benchmark a policy", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(\w+)\n(.*?)```", section, re.S)
    code = next(text for lang, text in blocks if lang == "python")
    commands = [shlex.split(line) for line in next(text for lang, text in blocks if lang == "bash").splitlines()
                if line.strip()]
    return re.match(r"# (\S+\.py)", code)[1], code, commands


def test_readme_example_is_well_formed() -> None:
    name, code, commands = _example()
    assert name == "my_policy.py" and "def answer(prompt: str) -> str" in code
    assert [c[:2] for c in commands] == [["sppo-gym", "bench"]] * 3 and "--compare" in commands[-1]


@pytest.mark.docker
@pytest.mark.slow
def test_readme_example_runs(tmp_path, sandbox_pool) -> None:
    name, code, commands = _example()
    (tmp_path / name).write_text(code)
    outputs = []
    for args in commands:
        out = subprocess.run([sys.executable, "-m", "sppo_gym.trainer.cli", *args[1:]], cwd=tmp_path,
                             capture_output=True, text=True, timeout=1200)
        assert out.returncode == 0, (args, out.stderr[-2000:])
        outputs.append(out.stdout)
    calc = json.loads((tmp_path / "runs" / "calc" / "results.json").read_text())
    verdicts = calc["envs"]["sppo_gym/Arithmetic-v0"]["verdicts"]
    assert calc["accuracy"]["sppo_gym/Arithmetic-v0"] == 1.0, f"verdicts {verdicts}: is the sandbox healthy?"
    row = next(line for line in outputs[-1].splitlines() if line.startswith("| sppo_gym/Arithmetic-v0 | accuracy"))
    assert row.rstrip().endswith("| 100.0% |")  # the calculator column

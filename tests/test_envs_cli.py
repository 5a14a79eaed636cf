"""`sppo-gym envs`: every built-in id with its description, and the reasoning-gym task names."""

from __future__ import annotations

from sppo_gym.envs import BUILTIN_ENVS
from sppo_gym.trainer.cli import app
from typer.testing import CliRunner


def test_envs_command_lists_ids_and_tasks():
    result = CliRunner().invoke(app, ["envs"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for env in BUILTIN_ENVS:
        assert any(line.startswith(env.id) and env.description in line for line in lines), env.id
    assert "reasoning-gym tasks (" in result.output
    for task in ("basic_arithmetic", "letter_counting", "sudoku"):
        assert task in result.output
    assert max(len(line) for line in lines) <= 120  # compact: wrapped, not one giant line


def test_envs_command_without_tasks():
    result = CliRunner().invoke(app, ["envs", "--no-tasks"])
    assert result.exit_code == 0 and "reasoning-gym tasks" not in result.output
    assert len(result.output.splitlines()) == len(BUILTIN_ENVS)

"""The README's "Register your own task" example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_register_your_own_task_example_runs():
    text = README.read_text()
    section = text.split("## Register your own task", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1
    code = blocks[0]
    assert "register_task(" in code and "make_vec" in code
    exec(compile(code, f"{README}:register-your-own-task", "exec"), {"__name__": "readme_example"})

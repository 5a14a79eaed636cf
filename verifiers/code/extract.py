"""Take the code out of a model response (docs/CONTRACT.md, "Code": the last fenced block, else everything).

Fences follow CommonMark loosely: an opening line of three or more backticks (up to three
spaces of indent) with an optional info string, closed by a line of at least as many backticks.
Only blocks tagged as Python (``python``, ``py``, ``python3``; any case) or untagged count; blocks in
other languages (``text``, ``bash``, ...) are skipped. An unclosed fence at the end of the response
(a truncated generation) counts as a block running to the end. Without any counted block, the
whole response is the code.
"""

from __future__ import annotations

import re

PYTHON_TAGS = frozenset({"", "python", "py", "python3", "py3"})
_OPEN = re.compile(r"^ {0,3}(`{3,})([^`]*)$")  # one split point only: linear on long lines


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """All fenced blocks as ``(tag, body)`` in order; ``tag`` is the lower-cased first word."""
    blocks: list[tuple[str, str]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = _OPEN.match(lines[i])
        if not m:
            i += 1
            continue
        fence, info = m.group(1), m.group(2).split()
        tag = info[0].lower() if info else ""
        close = re.compile(r"^ {0,3}`{" + str(len(fence)) + r",}\s*$")
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            j += 1
        blocks.append((tag, "\n".join(lines[i + 1 : j])))
        i = j + 1
    return blocks


def extract_code(response: str, tags: frozenset[str] = PYTHON_TAGS) -> str:
    """The last fenced block whose tag is in ``tags``; else the whole response."""
    for tag, body in reversed(fenced_blocks(response)):
        if tag in tags:
            return body.strip("\n") + "\n"
    return response

"""Judge half of the stdin/stdout verifier: run a whole program per case, compare its output.

Runs inside the sandbox as the judge uid. Each case is a fresh ``python3 -I prog.py`` under a
fresh candidate uid (``ctx.spawn(argv=...)``) with its own time limit; stdout is read with a byte
budget. Only the program's stdout on a successful exit (code 0) is compared; an exit code,
stderr or a printed marker is never evidence of success.

Output comparison (``outputs_match``): both sides are decoded as UTF-8 (invalid bytes replaced
by U+FFFD), line endings normalised (``\\r\\n`` and ``\\r`` -> ``\\n``), trailing whitespace removed
from every line and trailing empty lines dropped; then the lines must be equal. With ``float_tol``
set, lines are split into whitespace-separated tokens instead, and two tokens that are both
decimal numbers match when ``|got - want| <= float_tol * max(1, |want|)``; all other tokens must
be equal as text.

Both modes are ASCII-only in what they treat specially, so that float mode accepts everything
exact mode accepts and, beyond that, only numbers that differ within the tolerance:

* whitespace is ASCII whitespace (space, ``\\t``, ``\\v``, ``\\f``; ``\\r`` and ``\\n`` end lines);
  other Unicode spaces (U+00A0, U+3000, ...) are ordinary characters in both modes;
* a decimal number is ``[+-]`` digits with an optional ``.`` and fraction (or ``.`` and digits),
  then an optional exponent ``[eE][+-]digits``, all digits ASCII ``0-9``. Not numbers, so compared
  as text: other Unicode digits (Arabic-Indic ``٣``, full-width ``３``), ``nan``, ``inf``, hex,
  underscores. A number that overflows to infinity (``1e999``) matches only as equal text.

The number pattern uses possessive quantifiers, so matching a long token is linear in its length.
"""

from __future__ import annotations

import math
import re
from typing import Any

_NUMBER = re.compile(r"[+-]?(?:[0-9]++(?:\.[0-9]*+)?+|\.[0-9]++)(?:[eE][+-]?[0-9]++)?+", re.ASCII)
_SPACE = " \t\v\f"
"""ASCII whitespace within a line (``\\r`` and ``\\n`` are line ends)."""
_TOKEN_SEP = re.compile(f"[{_SPACE}]+")
SYNTAX_MARKERS = ("SyntaxError:", "IndentationError:", "TabError:")


def normalise(text: str) -> list[str]:
    """Lines with normalised endings, no trailing whitespace, no trailing empty lines."""
    lines = [line.rstrip(_SPACE) for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _tokens_match(got: str, want: str, tol: float) -> bool:
    if got == want:
        return True
    if not (_NUMBER.fullmatch(got) and _NUMBER.fullmatch(want)):
        return False
    g, w = float(got), float(want)
    return math.isfinite(g) and math.isfinite(w) and abs(g - w) <= tol * max(1.0, abs(w))


def _tokens(line: str) -> list[str]:
    """Tokens separated by ASCII whitespace (the line has no trailing whitespace left)."""
    return [t for t in _TOKEN_SEP.split(line) if t]


def outputs_match(got: str, want: str, float_tol: float | None = None) -> bool:
    """Compare program output with the expected output (see module docstring)."""
    g, w = normalise(got), normalise(want)
    if float_tol is None:
        return g == w
    if len(g) != len(w):
        return False
    for gl, wl in zip(g, w, strict=True):
        gt, wt = _tokens(gl), _tokens(wl)
        if len(gt) != len(wt) or not all(_tokens_match(a, b, float_tol) for a, b in zip(gt, wt, strict=True)):
            return False
    return True


def _failure(completed: Any, index: int) -> tuple[str, str] | None:
    """Verdict for a run that did not end normally, or None if it exited with code 0."""
    where = f"case {index}"
    if completed.limit == "timeout" or completed.timed_out:
        return "timeout", f"{where}: time limit exceeded"
    if completed.limit == "output":
        return "output_limit", f"{where}: output exceeded the byte budget"
    if completed.limit == "memory":
        return "memory", f"{where}: memory limit exceeded"
    if completed.returncode == 0:
        return None
    tail = completed.stderr[-2000:].decode("utf-8", "replace")
    last = tail.strip().splitlines()[-1] if tail.strip() else ""
    if index == 0 and last.startswith(SYNTAX_MARKERS):
        return "syntax_error", last[:200]
    if last.startswith("MemoryError"):
        return "memory", f"{where}: MemoryError"
    if completed.limit == "file_size":
        return "runtime_error", f"{where}: file size limit exceeded"
    return "runtime_error", f"{where}: exit code {completed.returncode}: {last[:200]}"


def judge(payload: dict, ctx: Any) -> dict:
    """Entry point ``sppo_gym.verifiers.code.code.stdio_judge:judge`` (payload built by StdioVerifier)."""
    tests = payload["tests"]
    timeout, tol, partial = float(payload.get("timeout_s", 2.0)), payload.get("float_tol"), payload.get("partial")
    source = payload["source"].encode("utf-8")
    passed, first_bad = 0, None
    for i, case in enumerate(tests):
        want = case["output"]
        budget = max(64 * 1024, 2 * len(want.encode("utf-8")) + 1024)
        cand = ctx.spawn(argv=["python3", "-I", "prog.py"], files={"prog.py": source},
                         stdin=case["input"].encode("utf-8"), memory_mb=payload.get("memory_mb"))
        done = cand.communicate(timeout=timeout, max_bytes=budget)
        cand.close()
        bad = _failure(done, i)
        if bad is None and not outputs_match(done.stdout.decode("utf-8", "replace"), want, tol):
            bad = ("wrong_output", f"case {i}: output differs from the expected output")
        if bad is None:
            passed += 1
            continue
        first_bad = first_bad or bad
        if not partial or bad[0] == "syntax_error":
            break
    extra = {"cases": len(tests), "cases_passed": passed}
    if first_bad is None and passed == len(tests) and tests:
        return {"reward": 1.0, "verdict": "passed", "passed": True, "detail": f"{passed} cases", "extra": extra}
    verdict, detail = first_bad or ("judge_error", "no test cases")
    reward = passed / len(tests) if partial and tests else 0.0
    return {"reward": reward, "verdict": verdict, "passed": False, "detail": detail, "extra": extra}

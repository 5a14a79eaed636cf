"""Judge half of the stdin/stdout verifier: run a whole program per case, compare its output.

Runs inside the sandbox as the judge uid. Languages with a compile step (``languages``: C++,
Java, Go, Rust; JavaScript's syntax check) compile first, as a candidate of their own (fresh uid,
own directory) under the compile limits (time, address space, output bytes, file size); a
rejected or over-limit compilation is ``compile_error`` (``syntax_error`` for JavaScript) with the
compiler's first lines in ``detail``. The judge copies the one artifact it left (executable or
jar) out of that candidate's directory. Each case is then a fresh candidate (``ctx.spawn(argv=...)``,
fresh uid, the artifact or source copied in, every earlier candidate killed and swept away) with
its own time limit; stdout is read with a byte budget. Only the program's stdout on a successful
exit (code 0) is compared; an exit code, stderr or a printed marker is never evidence of success.
A language whose toolchain the image lacks is ``sandbox_error`` (the image, not the answer).

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
import shutil
from typing import Any

from ..score import SANDBOX_ERROR
from .languages import Language, get_language

_NUMBER = re.compile(r"[+-]?(?:[0-9]++(?:\.[0-9]*+)?+|\.[0-9]++)(?:[eE][+-]?[0-9]++)?+", re.ASCII)
_SPACE = " \t\v\f"
"""ASCII whitespace within a line (``\\r`` and ``\\n`` are line ends)."""
_TOKEN_SEP = re.compile(f"[{_SPACE}]+")
COMPILE_OUTPUT_BYTES = 64 * 1024
"""Compiler output kept (stdout and stderr each); more ends the compilation as ``compile_error``."""
COMPILE_DETAIL_LINES = 8
"""Compiler lines quoted in a ``compile_error`` detail."""
MAX_ARTIFACT_BYTES = 16 * 1024 * 1024
"""Largest compiled artifact carried to the runs (the job's file-size limit bounds it too)."""


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


def _out_of_memory(lang: Language, text: str, last: str) -> bool:
    """Whether a failed run's stderr says it ran out of memory (Python: a final ``MemoryError``
    line; the other runtimes print their marker first or last: ``text`` is stderr's head and tail)."""
    if lang.name == "python":
        return last.startswith(lang.memory_markers)
    return any(marker in text for marker in lang.memory_markers)


def _failure(completed: Any, index: int, lang: Language) -> tuple[str, str] | None:
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
    head = completed.stderr[:2000].decode("utf-8", "replace")  # Go and Java print the cause first
    if index == 0 and lang.syntax_markers and last.startswith(lang.syntax_markers):
        return "syntax_error", last[:200]
    if _out_of_memory(lang, head + tail, last):
        said = next((line for line in (head + "\n" + tail).splitlines()
                     if any(m in line for m in lang.memory_markers)), last)
        return "memory", f"{where}: {said.strip()[:200]}"
    if completed.limit == "file_size":
        return "runtime_error", f"{where}: file size limit exceeded"
    return "runtime_error", f"{where}: exit code {completed.returncode}: {last[:200]}"


def _compiler_lines(done: Any) -> str:
    """The compiler's first lines (stderr, then stdout), for a ``compile_error`` detail."""
    text = (done.stderr + b"\n" + done.stdout).decode("utf-8", "replace").strip()
    return "\n".join(text.splitlines()[:COMPILE_DETAIL_LINES])[:1000]


def _missing_tool(lang: Language) -> str | None:
    """The first program of ``lang``'s toolchain this image lacks (None: all there)."""
    return next((tool for tool in lang.tools if shutil.which(tool) is None), None)


def compile_program(lang: Language, source: str, payload: dict, ctx: Any) -> tuple[str, bytes] | tuple[str, str]:
    """``("ok", artifact bytes)`` or ``(verdict, detail)``: run ``lang``'s compile step as a candidate."""
    raw = source.encode("utf-8")
    if not lang.compile:
        return "ok", raw
    limit = float(payload.get("compile_timeout_s") or 30.0)
    cand = ctx.spawn(argv=lang.argv(lang.compile, source), files={lang.source_name(source): raw},
                     memory_mb=payload.get("compile_memory_mb"))
    done = cand.communicate(timeout=limit, max_bytes=COMPILE_OUTPUT_BYTES)
    try:
        if done.limit == "timeout" or done.timed_out:
            return lang.compile_verdict, f"compilation exceeded its time limit ({limit:g} s)"
        if done.limit == "output":
            return lang.compile_verdict, f"compiler output exceeded {COMPILE_OUTPUT_BYTES} bytes"
        if done.limit == "file_size":
            return lang.compile_verdict, "compilation wrote a file over the file size limit"
        if done.returncode != 0:
            lines = _compiler_lines(done)
            return lang.compile_verdict, f"exit code {done.returncode}: {lines}" if lines else f"exit code {done.returncode}"
        if lang.artifact is None:
            return "ok", raw
        try:
            return "ok", cand.read_file(lang.artifact, MAX_ARTIFACT_BYTES)
        except (OSError, ValueError) as e:
            return lang.compile_verdict, f"the compiler left no usable {lang.artifact} ({type(e).__name__})"
    finally:
        cand.close()


def _run_argv(lang: Language, source: str) -> tuple[list[str], str]:
    """The argv of one run and the name its program file gets in the candidate's directory.

    Files arrive in a candidate's directory as ``0644``: an executable artifact is made
    executable by the candidate itself (its own file) before ``exec``."""
    argv = lang.argv(lang.run, source)
    if lang.artifact is None:
        return argv, lang.source_name(source)
    if lang.executable:
        return ["/bin/sh", "-c", f"chmod 0755 {lang.artifact} && exec \"$0\" \"$@\"", *argv], lang.artifact
    return argv, lang.artifact


def judge(payload: dict, ctx: Any) -> dict:
    """Entry point ``sppo_gym.verifiers.code.stdio_judge:judge`` (payload built by StdioVerifier)."""
    tests = payload["tests"]
    timeout, tol, partial = float(payload.get("timeout_s", 2.0)), payload.get("float_tol"), payload.get("partial")
    lang = get_language(payload.get("language") or "python")
    extra: dict[str, Any] = {"cases": len(tests), "cases_passed": 0, "language": lang.name}
    missing = _missing_tool(lang)
    if missing is not None:
        return {"reward": 0.0, "verdict": SANDBOX_ERROR, "passed": False, "extra": extra,
                "detail": f"this sandbox image has no {lang.name} toolchain ({missing} not found): build one with "
                          f"`sppo-gym sandbox build --languages {lang.name}` and export SPPO_GYM_LANGUAGES={lang.name}"}
    status, built = compile_program(lang, payload["source"], payload, ctx)
    if status != "ok":
        return {"reward": 0.0, "verdict": status, "passed": False, "detail": str(built), "extra": extra}
    argv, program = _run_argv(lang, payload["source"])
    passed, first_bad = 0, None
    for i, case in enumerate(tests):
        want = case["output"]
        budget = max(64 * 1024, 2 * len(want.encode("utf-8")) + 1024)
        cand = ctx.spawn(argv=argv, files={program: built},
                         stdin=case["input"].encode("utf-8"), memory_mb=payload.get("memory_mb"))
        done = cand.communicate(timeout=timeout, max_bytes=budget)
        cand.close()
        bad = _failure(done, i, lang)
        if bad is None and not outputs_match(done.stdout.decode("utf-8", "replace"), want, tol):
            bad = ("wrong_output", f"case {i}: output differs from the expected output")
        if bad is None:
            passed += 1
            continue
        first_bad = first_bad or bad
        if not partial or bad[0] == "syntax_error":
            break
    extra["cases_passed"] = passed
    if first_bad is None and passed == len(tests) and tests:
        return {"reward": 1.0, "verdict": "passed", "passed": True, "detail": f"{passed} cases", "extra": extra}
    verdict, detail = first_bad or ("judge_error", "no test cases")
    reward = passed / len(tests) if partial and tests else 0.0
    return {"reward": reward, "verdict": verdict, "passed": False, "detail": detail, "extra": extra}

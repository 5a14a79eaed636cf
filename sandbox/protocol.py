"""Length-prefixed JSON frames: the only language the host and the job server share.

``encode`` and ``loads`` are the one encoder and decoder of frame bodies on every wire (host <->
job server, judge <-> candidate through ``channel``). ``encode`` never fails on text: lone
surrogates (which a candidate can put into any string that reaches a judge's result) become
U+FFFD, so a judge's own output is always valid UTF-8. ``loads`` raises nothing but
``ProtocolError``: invalid UTF-8, malformed JSON, nesting beyond what the interpreter's JSON
parser recurses (``RecursionError``) and, on request, more containers than a bound all end up
there, so a peer's bytes can never surface as an unexpected exception type.
"""

from __future__ import annotations

import functools
import importlib
import json
import struct
from typing import Any

HEADER = struct.Struct(">I")
MAX_FRAME = 64 * 1024 * 1024
COUNT_ABOVE = 1 << 20
"""Bodies up to this many bytes skip the container count of ``loads`` (their parse is small anyway)."""


class ProtocolError(RuntimeError):
    """The peer sent something that is not a frame (or closed the stream)."""


@functools.cache
def load_entry(spec: str) -> Any:
    """The function named by ``"module:function"`` (jobs' and candidates' entry points), imported once."""
    module, _, func = spec.partition(":")
    return getattr(importlib.import_module(module), func)


def scrub(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD (valid pairs are joined)."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def dumps(msg: Any, *, ensure_ascii: bool = False) -> bytes:
    """JSON bytes of ``msg``, valid UTF-8 even when its strings hold lone surrogates."""
    text = json.dumps(msg, separators=(",", ":"), ensure_ascii=ensure_ascii)
    try:
        return text.encode()
    except UnicodeEncodeError:
        return scrub(text).encode()


def encode(msg: dict) -> bytes:
    body = dumps(msg)
    return HEADER.pack(len(body)) + body


def loads(body: bytes, *, max_containers: int | None = None) -> Any:
    """Parse a frame body; raise ProtocolError (only) if it is not JSON or is too deeply nested,
    or if it holds more than ``max_containers`` arrays and objects (checked before parsing, so a
    small body cannot make the parser build millions of objects)."""
    if (max_containers is not None and len(body) > COUNT_ABOVE
            and body.count(b"[") + body.count(b"{") > max_containers  # brackets inside strings count too
            and _containers_outside_strings(body) > max_containers):
        raise ProtocolError(f"message holds more than {max_containers} arrays and objects")
    try:
        return json.loads(body)
    except RecursionError:
        raise ProtocolError("message nests too deeply") from None
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError
        raise ProtocolError(f"malformed message: {str(e)[:100]}") from None


def _containers_outside_strings(body: bytes) -> int:
    """``[`` and ``{`` outside JSON strings, in linear time (C-level passes only): drop escaped
    backslashes, then escaped quotes, so that every quote left delimits a string."""
    parts = body.replace(b"\\\\", b"").replace(b'\\"', b"").split(b'"')
    outside = b"".join(parts[::2])
    return outside.count(b"[") + outside.count(b"{")


def decode_body(body: bytes) -> dict:
    msg = loads(body)
    if not isinstance(msg, dict):
        raise ProtocolError("frame is not a JSON object")
    return msg


class FrameReader:
    """Incremental decoder: feed bytes, take complete messages."""

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self._buf = bytearray()
        self._max = max_frame

    def feed(self, data: bytes) -> list[dict]:
        self._buf += data
        out = []
        while len(self._buf) >= HEADER.size:
            (n,) = HEADER.unpack_from(self._buf)
            if n > self._max:
                raise ProtocolError(f"frame of {n} bytes exceeds {self._max}")
            if len(self._buf) < HEADER.size + n:
                break
            body = bytes(self._buf[HEADER.size : HEADER.size + n])
            del self._buf[: HEADER.size + n]
            out.append(decode_body(body))
        return out

"""Length-prefixed JSON frames: the only language the host and the job server share."""

from __future__ import annotations

import functools
import importlib
import json
import struct
from typing import Any

HEADER = struct.Struct(">I")
MAX_FRAME = 64 * 1024 * 1024


class ProtocolError(RuntimeError):
    """The peer sent something that is not a frame (or closed the stream)."""


@functools.cache
def load_entry(spec: str) -> Any:
    """The function named by ``"module:function"`` (jobs' and candidates' entry points), imported once."""
    module, _, func = spec.partition(":")
    return getattr(importlib.import_module(module), func)


def encode(msg: dict) -> bytes:
    body = json.dumps(msg, separators=(",", ":"), ensure_ascii=False).encode()
    return HEADER.pack(len(body)) + body


def decode_body(body: bytes) -> dict:
    msg = json.loads(body)
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

"""Framed plain-data messages over a socket: the judge <-> candidate wire.

Everything read here comes from an untrusted peer, so ``recv`` is bounded at every step: a
frame is at most ``max_frame`` bytes, its JSON is parsed by ``protocol.loads`` (no more arrays
than ``plaindata`` could need for ``MAX_NODES`` values, nesting bounded) and rebuilt by
``plaindata.decode`` (bounded depth, values, integer size). Whatever the peer writes, ``recv``
returns a plain value or raises ``ChannelTimeout``, ``ChannelClosed``, ``ProtocolError`` or
``PlainDataError``; nothing else.
"""

from __future__ import annotations

import os
import select
import time
from typing import Any

from . import plaindata
from .protocol import HEADER, ProtocolError, dumps, loads

DEFAULT_MAX_FRAME = 16 * 1024 * 1024
MAX_CONTAINERS = 3 * plaindata.MAX_NODES
"""JSON arrays an encoding of ``MAX_NODES`` values can hold: per value its node, its item list
(containers) or pair (complex), and its key-value pair inside a dict."""


class ChannelClosed(EOFError):
    """The other end closed the channel (it exited or was killed)."""


class ChannelTimeout(TimeoutError):
    """No complete message arrived in time."""


class Channel:
    """Send/receive plain data (see ``plaindata``) over a connected stream fd, bounded in size."""

    def __init__(self, fd: int, *, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        self.fd = fd
        self.max_frame = max_frame
        self._buf = bytearray()

    def send(self, value: Any) -> None:
        body = dumps(plaindata.encode(value), ensure_ascii=True)  # strings cross exactly, lone surrogates too
        if len(body) > self.max_frame:
            raise plaindata.PlainDataTooLarge(f"message of {len(body)} bytes exceeds {self.max_frame}")
        data = memoryview(HEADER.pack(len(body)) + body)
        while data:
            try:
                n = os.write(self.fd, data)
            except (BrokenPipeError, ConnectionResetError) as e:
                raise ChannelClosed("peer closed the channel") from e
            data = data[n:]

    def recv(self, timeout: float | None = None) -> Any:
        """Next message, rebuilt from plain data. Raises ChannelTimeout / ChannelClosed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            msg = self._take()
            if msg is not None:
                return plaindata.decode(msg)
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self.fd], [], [], wait)
            if not ready:
                raise ChannelTimeout(f"no message within {timeout} s")
            try:
                chunk = os.read(self.fd, 1 << 16)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                raise ChannelClosed("peer closed the channel")
            self._buf += chunk
            if len(self._buf) > self.max_frame + HEADER.size:
                raise ProtocolError(f"incoming message exceeds {self.max_frame} bytes")

    def _take(self) -> Any | None:
        if len(self._buf) < HEADER.size:
            return None
        (n,) = HEADER.unpack_from(self._buf)
        if n > self.max_frame:
            raise ProtocolError(f"incoming message of {n} bytes exceeds {self.max_frame}")
        if len(self._buf) < HEADER.size + n:
            return None
        body = bytes(self._buf[HEADER.size : HEADER.size + n])
        del self._buf[: HEADER.size + n]
        return loads(body, max_containers=MAX_CONTAINERS)

    def close(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass

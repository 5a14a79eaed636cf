"""First code of every ``target=`` candidate: a fresh interpreter, exec'd after the uid switch.

Candidates are not run in a fork of the job server: a fork would carry a copy of the server's
memory, where earlier requests (test code, expected values) linger in freed buffers, and a
candidate can make itself dumpable and read its own memory. ``exec`` replaces all of it. The
arguments arrive as the first plain-data message on the channel (fd 3), sent by the judge.
"""

from __future__ import annotations

import importlib
import sys

from .channel import Channel


def main(target: str) -> None:
    channel = Channel(3)
    args = channel.recv()
    module, _, func = target.partition(":")
    getattr(importlib.import_module(module), func)(args, channel)


if __name__ == "__main__":
    main(sys.argv[1])

"""First code of every ``target=`` candidate: read the arguments, call the target function.

Candidates are never forks of the job server: its memory holds earlier requests (test code,
expected values) in freed buffers, and a candidate can make itself dumpable and read its own
memory. They are forks of the zygote (``zygote.py``, a fresh interpreter that never sees job data)
or, where there is no zygote, fresh interpreters exec'd with ``main``. The arguments arrive as
the first plain-data message on the channel (fd 3), sent by the judge.
"""

from __future__ import annotations

import sys
from typing import Any

from .channel import Channel
from .protocol import load_entry


def run(func: Any) -> None:
    channel = Channel(3)
    args = channel.recv()
    func(args, channel)


def main(target: str) -> None:
    run(load_entry(target))


if __name__ == "__main__":
    main(sys.argv[1])

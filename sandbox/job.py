"""What goes into the sandbox (`Job`) and what comes back (`JobResult`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .limits import Limits

#: Closed set of job statuses. ``sandbox_error`` is infrastructure, never a verdict on the job.
STATUSES = ("ok", "error", "timeout", "memory", "output_limit", "sandbox_error")
STARVED = "starved"
"""Wire status of a job killed at its wall limit while starved of CPU (``cpu_share``); the pool
retries such a job and reports ``sandbox_error`` if every attempt starves: never a ``JobResult``
status a caller sees."""


@dataclass(frozen=True)
class Job:
    """Run ``entry`` (``"module:function"``, importable inside the image) on ``payload``."""

    entry: str
    payload: dict[str, Any] = field(default_factory=dict)
    limits: Limits | None = None

    def __post_init__(self) -> None:
        module, sep, func = self.entry.partition(":")
        if not (module and sep and func):
            raise ValueError(f"Job.entry must look like 'package.module:function', got {self.entry!r}")


@dataclass
class JobResult:
    """Structured outcome of one job; output excerpts are bounded in bytes."""

    status: str
    value: Any = None
    stdout: str = ""
    stderr: str = ""
    elapsed: float = 0.0
    signal: int | None = None
    limit_hit: str | None = None
    detail: str = ""
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @classmethod
    def from_wire(cls, msg: dict) -> JobResult:
        return cls(
            status=msg.get("status", "sandbox_error"),
            value=msg.get("value"),
            stdout=msg.get("stdout", ""),
            stderr=msg.get("stderr", ""),
            elapsed=float(msg.get("elapsed", 0.0)),
            signal=msg.get("signal"),
            limit_hit=msg.get("limit_hit"),
            detail=msg.get("detail", ""),
        )

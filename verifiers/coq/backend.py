"""Prover-neutral half of the proof verifier: task, outcome, process runner, backend interface.

A *backend* (Coq today, Lean later) knows one prover: how to screen source textually and how to
build and check the candidate files. Everything else is shared: the task record rebuilt with
exact type checks from the judge payload, the :class:`Runner` that runs every prover process as
an untrusted sandbox candidate (``ctx.spawn``; the judge uid never runs a prover on candidate
source), and :func:`judge_proof`, the order of the steps (screen first, then the backend's check).

Adding Lean: write ``verifiers/lean_check.py`` with a ``LeanBackend(ProofBackend)`` and add it to
``BACKENDS``; the host verifier, the judge entry point and the environment stay as they are.
"""

from __future__ import annotations

import importlib
import re
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from .screen import Rejection

#: Backends by name, imported lazily (the judge imports only the one a payload names).
BACKENDS: dict[str, str] = {"coq": "sppo_gym.verifiers.coq.check:CoqBackend"}

_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_']*")
_AXIOM_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_']*(?:\.[A-Za-z_][A-Za-z0-9_']*)*")
_OOM_MARKERS = (b"out of memory", b"not enough memory", b"cannot allocate memory")


@dataclass(frozen=True)
class ProofTask:
    """One theorem to prove. Built from the judge payload; every field is checked exactly."""

    name: str
    statement: str
    preamble: str = ""
    allowed_axioms: tuple[str, ...] = ()
    compile_timeout_s: float = 30.0
    check_timeout_s: float = 30.0
    memory_mb: int | None = None

    def __post_init__(self) -> None:
        if type(self.name) is not str or not _NAME_RE.fullmatch(self.name) or self.name.startswith("__sppo"):
            raise ValueError(f"theorem name must be a plain identifier like 'add_comm', got {self.name!r}")
        for fld in ("statement", "preamble"):
            if type(getattr(self, fld)) is not str:
                raise TypeError(f"{fld} must be str, got {type(getattr(self, fld)).__name__}")
        if not self.statement.strip():
            raise ValueError("statement must be non-empty Coq (the type after 'Theorem name :')")
        for ax in self.allowed_axioms:
            if type(ax) is not str or not _AXIOM_RE.fullmatch(ax):
                raise ValueError(f"allowed_axioms entries must be qualified names like "
                                 f"'Coq.Logic.Classical_Prop.classic', got {ax!r}")
        for fld in ("compile_timeout_s", "check_timeout_s"):
            if type(getattr(self, fld)) not in (int, float) or not getattr(self, fld) > 0:
                raise ValueError(f"{fld} must be a positive number, got {getattr(self, fld)!r}")

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> ProofTask:
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(payload) - known)
        if unknown:
            raise ValueError(f"unknown proof task field(s) {unknown}; known: {sorted(known)}")
        data = dict(payload)
        data["allowed_axioms"] = tuple(data.get("allowed_axioms") or ())
        return cls(**data)

    def to_payload(self) -> dict[str, Any]:
        return {f: (list(v) if isinstance(v, tuple) else v)
                for f, v in ((f, getattr(self, f)) for f in self.__dataclass_fields__)}


@dataclass
class Outcome:
    """The backend's verdict on one proof; ``to_score`` gives the fields of a ``Score``."""

    verdict: str
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_score(self) -> dict[str, Any]:
        passed = self.verdict == "proved"
        return {"reward": 1.0 if passed else 0.0, "verdict": self.verdict, "passed": passed,
                "detail": self.detail[:400], "extra": self.extra}


@dataclass
class StepResult:
    """What one prover process did: exit code, bounded output, which limit ended it, output files."""

    returncode: int | None
    stdout: str
    stderr: str
    limit: str | None  # "timeout" | "memory" | "output" | "file_size" | None
    files: dict[str, bytes]
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.limit is None and self.returncode == 0

    def tail(self, n: int = 600) -> str:
        """The last ``n`` characters of the diagnostics, whitespace folded, for a verdict detail."""
        text = " ".join((self.stderr + "\n" + self.stdout).split())
        return text[-n:] if text else f"exit code {self.returncode}, no output"


class Runner(Protocol):
    """Runs one prover process on ``files`` and returns its result plus the files in ``outputs``."""

    def run(self, argv: list[str], files: dict[str, bytes | str], *, timeout: float,
            outputs: tuple[str, ...] = ()) -> StepResult: ...

    def time_left(self) -> float: ...


class SpawnRunner:
    """The judge-side runner: every process is an untrusted sandbox candidate (own uid, own dir)."""

    def __init__(self, ctx: Any, memory_mb: int | None = None, max_output_file: int = 32 * 1024 * 1024):
        self.ctx = ctx
        self.memory_mb = memory_mb
        self.max_output_file = max_output_file

    def time_left(self) -> float:
        return self.ctx.time_left()

    def run(self, argv: list[str], files: dict[str, bytes | str], *, timeout: float,
            outputs: tuple[str, ...] = ()) -> StepResult:
        t0 = time.monotonic()
        cand = self.ctx.spawn(argv=list(argv), files=dict(files), memory_mb=self.memory_mb)
        try:
            done = cand.communicate(timeout=max(0.1, timeout))
            limit = done.limit
            said = (done.stderr + done.stdout[-4096:]).lower()
            if limit is None and done.returncode != 0 and any(m in said for m in _OOM_MARKERS):
                limit = "memory"
            got: dict[str, bytes] = {}
            if limit is None:
                for name in outputs:
                    data = read_output(cand, name, self.max_output_file)
                    if data is not None:
                        got[name] = data
        finally:
            cand.kill()
            cand.close()
        return StepResult(done.returncode, done.stdout.decode("utf-8", "replace"),
                          done.stderr.decode("utf-8", "replace"), limit, got, time.monotonic() - t0)


def read_output(cand: Any, name: str, max_bytes: int) -> bytes | None:
    """A regular file the candidate wrote in its directory, or ``None`` (missing, foreign, too big)."""
    try:
        return cand.read_file(name, max_bytes=max_bytes)
    except (OSError, ValueError):
        return None


class ProofBackend(ABC):
    """One prover. ``screen`` is textual and cheap; ``check`` runs the prover through ``runner``."""

    name: ClassVar[str]

    @abstractmethod
    def screen(self, source: str) -> Rejection | None:
        """A reason to refuse ``source`` before any prover process runs, else ``None``."""

    @abstractmethod
    def check(self, task: ProofTask, source: str, runner: Runner) -> Outcome:
        """Build the candidate, compile it, and check it against the reference statement."""


def get_backend(name: str) -> ProofBackend:
    try:
        target = BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown proof backend {name!r}; known: {sorted(BACKENDS)}") from None
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)()


def judge_proof(backend: ProofBackend, task: ProofTask, source: str, runner: Runner) -> Outcome:
    """Screen first (no prover runs on refused source), then the backend's full check."""
    if not source.strip():
        return Outcome("compile_error", "empty proof")
    if "\x00" in source:
        return Outcome("compile_error", "the source contains NUL bytes")
    rejection = backend.screen(source)
    if rejection is not None:
        return Outcome(rejection.verdict, rejection.detail, {"command": rejection.command})
    return backend.check(task, source, runner)


LIMIT_VERDICTS = {"timeout": "timeout", "memory": "memory", "output": "output_limit", "file_size": "output_limit"}

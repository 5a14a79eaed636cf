"""One run of the Python-tests judge: trusted tests here, the candidate in another process.

Runs inside the sandbox as the judge uid (entry points: ``code.python_tests_judge``; the speed
reward, ``code.speed``, runs ``judge_run`` repeatedly). The dataset's test code (HumanEval ``check`` or MBPP
assert lines) is executed *here*, with the entry point bound to a ``CandidateProxy`` that
forwards each call to the candidate process (``code.candidate.serve``, another uid) and returns
the reply rebuilt as plain data. So no candidate object, frame, patch or exit can touch the
asserts: the candidate can only answer calls.

Semantics the tests see (documented in ``python_tests.PythonTestsVerifier``):

* arguments cross by value (plain data only; a test that passes anything else is a dataset
  problem, ``judge_error``); the candidate mutating its copies does not change the test's objects;
* return values come back with their exact builtin type (``True`` stays ``bool``, ``1`` ``int``);
  the test's own ``==`` then decides, exactly as in-process;
* a candidate exception is re-raised as the builtin class of that name (so ``except ValueError``
  in a test works) or as ``CandidateError``; exits, crashes, timeouts, memory and non-plain
  returns raise ``CandidateFatal`` (a ``BaseException``) and decide the verdict even if the test
  swallows them.
* every ``assert`` is rewritten to a counted check (independent of ``python -O``); ``passed``
  needs the test to complete, at least one assert and one candidate call, and no failure.
"""

from __future__ import annotations

import builtins
import copy
import os
import select
import time
from typing import Any

import sppo_gym.verifiers.code.candidate  # noqa: F401  (preloaded in the server: candidates fork with it)
from sppo_gym.sandbox.channel import ChannelTimeout
from sppo_gym.sandbox.cleanup import uids_alive
from sppo_gym.sandbox.plaindata import PlainDataError, PlainDataTooLarge, short_text
from sppo_gym.sandbox.protocol import ProtocolError
from sppo_gym.verifiers.code import cpu_clock
from sppo_gym.verifiers.code.testprog import AssertTally, TestProgram

try:  # present in the sandbox image; the import is kept soft for tooling that lacks it
    from sppo_gym.sandbox.runtime import CandidateExited
except ImportError:  # pragma: no cover
    CandidateExited = EOFError  # type: ignore[misc,assignment]

CANDIDATE_TARGET = "sppo_gym.verifiers.code.candidate:serve"
GO_DELAY_S = 0.01
"""Timed runs: pause between noting ``t_go_ns`` and letting the code load, longer than the
coarse clock that stamps file times lags, so that any change the code makes is stamped later."""
CRASH_SIGNALS = {4: "SIGILL", 6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE", 11: "SIGSEGV", 25: "SIGXFSZ"}
_BUILTIN_EXC = {
    name: obj for name, obj in vars(builtins).items()
    if isinstance(obj, type) and issubclass(obj, Exception) and not issubclass(obj, Warning)
}


class CandidateError(Exception):
    """A candidate exception whose type is not a builtin exception."""


class CandidateFatal(BaseException):
    """The candidate can no longer answer (exit, crash, timeout, memory, bad return)."""

    def __init__(self, verdict: str, detail: str) -> None:
        super().__init__(f"{verdict}: {detail}")
        self.verdict, self.detail = verdict, detail


class NonPlainArgument(BaseException):
    """The test passed an argument that cannot cross as plain data (a dataset limitation)."""


class CandidateProxy:
    """Stands for the entry point in the test namespace; each call is one round trip."""

    def __init__(self, cand: Any, budget_s: float, call_timeout_s: float | None) -> None:
        self.cand = cand
        self.budget_s = budget_s
        self.call_timeout_s = call_timeout_s
        self.used_s = 0.0
        self.calls = 0
        self.record: list[dict] | None = None
        """When a list, each call's arguments are appended (copies), to be replayed elsewhere."""
        self.clock: Any = None
        """Timed runs: the candidate's CPU clock (``cpu_clock``), or ``time.perf_counter`` without one."""
        self.clock_kind = ""
        self.cpu_start = self.cpu_end = 0.0
        self.t_go_ns = 0
        """Timed runs: wall clock (ns) before the candidate's code may run; file times after it are its doing."""
        self.fatal: CandidateFatal | None = None
        self.last_exc: BaseException | None = None
        """The candidate exception raised by the most recent call, if it raised."""

    def _recv(self) -> Any:
        left = self.budget_s - self.used_s
        if self.call_timeout_s is not None:
            left = min(left, self.call_timeout_s)
        t0 = time.monotonic()
        try:
            return self.cand.recv(timeout=max(0.0, left))
        finally:
            self.used_s += time.monotonic() - t0

    def start_clock(self) -> None:
        """Timed runs: read the candidate's clock before its code loads, then let it load."""
        if self.receive("while starting") != {"ready": True}:
            raise self.fail("bad_return", "malformed start message")
        clock = cpu_clock.clock_for_uid(self.cand.cid)
        self.clock, self.clock_kind = (clock, "cpu") if clock is not None else (time.perf_counter, "wall")
        self.cpu_start = self.clock()
        self.t_go_ns = time.time_ns()
        time.sleep(GO_DELAY_S)
        try:
            self.cand.send({"go": True})
        except CandidateExited as e:
            raise self.fail(*exit_verdict(getattr(e, "returncode", None), "while starting")) from None

    @property
    def run_s(self) -> float:
        """Timed runs: the candidate's seconds from loading its code to its last answer."""
        return self.cpu_end - self.cpu_start

    def fail(self, verdict: str, detail: str) -> CandidateFatal:
        """Record the first fatal outcome (it decides the verdict) and kill the candidate."""
        if self.fatal is None:
            self.fatal = CandidateFatal(verdict, detail)
            try:
                self.cand.kill()
            except Exception:
                pass
        return self.fatal

    def receive(self, what: str) -> Any:
        """One message from the candidate, with every failure mapped to a fatal verdict."""
        try:
            return self._recv()
        except ChannelTimeout:
            raise self.fail("timeout", f"no answer {what} within the {self.budget_s:g} s budget") from None
        except CandidateExited as e:
            raise self.fail(*exit_verdict(getattr(e, "returncode", None), what)) from None
        except (ProtocolError, PlainDataError, ValueError) as e:
            raise self.fail("bad_return", f"malformed message {what}: {e}"[:200]) from None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.fatal is not None:
            raise self.fatal
        self.calls += 1
        self.last_exc = None
        call = {"args": list(args), "kwargs": kwargs}
        try:
            self.cand.send(call)
        except PlainDataTooLarge as e:
            if self.calls > 1:  # may be built from its earlier answers (passed back, combined)
                raise self.fail("bad_return", f"an argument built after its answers is too large: {e}"[:200]) from None
            raise NonPlainArgument(f"the test passes an argument beyond the plain-data bounds: {e}") from None
        except PlainDataError as e:
            raise NonPlainArgument(f"the test passes an argument that is not plain data: {e}") from None
        except CandidateExited as e:
            raise self.fail(*exit_verdict(getattr(e, "returncode", None), "before a call")) from None
        reply = self.receive(f"to call {self.calls}")
        if self.record is not None:
            self.record.append(copy.deepcopy(call))  # plain data (it crossed); the test may mutate it later
        return self.unpack(reply)

    def unpack(self, reply: Any) -> Any:
        if not isinstance(reply, dict) or len(reply) not in (1, 2):
            raise self.fail("bad_return", "malformed reply")
        if "ok" in reply and len(reply) == 1:
            return reply["ok"]
        if "bad_return" in reply:
            raise self.fail("bad_return", f"returned {short_text(reply['bad_return'])}, not plain data")
        if "exit" in reply:
            raise self.fail("early_exit", f"SystemExit({short_text(reply['exit'])}) during call {self.calls}")
        name, msg = reply.get("exc"), reply.get("msg", "")
        if not (isinstance(name, str) and isinstance(msg, str)):
            raise self.fail("bad_return", "malformed reply")
        if name == "MemoryError":
            raise self.fail("memory", f"MemoryError during call {self.calls}")
        self.last_exc = candidate_exception(name, msg)
        raise self.last_exc


def candidate_exception(name: str, msg: str) -> Exception:
    """A fresh judge-side exception standing for the candidate's ``name: msg``."""
    cls = _BUILTIN_EXC.get(name)
    if cls is not None:
        try:
            return cls(msg)
        except Exception:
            pass
    err = CandidateError(f"{name[:100]}: {msg}")
    err.type_name = name[:100]  # type: ignore[attr-defined]
    return err


def exit_verdict(returncode: int | None, what: str) -> tuple[str, str]:
    """A dead candidate: crashes are runtime errors, anything else is an early exit."""
    if returncode is not None and -returncode in CRASH_SIGNALS:
        return "runtime_error", f"candidate crashed with {CRASH_SIGNALS[-returncode]} {what}"
    return "early_exit", f"candidate ended with code {returncode} {what}"


def run_test(payload: dict, proxy: CandidateProxy, run: AssertTally) -> None:
    """Execute setup + test with the entry point bound to ``proxy``; outcomes go to ``run``."""
    ns: dict[str, Any] = {"__name__": "__sppo_test__", "__builtins__": builtins}
    if payload.get("setup"):
        exec(compile(payload["setup"], "<setup>", "exec"), ns)
    program = TestProgram(payload["test"])
    run.static = program.static
    ns.update(__sppo_assert__=run.check, __sppo_fail__=run.fail)
    ns[payload["entry_point"]] = proxy
    for module in program.statements:
        try:
            exec(compile(module, "<test>", "exec"), ns)
        except BaseException as e:
            run.record(e, proxy.last_exc)
            if not run.partial or proxy.fatal is not None or isinstance(e, NonPlainArgument):
                return
    if program.defines_check:
        try:
            ns["check"](proxy)
        except BaseException as e:
            run.record(e, proxy.last_exc)


def decide(proxy: CandidateProxy, run: AssertTally) -> dict:
    """Turn what happened into Score fields. Positive, complete evidence is needed to pass."""
    error = run.error
    extra = {"asserts": run.executed, "asserts_held": run.held, "calls": proxy.calls}
    if proxy.fatal is not None:
        return _score(0.0, proxy.fatal.verdict, proxy.fatal.detail, extra)
    if isinstance(error, NonPlainArgument):
        return _score(0.0, "judge_error", str(error)[:300], extra)
    if error is None and run.executed and proxy.calls and run.held == run.executed:
        return _score(1.0, "passed", f"{run.held} asserts held over {proxy.calls} calls", extra, passed=True)
    if error is None and not run.executed:
        if run.static and proxy.calls:  # its answers can steer the test past its asserts (an empty list)
            return _score(0.0, "failed", "the test ran none of its asserts on the candidate's answers", extra)
        return _score(0.0, "judge_error", "the test ran no assertion", extra)
    if not proxy.calls:  # nothing the candidate did can have caused this
        what = f"raised {type(error).__name__}: {_text(error)}" if error is not None else "never called the entry point"
        return _score(0.0, "judge_error", f"the test {what}"[:300], extra)
    denom = max(run.static, run.executed)
    reward = run.held / denom if run.partial and denom else 0.0
    if run.from_candidate:
        return _score(reward, "runtime_error", f"{type(error).__name__}: {_text(error)}"[:300], extra)
    if error is not None and not isinstance(error, AssertionError):
        detail = f"test raised {type(error).__name__}: {_text(error)}"
    else:
        detail = f"{run.executed - run.held} of {run.executed} asserts failed" if error is None else f"assert failed: {_text(error)}"
    return _score(reward, "failed", detail[:300], extra)


def _text(error: BaseException) -> str:
    """``str(error)`` for a detail; never raises (an assert message may hold a candidate's value,
    e.g. an int beyond the decimal conversion limit)."""
    try:
        return str(error)[:300]
    except Exception:
        return f"<{type(error).__name__} with an unprintable message>"


def _score(reward: float, verdict: str, detail: str, extra: dict, passed: bool = False) -> dict:
    return {"reward": reward, "verdict": verdict, "passed": passed, "detail": detail, "extra": extra}


LOAD_VERDICTS = frozenset({"syntax_error", "missing_entry_point", "early_exit", "runtime_error", "memory"})


def judge_run(payload: dict, ctx: Any, source: str, *, settle_after: bool = False,
              record: list[dict] | None = None, timed: bool = False) -> tuple[dict, CandidateProxy]:
    """Spawn one candidate process for ``source``, run the test against it, score it.

    ``settle_after``: make sure no process of the candidate is left when this returns (the next
    problem or timed run must not share the CPU with it). ``timed``: one-process candidate whose
    CPU clock is read before its code loads and after the test (``proxy.run_s``).
    """
    cand = ctx.spawn(
        target=CANDIDATE_TARGET,
        args={"source": source, "prelude": payload.get("prelude", ""), "timed": timed,
              "entry_point": payload["entry_point"], "recursion_limit": payload.get("recursion_limit", 1000)},
        memory_mb=payload.get("memory_mb"),
    )
    proxy = CandidateProxy(cand, float(payload.get("timeout_s", 6.0)), payload.get("call_timeout_s"))
    proxy.record = record
    try:
        if timed:
            try:
                proxy.start_clock()
            except CandidateFatal as f:
                return _score(0.0, f.verdict, f.detail, {}), proxy
        return _judge_loaded(payload, proxy), proxy
    finally:
        if timed and proxy.fatal is None:
            try:
                proxy.cpu_end = proxy.clock()
            except OSError:  # it ended on its own after its last answer: its time is unknown
                proxy.cpu_end = float("nan")
        if settle_after and proxy.fatal is None:
            settle(cand)
        elif proxy.fatal is None:
            try:
                cand.send({"stop": True})  # let it exit by itself: a kill would recycle the container
            except BaseException:
                pass


def _judge_loaded(payload: dict, proxy: CandidateProxy) -> dict:
    try:
        first = proxy.receive("while loading")
    except CandidateFatal as f:
        return _score(0.0, f.verdict, f.detail, {})
    if not isinstance(first, dict) or not isinstance(first.get("load"), str):
        return _score(0.0, "bad_return", "malformed load message", {})
    if first["load"] != "ok":
        verdict = first["load"] if first["load"] in LOAD_VERDICTS else "runtime_error"
        return _score(0.0, verdict, short_text(first.get("detail", ""), 300), {})
    run = AssertTally(bool(payload.get("partial", False)))
    run_test(payload, proxy, run)
    return decide(proxy, run)


# ---- several problems in one job ---------------------------------------------------------------
SETTLE_S = 1.0
"""How long a stopped candidate may take to exit before it is killed."""


def _wait_closed(fd: int, deadline: float) -> None:
    """Wait until the peer of socket ``fd`` closes it (what it sends meanwhile is dropped)."""
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            return
        try:
            if not os.read(fd, 1 << 16):
                return
        except OSError:
            return


def settle(cand: Any) -> None:
    """Stop the candidate and make sure no process of its uid outlives its problem.

    Several problems share one job (``judge_many``); a daemon left by one candidate must not be
    able to slow down or disturb the next one. The channel closing says the candidate is exiting
    (cheap to wait for); /proc then says whether any process of its uid still runs (the channel
    proves nothing: a child may not hold it); whatever remains after ``SETTLE_S`` is killed.
    """
    if not os.path.exists("/proc/1/status"):  # /proc hides other processes: cannot check, so kill
        cand.kill()
        return
    try:
        cand.send({"stop": True})
    except BaseException:
        pass
    deadline = time.monotonic() + SETTLE_S
    _wait_closed(cand.channel.fd, deadline)
    if uids_alive([cand.cid], wait_s=max(0.0, deadline - time.monotonic())):
        cand.kill()

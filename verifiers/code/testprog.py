"""The trusted test program of the Python-tests judge: assert rewriting and tallies.

Runs in the judge (``code.python_tests_judge``). ``TestProgram`` parses the dataset's test once and rewrites
every ``assert`` into a counted check (``AssertTally``), so counting works and does not depend on
``python -O``. MBPP-style tests (no ``check``) are split into top-level statements, run one by one.

Calls are never sent ahead of the test (no prefetching of later calls' arguments): the candidate
sees the arguments of call *i* only after it has answered call *i-1*, as in-process, so a later
argument can never reveal an earlier expected value.
"""

from __future__ import annotations

import ast
from typing import Any


class _AssertRewriter(ast.NodeTransformer):
    """``assert t, m`` -> ``if not __sppo_assert__(t): __sppo_fail__(m)``: counted, -O proof."""

    def visit_Assert(self, node: ast.Assert) -> ast.stmt:
        self.generic_visit(node)
        check = ast.Call(ast.Name("__sppo_assert__", ast.Load()), [node.test], [])
        fail = ast.Call(ast.Name("__sppo_fail__", ast.Load()), [node.msg] if node.msg else [], [])
        new = ast.If(ast.UnaryOp(ast.Not(), check), [ast.Expr(fail)], [])
        return ast.fix_missing_locations(ast.copy_location(new, node))


class AssertTally:
    """Counts assert outcomes and keeps the first error; in partial mode a failed assert is
    recorded and the test goes on."""

    def __init__(self, partial: bool) -> None:
        self.partial = partial
        self.executed = 0
        self.held = 0
        self.static = 0
        """Number of assert statements in the test source."""
        self.error: BaseException | None = None
        """The first exception that ended a statement (or the check)."""
        self.from_candidate = False
        """Whether that exception is (or came from handling) the candidate's own exception."""

    def record(self, error: BaseException, candidate_exc: BaseException | None) -> None:
        if self.error is None:
            self.error, self.from_candidate = error, _caused_by(error, candidate_exc)

    def check(self, value: Any) -> bool:
        self.executed += 1
        ok = bool(value)
        self.held += ok
        return ok or self.partial

    @staticmethod
    def fail(msg: Any = None) -> None:
        raise AssertionError(msg) if msg is not None else AssertionError()


class TestProgram:
    """A parsed, rewritten test: the statements to execute and the number of asserts."""

    __test__ = False  # not a pytest class

    def __init__(self, test: str) -> None:
        tree = ast.parse(test, "<test>")
        self.static = sum(isinstance(n, ast.Assert) for n in ast.walk(tree))
        self.defines_check = any(isinstance(n, ast.FunctionDef) and n.name == "check" for n in tree.body)
        tree = _AssertRewriter().visit(tree)
        self.statements = [tree] if self.defines_check else [ast.Module([stmt], []) for stmt in tree.body]


def _caused_by(error: BaseException, exc: BaseException | None) -> bool:
    """True if ``error`` is the candidate's exception ``exc`` or was raised while handling it."""
    seen = 0
    while error is not None and seen < 20:
        if error is exc:
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False



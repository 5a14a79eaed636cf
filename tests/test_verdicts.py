"""The verdict set is closed, and a judge that breaks it costs one item, never a batch.

* Source scan: every verdict written as a literal in the verifiers and envs is in ``VERDICTS``:
  ``"verdict"`` keys and keywords, ``Score``/``Outcome``/``Rejection`` arguments, arguments of our
  own functions' ``verdict`` parameter, ``verdict = ...`` (also ``verdict, detail = ...``), tables
  named ``*VERDICT(S)``, what functions named ``*verdict*`` return, comparisons with ``.verdict``;
  local names, constants and our own functions' return values are followed. A typo or a new
  verdict nobody declared fails here, before any judge can emit it.
* Every host path from a judge's value to a ``Score`` (one problem per job, packed jobs, each
  family's ``verify_batch``) turns an unknown verdict into ``judge_error`` for that item. These
  run through the real Docker pool with the sandbox's ``echo`` entry as the judge, so the value
  the host receives is exactly the one the test chose.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest
import sppo_gym.envs
import sppo_gym.verifiers
from sppo_gym.sandbox import Job, JobResult
from sppo_gym.verifiers import get_verifier
from sppo_gym.verifiers.base import score_from_result, score_from_value
from sppo_gym.verifiers.code.python_tests import unpack
from sppo_gym.verifiers.math.verifier import unpack as unpack_math_chunk
from sppo_gym.verifiers.reasoning_gym.verifier import ReasoningGymVerifier
from sppo_gym.verifiers.score import VERDICTS

#: The judges and their host halves, and the environments that put verdicts into ``info``. (The
#: trainer only counts verdicts; its audit tool labels its own records, e.g. ``verifier_raised``.)
CHECKED_PACKAGES = (sppo_gym.verifiers, sppo_gym.envs)


# ---- the source scan ------------------------------------------------------------------------------
class VerdictScan:
    """String literals the package uses as verdicts, followed through local names and the return
    values of its own functions (``verdict, detail = compare(...)`` reads ``compare``'s returns)."""

    def __init__(self, trees: list[ast.Module]):
        self.defs: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]] = {}
        self.consts: dict[str, list[ast.AST]] = {}  # module-level NAME = value, by name
        for tree in trees:
            for stmt in tree.body:
                if isinstance(stmt, ast.Assign):
                    for t in stmt.targets:
                        if isinstance(t, ast.Name) and t.id.isupper():
                            self.consts.setdefault(t.id, []).append(stmt.value)
            for node in ast.walk(tree):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    self.defs.setdefault(node.name, []).append(node)
        self.found: list[ast.Constant] = []
        self.local: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]] = {}

    def scan(self, tree: ast.Module) -> list[ast.Constant]:
        self.found = []
        self.local = {n.name: [n] for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        self._visit(tree, None)
        return self.found

    # what an expression can evaluate to; ``index``: the verdict is that element of a tuple value
    def values(self, node: ast.AST | None, scope: ast.AST | None, index: int | None = None,
               seen: frozenset = frozenset()) -> list[ast.Constant]:
        if isinstance(node, ast.Constant):
            return [node] if isinstance(node.value, str) and index is None else []
        if isinstance(node, ast.Tuple) and index is not None:
            return self.values(node.elts[index], scope, None, seen) if index < len(node.elts) else []
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return [c for e in node.elts for c in self.values(e, scope, None, seen)]
        if isinstance(node, ast.IfExp):
            return self.values(node.body, scope, index, seen) + self.values(node.orelse, scope, index, seen)
        if isinstance(node, ast.BoolOp):
            return [c for v in node.values for c in self.values(v, scope, index, seen)]
        if isinstance(node, ast.Name) and node.id in self.consts and node.id not in seen:
            return [c for v in self.consts[node.id] for c in self.values(v, None, index, seen | {node.id})]
        if isinstance(node, ast.Name) and scope is not None and (key := (id(scope), node.id)) not in seen:
            # ``status, built = compile_program(...)`` then ``if status != "ok": return {"verdict": status}``:
            # the value the name is tested against before use is not among its verdicts
            guards = {c.value for c in ast.walk(scope) if isinstance(c, ast.Compare) and _is_name(c.left, node.id)
                      and isinstance(c.ops[0], (ast.Eq, ast.NotEq)) and isinstance(c.comparators[0], ast.Constant)
                      for c in [c.comparators[0]]}
            return [c for value, k in self._assigned(scope, node.id)
                    for c in self.values(value, scope, k if index is None else None, seen | {key})
                    if c.value not in guards or node.id == "verdict"]
        if isinstance(node, ast.Call):
            name = _callee(node)
            if name in ("frozenset", "set", "tuple"):
                return [c for a in node.args for c in self.values(a, scope, index, seen)]
            if name in self.defs and name not in seen:
                return [c for fn in self.defs[name] for r in _returns(fn)
                        for c in self.values(r, fn, index, seen | {name})]
        return []

    @staticmethod
    def _assigned(scope: ast.AST, name: str) -> list[tuple[ast.AST, int | None]]:
        """(value, tuple index or None) of every assignment to ``name`` in ``scope``."""
        out: list[tuple[ast.AST, int | None]] = []
        for node in ast.walk(scope):
            if isinstance(node, ast.Assign):
                for t in node.targets:
                    if isinstance(t, ast.Name) and t.id == name:
                        out.append((node.value, None))
                    elif isinstance(t, ast.Tuple):
                        out += [(node.value, k) for k, e in enumerate(t.elts) if isinstance(e, ast.Name) and e.id == name]
            elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)) and isinstance(node.target, ast.Name) \
                    and node.target.id == name and node.value is not None:
                out.append((node.value, None))
        return out

    def _add(self, node: ast.AST | None, scope: ast.AST | None, index: int | None = None) -> None:
        self.found += self.values(node, scope, index)

    def _visit(self, node: ast.AST, scope: ast.AST | None) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            scope = node
            if "verdict" in node.name.lower():  # ``return verdict`` or ``return verdict, reason``
                for r in _returns(node):
                    self._add(r, node, 0 if isinstance(r, ast.Tuple) else None)
        if isinstance(node, ast.Dict):
            for k, v in zip(node.keys, node.values, strict=True):
                if isinstance(k, ast.Constant) and k.value == "verdict":
                    self._add(v, scope)
        elif isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg == "verdict":
                    self._add(kw.value, scope)
            name = _callee(node)
            position = {"Score": 1, "Outcome": 0, "Rejection": 0}.get(name)
            if position is None:  # a function of ours taking a ``verdict`` parameter
                at = {_verdict_position(fn, isinstance(node.func, ast.Attribute))
                      for fn in self.local.get(name) or self.defs.get(name, [])}
                position = at.pop() if len(at) == 1 else None  # the module's own, or all of that name agree
            if position is not None and position < len(node.args):
                self._add(node.args[position], scope)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for t in node.targets if isinstance(node, ast.Assign) else [node.target]:
                if _is_verdict(t):
                    self._add(node.value, scope)
                elif isinstance(t, ast.Tuple) and t.elts and _is_verdict(t.elts[0]):
                    self._add(node.value, scope, 0)
                elif isinstance(t, ast.Name) and t.id.endswith(("VERDICT", "VERDICTS")) and t.id != "VERDICTS":
                    value = node.value
                    for v in value.values if isinstance(value, ast.Dict) else [value]:
                        self._add(v, scope)
        elif isinstance(node, ast.Compare) and any(_is_verdict(x) for x in (node.left, *node.comparators)):
            for x in (node.left, *node.comparators):
                self._add(x, scope)
        for child in ast.iter_child_nodes(node):
            self._visit(child, scope)


def _verdict_position(fn: ast.FunctionDef | ast.AsyncFunctionDef, method_call: bool) -> int | None:
    """Position of a ``verdict`` parameter among a call's arguments (``self`` not passed)."""
    params = [a.arg for a in fn.args.args]
    if method_call and params[:1] in (["self"], ["cls"]):
        params = params[1:]
    return params.index("verdict") if "verdict" in params else None


def _returns(fn: ast.AST) -> list[ast.AST]:
    return [r.value for r in ast.walk(fn) if isinstance(r, ast.Return) and r.value is not None]


def _is_name(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def _callee(node: ast.Call) -> str:
    return node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")


def _is_verdict(node: ast.AST) -> bool:
    """``verdict``, ``x.verdict`` or ``x["verdict"]``."""
    if isinstance(node, ast.Name):
        return node.id == "verdict"
    if isinstance(node, ast.Attribute):
        return node.attr == "verdict"
    if isinstance(node, ast.Subscript):
        return isinstance(node.slice, ast.Constant) and node.slice.value == "verdict"
    return False


def verdict_literals(tree: ast.Module) -> list[ast.Constant]:
    """Every string literal one module uses as a verdict (its own functions followed)."""
    return VerdictScan([tree]).scan(tree)


def _sources() -> list[Path]:
    files = []
    for pkg in CHECKED_PACKAGES:
        for mod in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
            spec = importlib.util.find_spec(mod.name)
            if spec and spec.origin and spec.origin.endswith(".py"):
                files.append(Path(spec.origin))
        files.append(Path(pkg.__file__))
    return sorted(set(files))


def test_every_verdict_in_the_source_is_in_the_closed_set():
    trees = {path: ast.parse(path.read_text(), str(path)) for path in _sources()}
    scan = VerdictScan(list(trees.values()))
    used: dict[str, list[str]] = {}
    for path, tree in trees.items():
        for lit in scan.scan(tree):
            used.setdefault(lit.value, []).append(f"{path.name}:{lit.lineno}")
    unknown = {v: where for v, where in used.items() if v not in VERDICTS}
    assert not unknown, f"verdicts missing from VERDICTS (add them with a meaning, or fix the typo): {unknown}"
    # the scan must really see the judges: every family's verdicts turn up
    for family_verdict in ("correct", "restated", "passed", "failed", "wrong_output", "proved", "statement_mismatch",
                           "rejected_command", "uses_axioms", "partial", "bad_format", "judge_error",
                           "sandbox_error", "timeout"):
        assert family_verdict in used, family_verdict
    assert len(used) >= 25, sorted(used)


def test_the_scan_catches_an_undeclared_verdict():
    src = '''
def judge(p, ctx):
    if p: return {"reward": 0.0, "verdict": "wrong" if p else "wrnog"}
    LIMIT_VERDICTS = {"timeout": "time_out"}
    verdict = "timed_out"
    other = OOPS
    Score(0.0, "kaput")
    Score(0.0, other)
    return Outcome("proofed", "")

OOPS = "oops"

def final_verdict(x):
    return "unsimplfied", "the reason is no verdict"
'''
    got = sorted(c.value for c in verdict_literals(ast.parse(src)))
    assert got == ["kaput", "oops", "proofed", "time_out", "timed_out", "unsimplfied", "wrnog", "wrong"]


# ---- every host path maps an unknown verdict to judge_error ---------------------------------------
ECHO = "sppo_gym.sandbox.selftest:echo"  # the sandbox's trivial job: returns its payload
BAD = {"reward": 1.0, "verdict": "proven_beyond_doubt", "passed": True, "detail": "a judge bug"}


def _assert_judge_error(scores: list, n: int) -> None:
    assert len(scores) == n
    for s in scores:
        assert (s.verdict, s.reward, s.passed) == ("judge_error", 0.0, False), (s.verdict, s.detail)
        assert "proven_beyond_doubt" in s.detail


def test_unknown_verdict_is_judge_error_in_the_mapping_functions():
    assert score_from_value(dict(BAD)).verdict == "judge_error"
    assert score_from_result(JobResult("ok", value=dict(BAD))).verdict == "judge_error"
    _assert_judge_error(unpack(JobResult("ok", value={"items": [dict(BAD), dict(BAD)]}), 2), 2)
    _assert_judge_error(unpack_math_chunk(JobResult("ok", value={"scores": [dict(BAD), dict(BAD)]}), 2), 2)


def test_math_chunk_with_an_unknown_verdict_keeps_the_other_pairs():
    good = {"reward": 1.0, "verdict": "correct", "passed": True, "detail": ""}
    bad, ok = unpack_math_chunk(JobResult("ok", value={"scores": [dict(BAD), good]}, elapsed=2.0), 2)
    assert (bad.verdict, ok.verdict, ok.reward, ok.elapsed) == ("judge_error", "correct", 1.0, 1.0)
    # a chunk that did not complete, or whose value is not one score per pair, is judged pair by pair
    for res in (JobResult("timeout", value={"scores": [good, good]}), JobResult("ok", value={"scores": [good]}),
                JobResult("ok", value=[good, good]), JobResult("ok", value=None)):
        assert unpack_math_chunk(res, 2) is None, res


def _echoing(cls: type) -> type:
    """``cls`` with the echo job as its judge and ``BAD`` as every payload."""
    return type(f"Echoing{cls.__name__}", (cls,), {"entry": ECHO, "payload": lambda self, r, p: dict(BAD)})


CODE = "```python\ndef f(x):\n    return x\n```"
PY_PROBLEM = {"task_id": "t", "prompt": "", "entry_point": "f", "test": "def check(f):\n    assert f(1) == 1\n"}
STDIO_PROBLEM = {"tests": [{"input": "1\n", "output": "1\n"}]}
COQ_PROBLEM = {"name": "t", "statement": "True"}
MATH_PROBLEM = {"answer": "1"}


@pytest.mark.docker
@pytest.mark.parametrize(("make", "response", "problem", "n"), [
    pytest.param(lambda: get_verifier("python_tests", pack_size=1), CODE, PY_PROBLEM, 2, id="python-one-per-job"),
    pytest.param(lambda: get_verifier("python_tests", pack_size=3), CODE, PY_PROBLEM, 3, id="python-packed"),
    pytest.param(lambda: get_verifier("stdio"), "```python\nprint(input())\n```", STDIO_PROBLEM, 2, id="stdio"),
    pytest.param(lambda: get_verifier("coq"), "exact I.", COQ_PROBLEM, 2, id="coq-base-class"),
    pytest.param(lambda: ReasoningGymVerifier(partial_credit=False), "42", {}, 2, id="reasoning-gym"),
    # math's chunk job echoes no "scores" list, so its chunks fail as a whole and each pair is
    # judged alone: this covers math's pair-by-pair path
    pytest.param(lambda: get_verifier("math"), "\\boxed{1}", MATH_PROBLEM, 3, id="math"),
])
def test_unknown_verdict_from_a_judge_is_judge_error(sandbox_pool, monkeypatch, make, response, problem, n):
    verifier = make()
    module = importlib.import_module(type(verifier).__module__)
    for const in ("PACK_ENTRY", "MANY_ENTRY"):  # the packed and chunked entries echo as well
        if hasattr(module, const):
            monkeypatch.setattr(module, const, ECHO)
    verifier.__class__ = _echoing(type(verifier))
    _assert_judge_error(verifier.verify_batch([(response, problem)] * n), n)


@pytest.mark.docker
def test_unknown_verdict_in_one_item_of_a_pack_spares_the_others(sandbox_pool):
    good = {"reward": 1.0, "verdict": "passed", "passed": True, "detail": ""}
    res = sandbox_pool.run(Job(ECHO, {"items": [dict(BAD), good]}))
    bad, ok = unpack(res, 2)
    assert (bad.verdict, ok.verdict, ok.passed) == ("judge_error", "passed", True)

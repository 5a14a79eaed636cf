"""Decide whether a parsed prediction matches a parsed reference answer.

Rules (each chosen to agree with a careful human grader, and to fail closed):

* Exact values are compared exactly (rationals as fractions, so ``1/2004!`` != ``1/2006!``);
  irrational values symbolically, then numerically at a precision scaled to their size.
* A decimal is accepted for a non-terminating value only when it is that value correctly
  rounded and has >= 3 significant digits (``0.333`` for 1/3, not ``0.3``); a decimal gold
  (``33.3``) accepts any value that rounds to it.
* Equations match when one is a non-zero constant multiple of the other (``2x+4y-3=0`` ~
  ``y = -x/2 + 3/4``), never because both "reduce to 0". ``x = 5`` / ``5`` are the same answer.
* Inequalities, intervals and unions are compared as sets (``m >= sqrt 2`` ~ ``[sqrt 2, oo)``).
* ``\\pm`` golds are two-valued: ``2021`` alone is incomplete. Several alternatives where one
  value is expected ("85 or 86", "1, 2, 3") are ``hedged``: no credit.
* Percent: ``25%`` matches ``25`` and ``0.25``; differing explicit units do not match.
* Values too large to evaluate (towers of powers) are compared structurally, never computed.
* An answer written exactly as the reference (up to spacing) is correct, whatever it is; a
  reference we cannot parse (kind ``raw``) accepts only that.
* A comma list where the reference is a tuple (``-5, 14/3`` for ``x=-5, p=14/3``) is that tuple,
  read in the order written; where the reference is one value it stays a hedge.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sympy

from .parse import MAX_NODES, Parsed, count_nodes, raw_text, size_bound

STEP_SECONDS = 2.0
"""CPU budget of one symbolic step (simplify, solve); on expiry the step counts as inconclusive.
CPU time, not wall time, so that a verdict does not depend on how busy the machine is."""
TOTAL_SECONDS = 5.0
"""CPU budget of one whole comparison; steps started after it are cut short at once."""
_deadline = [float("inf")]


class StepTimeout(Exception):
    pass


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Interrupt pure-Python sympy work after ``seconds`` of process CPU time (main thread only;
    elsewhere unbounded here, and the sandbox's wall limit is the bound)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(_sig: int, _frame: Any) -> None:
        raise StepTimeout()

    seconds = min(seconds, _deadline[0] - time.process_time())
    if seconds <= 0:
        raise StepTimeout()
    old = signal.signal(signal.SIGPROF, _raise)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, old)


def compare(gold: Parsed, pred: Parsed) -> tuple[str, str]:
    """Return ``(verdict, detail)`` with verdict in {correct, wrong, hedged}; bounded in time."""
    _deadline[0] = time.process_time() + TOTAL_SECONDS
    try:
        return _compare(gold, pred)
    except (TypeError, ValueError, AttributeError, ArithmeticError, IndexError, KeyError, NotImplementedError) as e:
        # sympy refusing an operation (a matrix minus a scalar, ...): the values were not shown equal
        return "wrong", f"comparison failed: {type(e).__name__}: {str(e)[:80]}"
    finally:
        _deadline[0] = float("inf")


def _compare(gold: Parsed, pred: Parsed) -> tuple[str, str]:
    if _same_text(gold, pred):
        return "correct", "written as the reference"
    if gold.kind != "math":
        ok = gold.value == pred.value
        return ("correct" if ok else "wrong"), f"{gold.kind}: {pred.value!r} vs {gold.value!r}"[:200]
    if gold.unit and pred.unit and gold.unit != pred.unit:
        return "wrong", f"unit {pred.unit!r} differs from {gold.unit!r}"
    if gold.huge or pred.huge:
        same = gold.value is not None and gold.value == pred.value  # structural; never printed
        return ("correct" if same else "wrong"), "value too large to evaluate; compared structurally"
    gvar, gv = unwrap(gold.value)
    pvar, pv = unwrap(pred.value)
    if _is_equation(gold.value) and _is_relational(pred.value) and equations_equal(gold.value, pred.value):
        return "correct", "equivalent equations"
    if _is_equation(gold.value) and gvar is None:
        return "wrong", "the reference is an equation; the answer is not an equivalent one"
    if gvar is not None and pvar is not None and gvar != pvar:
        return "wrong", f"answer is about {pvar}, reference about {gvar}"
    pv = _by_labels(gold, pred, gv, pv)
    tup = _as_tuple(pred, gv)
    if tup is not None:
        ok = values_equal(gv, tup, gold, pred)
        return ("correct" if ok else "wrong"), "the list read as the reference's tuple"
    if _is_collection(pv) and not _is_collection(gv):
        if len(pv) > 1:
            return "hedged", f"{len(pv)} candidate answers where one is expected"
        pv = next(iter(pv))
    ok = values_equal(gv, pv, gold, pred)
    return ("correct" if ok else "wrong"), ""


def _same_text(gold: Parsed, pred: Parsed) -> bool:
    """The answer is the reference's own text (spacing aside), with no conflicting unit."""
    if (gold.unit and pred.unit and gold.unit != pred.unit) or gold.labels or pred.labels:
        return False  # labelled tuples: the text lost the labels, they are matched by label
    g, p = raw_text(gold.text), raw_text(pred.text)
    return bool(g) and g == p and gold.percent == pred.percent


def _by_labels(gold: Parsed, pred: Parsed, gv: Any, pv: Any) -> Any:
    """A labelled tuple answer put in the reference's label order (``a_37 = 19, a_3 = 2``)."""
    if not (gold.labels and isinstance(gv, sympy.Tuple) and isinstance(pv, sympy.Tuple)):
        return pv
    if sorted(gold.labels) != sorted(pred.labels) or len(pv) != len(pred.labels):
        return pv
    return sympy.Tuple(*[pv[pred.labels.index(lab)] for lab in gold.labels])


def _as_tuple(pred: Parsed, gv: Any) -> sympy.Tuple | None:
    """A bare comma list as a tuple, when the reference is a tuple (or open interval) of its length."""
    if not pred.items:
        return None
    if isinstance(gv, sympy.Tuple) and len(gv) == len(pred.items):
        return sympy.Tuple(*pred.items)
    if isinstance(gv, sympy.Interval) and len(pred.items) == 2 and gv.left_open and gv.right_open:
        return sympy.Tuple(*pred.items)
    return None


def _is_collection(v: Any) -> bool:
    return isinstance(v, sympy.FiniteSet)


def _is_relational(v: Any) -> bool:
    return isinstance(v, sympy.core.relational.Relational)


def _is_equation(v: Any) -> bool:
    return isinstance(v, sympy.Eq) and bool(_free(v))


def _free(v: Any) -> set:
    return getattr(v, "free_symbols", set())


def unwrap(v: Any) -> tuple[str | None, Any]:
    """``x = 5`` -> ("x", 5); ``47 + 38 = 85`` -> (None, 85); ``x=1 or x=2`` -> ("x", {1, 2});
    one-variable inequalities -> their solution set."""
    if isinstance(v, sympy.And) and all(isinstance(a, sympy.Eq) for a in v.args):
        v = list(v.args)[-1]
    if isinstance(v, sympy.Eq):
        lhs, rhs = v.lhs, v.rhs
        if isinstance(lhs, sympy.Symbol) and lhs not in _free(rhs):
            return lhs.name, rhs
        if not _free(lhs) and not _free(rhs):  # a worked chain: keep its final value
            return None, rhs
        return None, v
    if isinstance(v, sympy.FiniteSet) and v.args and all(isinstance(a, sympy.Eq) for a in v.args):
        names = {a.lhs for a in v.args}
        if len(names) == 1 and isinstance(next(iter(names)), sympy.Symbol):
            return next(iter(names)).name, sympy.FiniteSet(*[a.rhs for a in v.args])
    if (_is_relational(v) or isinstance(v, sympy.And)) and len(_free(v)) == 1:
        try:
            with time_limit(STEP_SECONDS):
                return next(iter(_free(v))).name, v.as_set()
        except (StepTimeout, Exception):
            return None, v
    return None, v


def equations_equal(g: Any, p: Any) -> bool:
    """Two equations are the same when one side-difference is a constant multiple of the other."""
    if not (isinstance(g, sympy.Eq) and isinstance(p, sympy.Eq)):
        return False
    if not all(isinstance(x, sympy.Expr) for x in (g.lhs, g.rhs, p.lhs, p.rhs)):
        return False
    eg, ep = g.lhs - g.rhs, p.lhs - p.rhs
    if {s.name for s in _free(eg)} != {s.name for s in _free(ep)} or ep == 0:
        return False
    eg, ep = _rename(eg), _rename(ep)
    try:
        with time_limit(STEP_SECONDS):
            ratio = sympy.simplify(eg / ep)
        return bool(ratio.is_number and ratio.is_finite and ratio != 0)
    except (StepTimeout, Exception):
        return False


def _rename(e: Any) -> Any:
    """Map every symbol to a plain symbol of the same name (assumptions differ between parsers)."""
    return e.xreplace({s: sympy.Symbol(s.name) for s in _free(e)})


def values_equal(g: Any, p: Any, gold: Parsed, pred: Parsed) -> bool:
    """Structural dispatch: sets, tuples, intervals, matrices, then scalars."""
    if isinstance(g, sympy.MatrixBase) or isinstance(p, sympy.MatrixBase):
        return (isinstance(g, sympy.MatrixBase) and isinstance(p, sympy.MatrixBase) and g.shape == p.shape
                and all(scalar_equal(a, b, gold, pred) for a, b in zip(g, p, strict=False)))
    if isinstance(g, sympy.FiniteSet) or isinstance(p, sympy.FiniteSet):
        return _multiset_equal(_elements(g), _elements(p), gold, pred)
    if (isinstance(g, sympy.Interval) and isinstance(p, sympy.Tuple)) or (isinstance(p, sympy.Interval) and isinstance(g, sympy.Tuple)):
        iv, tp = (g, p) if isinstance(g, sympy.Interval) else (p, g)
        return (iv.left_open and iv.right_open and len(tp) == 2
                and scalar_equal(iv.start, tp[0], gold, pred) and scalar_equal(iv.end, tp[1], gold, pred))
    if isinstance(g, sympy.Tuple) or isinstance(p, sympy.Tuple):
        return (isinstance(g, sympy.Tuple) and isinstance(p, sympy.Tuple) and len(g) == len(p)
                and all(values_equal(a, b, gold, pred) for a, b in zip(g, p, strict=False)))
    if isinstance(g, sympy.Set) or isinstance(p, sympy.Set):
        return _sets_equal(g, p, gold, pred)
    if _is_relational(g) or _is_relational(p) or isinstance(g, sympy.And) or isinstance(p, sympy.And):
        return _is_relational(g) and _is_relational(p) and equations_equal(g, p)
    return scalar_equal(g, p, gold, pred)


def _elements(v: Any) -> list:
    if isinstance(v, (sympy.FiniteSet, sympy.Tuple)):
        return list(v.args)
    return [v]


def _multiset_equal(gs: list, ps: list, gold: Parsed, pred: Parsed) -> bool:
    if len(gs) != len(ps):
        return False
    left = list(ps)
    for a in gs:
        hit = next((i for i, b in enumerate(left) if values_equal(a, b, gold, pred)), None)
        if hit is None:
            return False
        left.pop(hit)
    return True


def _sets_equal(g: Any, p: Any, gold: Parsed, pred: Parsed) -> bool:
    if not (isinstance(g, sympy.Set) and isinstance(p, sympy.Set)):
        return False
    if isinstance(g, sympy.Interval) and isinstance(p, sympy.Interval):
        return (g.left_open == p.left_open and g.right_open == p.right_open
                and scalar_equal(g.start, p.start, gold, pred) and scalar_equal(g.end, p.end, gold, pred))
    if isinstance(g, sympy.Union) and isinstance(p, sympy.Union) and len(g.args) == len(p.args):
        return _multiset_equal(list(g.args), list(p.args), gold, pred)
    try:
        with time_limit(STEP_SECONDS):
            return bool(g.symmetric_difference(p).is_empty)
    except (StepTimeout, Exception):
        return False


def scalar_equal(a: Any, b: Any, gold: Parsed, pred: Parsed) -> bool:
    """Scalar equality with the percent and decimal-rounding rules of the module docstring."""
    if not (isinstance(a, sympy.Basic) and isinstance(b, sympy.Basic)):
        return False
    a, b = _rename(a), _rename(b)
    pairs = [(a, b)]
    if gold.percent and not pred.percent:
        pairs.append((a / 100, b))
    if pred.percent and not gold.percent:
        pairs.append((a, b / 100))
    return any(_scalar_eq(x, y, gold, pred) for x, y in pairs)


def _scalar_eq(a: sympy.Basic, b: sympy.Basic, gold: Parsed, pred: Parsed) -> bool:
    if a == b:
        return True
    if _free(a) or _free(b):
        return _symbolic_eq(a, b)
    a, b = _evaluate(a), _evaluate(b)
    if a == b:
        return True
    if not (a.is_Rational and b.is_Rational) and _numerically_apart(a, b) is False and _constants_equal(a, b):
        return True
    return _decimal_rule(a, b, gold, pred)


def _numerically_apart(a: sympy.Basic, b: sympy.Basic) -> bool | None:
    """Cheap pre-check at 30 digits: True when clearly different (relative gap > 1e-12, so
    only the decimal rule can still accept), False when they agree, None when not evaluable."""
    try:
        with time_limit(STEP_SECONDS):
            va, vb = sympy.N(a, 30), sympy.N(b, 30)
        if not (va.is_number and vb.is_number and va.is_finite and vb.is_finite):
            return None
        return bool(abs(va - vb) > sympy.Float("1e-12") * max(abs(va), abs(vb), 1))
    except (StepTimeout, Exception):
        return None


def _evaluate(e: sympy.Basic) -> sympy.Basic:
    """Exact evaluation (``doit``) of a constant whose size is known to be bounded."""
    try:
        with time_limit(STEP_SECONDS):
            return e.doit()
    except (StepTimeout, Exception):
        return e


def _precision(*exprs: Any) -> int:
    return int(min(max(size_bound(e) for e in exprs), 5_000)) + 60


def _constants_equal(a: sympy.Basic, b: sympy.Basic) -> bool:
    """Are two constants equal? Agreement to a relative precision scaled to their size (so
    ``2^300 + sqrt 2`` is not ``2^300``), else a symbolic proof ``simplify(a - b) == 0``."""
    if _agree_at_scaled_precision(a, b):
        return True
    return _simplifies_to_zero(a - b)


def _simplifies_to_zero(d: sympy.Basic) -> bool:
    """Symbolic proof that ``d == 0``, bounded in size and CPU time (False when out of budget)."""
    if count_nodes(d) > MAX_NODES:
        return False
    try:
        with time_limit(STEP_SECONDS):
            return bool(sympy.simplify(d) == 0)
    except (StepTimeout, Exception):
        return False


def _agree_at_scaled_precision(a: sympy.Basic, b: sympy.Basic) -> bool:
    prec = _precision(a, b)
    try:
        with time_limit(STEP_SECONDS):
            va, vb = sympy.N(a, prec), sympy.N(b, prec)
            if not (va.is_number and vb.is_number and va.is_finite and vb.is_finite):
                return False
            scale = max(abs(va), abs(vb))
            return bool(scale == 0 or abs(va - vb) <= sympy.Float(10, prec) ** (-(prec - 20)) * scale)
    except (StepTimeout, Exception):
        return False


def _decimal_rule(a: sympy.Basic, b: sympy.Basic, gold: Parsed, pred: Parsed) -> bool:
    """Accept a correctly rounded decimal (see the module docstring); otherwise not equal."""
    dec = None
    if pred.decimals is not None and gold.decimals is None:
        dec, approx = pred.decimals, b
        if _terminates_within(a, dec) or _sig_digits(pred.text) < 3:
            return False
    elif gold.decimals is not None and (pred.decimals is None or pred.decimals > gold.decimals):
        dec, approx = gold.decimals, a
    if dec is None:
        return False
    try:
        with time_limit(STEP_SECONDS):
            diff = abs(sympy.N(a - b, _precision(a, b)))
        tol = sympy.Rational(1, 2) * sympy.Rational(1, 10**dec)
        return bool(diff.is_number and diff <= tol * (1 + sympy.Rational(1, 10**9)) and approx.is_finite)
    except (StepTimeout, Exception):
        return False


def _terminates_within(v: sympy.Basic, dec: int) -> bool:
    """A rational whose exact decimal has at most ``dec`` places must be matched exactly."""
    return bool(v.is_Rational and (v * 10**dec).is_Integer)


def _sig_digits(text: str) -> int:
    digits = "".join(ch for ch in text if ch.isdigit()).lstrip("0")
    return len(digits)


def _symbolic_eq(a: sympy.Basic, b: sympy.Basic) -> bool:
    """Agreement at random positive points to 1e-20 (a disagreement is final), else a symbolic
    proof ``simplify(a - b) == 0`` when the points were inconclusive.

    Variables are taken as positive reals, as graders read ``sqrt(1/n)`` = ``1/sqrt(n)``; the
    symbol sets may differ only when the difference still vanishes (``sin^2 x + cos^2 x`` = 1).
    """
    names = sorted({s.name for s in _free(a) | _free(b)})
    pos = {n: sympy.Symbol(n, positive=True) for n in names}
    a = a.xreplace({s: pos[s.name] for s in _free(a)})
    b = b.xreplace({s: pos[s.name] for s in _free(b)})
    d = a - b
    sampled = _sample_agreement(a, b, d)
    if sampled is not None:
        return sampled
    return _simplifies_to_zero(d)


def _sample_agreement(a: sympy.Basic, b: sympy.Basic, d: sympy.Basic) -> bool | None:
    """False on any disagreement, True after >= 3 agreements, None when not evaluable."""
    if d.has(sympy.Sum, sympy.Product, sympy.Integral, sympy.Derivative, sympy.core.function.AppliedUndef):
        return None
    syms = sorted(_free(d), key=lambda s: s.name)
    rng = random.Random(0)
    good = 0
    for _ in range(6):
        point = {s: sympy.Rational(rng.randint(11, 290), 97) for s in syms}
        try:
            with time_limit(STEP_SECONDS):
                va, vb = sympy.N(a.xreplace(point), 40), sympy.N(b.xreplace(point), 40)
        except (StepTimeout, Exception):
            continue
        if not (va.is_number and vb.is_number) or va.has(sympy.zoo, sympy.nan) or vb.has(sympy.zoo, sympy.nan):
            continue
        if abs(va - vb) > sympy.Float(10) ** -20 * (1 + abs(va)):
            return False
        good += 1
    return True if good >= 3 else None

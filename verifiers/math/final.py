"""Is a correct-valued answer also a *final* answer? The rules behind the verdicts ``restated``,
``unsimplified`` and ``approximation`` of the math verifier.

Symbolic equivalence alone pays for replying with the question's own expression: ``70 + 38``
has the value of ``108``. The judge therefore looks at the answer's *form*, once its value has
been found equal to the reference's:

* **Unevaluated work.** The answer is parsed a second time without evaluation: every number
  literal becomes an opaque placeholder (:class:`Lit`), so the parser cannot fold ``\\frac{6}{8}``
  to ``3/4`` or ``\\binom{6}{2}`` to 15. The tree is then evaluated bottom-up and each node that
  evaluation changes scores one unit of work: a sum or product of two or more numbers (``70 + 38``,
  ``3 \\times 4``, ``2*(3+4)``), a power of numbers that evaluates (``2^{10}``, ``\\sqrt{50}`` ->
  ``5\\sqrt{2}``, ``\\sqrt[3]{8}``), a function of constants that evaluates away (``\\binom{6}{2}``,
  ``5!``, ``\\log_3 81``, ``\\sin\\frac{\\pi}{6}``), a union that merges, and a one-variable relation
  whose variable is not alone (up to its sign) on one side (``2x + 1 > 7``). Notation is not
  work: a sign (``-5``), a fraction of integers in lowest terms (``\\frac{3}{4}``), a reciprocal
  (``x^{-1}``, ``\\frac{1}{\\sqrt{2}}``), a reordering (``\\sqrt{2}\\cdot 5``), a decimal (``0.75``),
  scientific notation (``2.5 \\times 10^{-3}``; a bare power of ten is work: ``10^2`` for 100).
  The answer is ``unsimplified`` when it holds more work than the reference (so a reference written as
  ``10^{-3}`` accepts ``10^{-3}``). Of an equation chain or ``x = ...`` only the last right-hand
  side counts: ``70 + 38 = 108`` answers 108.
* **Restated.** With the problem text at hand, the answer is ``restated`` when its tree (not a
  bare number) is the tree of an expression the problem writes, or of a part of one, unless the
  reference itself is one of the problem's expressions (multiple choice) or the answer is
  written exactly as the reference.
* **Approximation.** A decimal for an irrational exact reference (``6.28`` for ``2\\pi``) is
  ``approximation`` unless the problem asks for a decimal or a rounded value; without the
  problem text it is never taken as asked for. A rounded decimal of a rational reference
  (``0.333`` for ``1/3``) keeps the comparison's rounding rule.
* **Numeral only** (an option, set by Arithmetic-v0): the final answer must be a numeral -- sign,
  digits, decimal point, a fraction bar -- and anything else of the right value is
  ``unsimplified``.

Anything this second parse cannot read is left to the comparison's verdict: the rules withhold
credit only where they can show the form is not final.
"""

from __future__ import annotations

import functools
import math
import re
import time
from typing import Any

import sympy
from latex2sympy2_extended.latex2sympy2 import _Latex2Sympy
from latex2sympy2_extended.math_normalization import NormalizationConfig, normalize_latex

from .equiv import STEP_SECONDS, StepTimeout, time_limit
from .extract import LATEX_SPAN_RE, PLAIN_SPAN_RE
from .normalize import clean, looks_latex, plain_to_latex
from .parse import Parsed, safe_number

MAX_PROBLEM_CHARS = 6000
MAX_SPANS = 60
MAX_SPAN_CHARS = 400
PROBLEM_PARSE_SECONDS = 1.0
"""Bounds on reading a problem's expressions (parsed once per problem and job, then cached)."""
_LATEX_FIX = NormalizationConfig(basic_latex=True, units=False, malformed_operators=True, nits=False,
                                 boxed="none", equations=False)
_NUMERAL = re.compile(r"^[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$|^[-+]?\.\d+$")
_MIXED = re.compile(r"^(\d+)\s*(?:\\frac\s*\{?\s*(\d+)\s*\}?\s*\{?\s*(\d+)\s*\}?|\s(\d+)\s*/\s*(\d+))$")
_FRACTION = re.compile(r"^(\d+)\s*/\s*(\d+)$|^\\frac\s*(?:\{\s*(\d+)\s*\}|(\d))\s*(?:\{\s*(\d+)\s*\}|(\d))$")
_ALTERNATIVES = re.compile(r"\s+or\s+|\\lor|\\vee|\s+and\s+", re.IGNORECASE)
_NUMBER_IN_TEXT = re.compile(r"\d+(?:\.\d+)?")
ASKS_DECIMAL = re.compile(
    r"decimal|nearest\s+(?:tenth|hundredth|thousandth|whole|integer|cent|percent|degree|unit)|\bround|"
    r"approximat|significant\s+(?:figure|digit)|\bestimate|≈|\\approx",
    re.IGNORECASE,
)


class Lit(sympy.Symbol):
    """A number literal kept opaque, so that parsing cannot evaluate anything built from it.
    Its name is the numeral (a mixed number ``2 1/2`` is one literal)."""

    @property
    def value(self) -> sympy.Number:
        whole, _, frac = self.name.partition(" ")
        if frac:
            p, q = frac.split("/")
            return sympy.Integer(int(whole)) + sympy.Rational(int(p), int(q))
        return safe_number(self.name)


class _RawLatex2Sympy(_Latex2Sympy):
    def parse_number(self, text: str) -> Lit:  # every number token of the grammar comes here
        t = text.replace(",", "").strip()
        value = safe_number(t)  # normalised name: "1,000" and "1000" are the same literal
        return Lit(str(value) if value.is_Integer else t.rstrip("0").rstrip(".") if "." in t else t)


@functools.lru_cache(maxsize=512)
def raw_tree(text: str) -> Any:
    """``text`` parsed without evaluation (numbers as :class:`Lit`); ``None`` when unreadable."""
    s = clean(text).text
    if not s or len(s) > 1000:
        return None
    sign, body = (s[0], s[1:].strip()) if s[0] in "+-" else ("", s)
    lit = None
    if _NUMERAL.match(body):
        lit = _RawLatex2Sympy.parse_number(None, body)  # type: ignore[arg-type]
    elif (m := _MIXED.match(body)) and int(m.group(3) or m.group(5)) > 0:
        lit = Lit(f"{m.group(1)} {m.group(2) or m.group(4)}/{m.group(3) or m.group(5)}")
    elif m := _FRACTION.match(body):  # the most common non-integer answer, without the parser
        p, q = (g for g in m.groups() if g is not None)
        lit = sympy.Mul(Lit(str(int(p))), sympy.Pow(Lit(str(int(q))), -1, evaluate=False), evaluate=False)
    if lit is not None:
        if sign != "-":
            return lit
        return sympy.Mul(sympy.Integer(-1), *(lit.args if isinstance(lit, sympy.Mul) else (lit,)), evaluate=False)
    alternatives = _ALTERNATIVES.split(s)
    if len(alternatives) > 1:  # "2 or 3": each alternative on its own
        trees = [raw_tree(a.strip()) for a in alternatives if a.strip()]
        return None if any(t is None for t in trees) else sympy.Tuple(*trees)
    try:
        latex = normalize_latex(s, _LATEX_FIX) if looks_latex(s) else plain_to_latex(s)
        if latex.count("{") > 200 or latex.count("^") > 60:
            return None
        with sympy.evaluate(False):
            return _RawLatex2Sympy(None, None, False).parse(latex)
    except Exception:  # the ANTLR grammar raises bare Exceptions; unreadable means "no verdict"
        return None


def final_part(tree: Any) -> Any:
    """The answer a tree gives: the last right-hand side of ``x = ...`` or of a worked chain."""
    if isinstance(tree, sympy.And) and tree.args and all(isinstance(a, sympy.Eq) for a in tree.args):
        tree = tree.args[-1]
    if isinstance(tree, sympy.Eq):
        lhs, rhs = tree.lhs, tree.rhs
        if (isinstance(lhs, sympy.Symbol) and not isinstance(lhs, Lit)) or (not _variables(lhs) and not _variables(rhs)):
            return rhs
    return tree


def _variables(tree: Any) -> set:
    return {s for s in getattr(tree, "free_symbols", set()) if not isinstance(s, Lit)}


def work(tree: Any) -> int:
    """Units of unevaluated work in a raw tree (module docstring); bounded in CPU time."""
    with time_limit(STEP_SECONDS):
        return _work(tree)[1]


def _work(node: Any) -> tuple[Any, int]:
    """(evaluated value, work) of a raw tree, bottom-up."""
    if isinstance(node, Lit):
        return node.value, 0
    if isinstance(node, sympy.MatrixBase):
        return node, sum(_work(x)[1] for x in node)
    if not isinstance(node, sympy.Basic) or not node.args:
        return node, 0
    if _is_scientific(node):
        return node.func(*(_work(a)[0] for a in node.args)), 0
    parts = [_work(a) for a in node.args]
    values = [v for v, _ in parts]
    total = sum(w for _, w in parts)
    try:
        value = node.func(*values)
    except Exception:  # not evaluable (a relation of sets, an unknown function): only its parts count
        return node, total
    return value, total + _node_work(node, values, value)


def _node_work(node: Any, values: list, value: Any) -> int:
    if isinstance(node, sympy.core.relational.Relational):
        if len(_variables(node)) != 1 or isinstance(node, sympy.Ne):
            return 0
        return 0 if any(_is_variable(side) for side in (node.lhs, node.rhs)) else 1
    if isinstance(node, (sympy.And, sympy.Or, sympy.Not, sympy.Tuple, sympy.FiniteSet, sympy.Interval)):
        return 0
    if isinstance(node, (sympy.Union, sympy.Intersection, sympy.Complement)):
        return 0 if isinstance(value, node.func) and len(value.args) == len(node.args) else 1
    if isinstance(node, (sympy.Add, sympy.Mul)):
        factors = list(zip(node.args, values, strict=True))
        if isinstance(node, sympy.Mul):  # \frac{4\sqrt{5}}{6}: the numbers of a nested product meet here
            factors = [pair for a, v in factors for pair in
                       ([(b, _work(b)[0]) for b in a.args] if isinstance(a, sympy.Mul) and _int_literal(a) is None
                        else [(a, v)])]
        numeric = [a for a, v in factors if getattr(v, "is_Number", False)
                   and not (isinstance(node, sympy.Mul) and a == -1)]  # a sign is notation
        if len(numeric) <= 1:
            return 0
        if isinstance(node, sympy.Mul) and len(numeric) == 2 and _is_fraction_literal(*numeric):
            return 0
        return len(numeric) - 1
    if isinstance(node, sympy.Pow):
        base, ex = values
        if ex == -1 or not (getattr(base, "is_number", False) and getattr(ex, "is_number", False)):
            return 0  # a reciprocal is notation; powers of variables are final
        return 0 if value.as_base_exp() == (base, ex) else 1
    if all(getattr(v, "is_number", False) for v in values) and not value.has(node.func):
        return 1  # a function of constants that evaluation removes (binomial, factorial, log_3 81, ...)
    return 0


def _is_scientific(node: Any) -> bool:
    """Scientific notation is a numeral: ``m \\times 10^{n}`` with a literal ``1 <= m < 10``."""
    if not isinstance(node, sympy.Mul):
        return False
    args = [a for a in node.args if a != -1]
    if len(args) != 2 or len(node.args) - len(args) > 1:
        return False
    for m, p in (args, args[::-1]):
        if (isinstance(m, Lit) and 1 <= m.value < 10 and isinstance(p, sympy.Pow) and isinstance(p.base, Lit)
                and p.base.value == 10 and _int_literal(p.exp) is not None):
            return True
    return False


def _is_variable(side: Any) -> bool:
    """A variable alone, up to its sign (``x``, ``-x``): the relation is solved for it."""
    if isinstance(side, sympy.Mul) and len(side.args) == 2 and side.args[0] == -1:
        side = side.args[1]
    return isinstance(side, sympy.Symbol) and not isinstance(side, Lit)


def _is_fraction_literal(a: Any, b: Any) -> bool:
    """``p`` times ``q^{-1}`` with integer literals in lowest terms, ``q > 1`` (``\\frac{3}{4}``)."""
    for num, rec in ((a, b), (b, a)):
        p = _int_literal(num)
        if p is not None and isinstance(rec, sympy.Pow) and rec.exp == -1:
            q = _int_literal(rec.base)
            if q is not None:
                return q > 1 and math.gcd(p, q) == 1
    return False


def _int_literal(a: Any) -> int | None:
    """The value of an integer literal, signed or not (``7``, ``-7``); ``None`` for anything else."""
    if isinstance(a, sympy.Mul) and len(a.args) == 2 and a.args[0] == -1:
        inner = _int_literal(a.args[1])
        return -inner if inner is not None else None
    if isinstance(a, Lit) and a.value.is_Integer:
        return int(a.value)
    return None


def is_numeral(tree: Any) -> bool:
    """A number written as a numeral: digits with an optional decimal point, sign, fraction bar."""
    if isinstance(tree, Lit):
        return True
    if isinstance(tree, sympy.Mul):
        args = [a for a in tree.args if a != -1]
        if len(tree.args) - len(args) > 1:
            return False
        if len(args) == 1:
            return isinstance(args[0], Lit)
        return len(args) == 2 and _is_fraction_literal(*args)
    return False


def _key(tree: Any) -> str:
    return sympy.srepr(tree)


@functools.lru_cache(maxsize=64)
def problem_expressions(problem: str) -> tuple[frozenset[str], frozenset[str]]:
    """Keys of the problem's expressions: (whole expressions and their list items, every
    non-atomic part of them). LaTeX spans first; plain-text spans from what is left."""
    text = problem[:MAX_PROBLEM_CHARS]
    bodies: list[str] = []
    for m in LATEX_SPAN_RE.finditer(text):
        bodies.append(next(g for g in m.groups() if g is not None))
    rest = LATEX_SPAN_RE.sub(" ; ", text)
    for m in PLAIN_SPAN_RE.finditer(rest):
        body = m.group(0).strip().rstrip("=+-*/^×÷·−(").lstrip("=+*/^×÷·").strip()
        if re.search(r"\d|π|pi", body):
            bodies.append(body)
    whole: set[str] = set()
    parts: set[str] = set()
    deadline = time.process_time() + PROBLEM_PARSE_SECONDS
    for body in [b for b in bodies if len(b) <= MAX_SPAN_CHARS][:MAX_SPANS]:
        if time.process_time() > deadline:
            break  # what was parsed so far still counts; the rest cannot be restated
        tree = raw_tree(body)
        if tree is None:
            continue
        tops = [tree, final_part(tree)]
        if isinstance(tree, (sympy.Tuple, sympy.FiniteSet, sympy.And, sympy.Or)):
            tops.extend(tree.args)
        whole.update(_key(t) for t in tops)
        if isinstance(tree, sympy.Basic):
            parts.update(_key(t) for t in sympy.preorder_traversal(tree) if t.args)
    return frozenset(whole), frozenset(parts)


def _numbers(text: str) -> set[str]:
    return {n.rstrip("0").rstrip(".") if "." in n else n for n in _NUMBER_IN_TEXT.findall(text.replace(",", ""))}


def restated(pred_tree: Any, gold_text: str, problem: str) -> bool:
    """Does the answer repeat an expression of the problem that is not the reference?"""
    if not isinstance(pred_tree, sympy.Basic) or not pred_tree.args or isinstance(pred_tree, sympy.MatrixBase):
        return False  # a bare number or name is never "restated"
    whole, parts = problem_expressions(problem)
    key = _key(pred_tree)
    if key not in parts and key not in whole:
        return False
    gold_tree = _final_tree(gold_text)
    # written as the reference, or the reference is given in the problem (a choice): an answer
    return gold_tree is None or (_key(gold_tree) != key and _key(gold_tree) not in whole)


def _final_tree(text: str) -> Any:
    tree = raw_tree(text)
    return final_part(tree) if tree is not None else None


_COMMAND = re.compile(r"\\([A-Za-z]+)|\b(sqrt|log|ln|exp|sin|cos|tan|sec|csc|cot|binom|choose)\b")
_NOTATION_COMMANDS = {"pi", "infty", "text", "mathrm", "circ", "left", "right", "cdot", "times"}


def may_hold_work(text: str) -> bool:
    """Cheap test before the second parse: unevaluated work needs two numbers, or a function,
    a factorial, an absolute value, a relation or a set operation."""
    if len(_NUMBER_IN_TEXT.findall(text)) >= 2 or re.search(r"[!|<>=≤≥]", text):
        return True
    return any((m.group(1) or m.group(2)) not in _NOTATION_COMMANDS for m in _COMMAND.finditer(text))


def is_approximation(gold: Parsed, pred: Parsed, problem: str | None) -> bool:
    """A decimal standing for an irrational real reference, where the problem asks for no decimal.
    Without the problem text the question cannot be answered, and the comparison's rounding
    rule stands (older callers keep their verdicts)."""
    g = gold.value
    if problem is None or ASKS_DECIMAL.search(problem):
        return False
    if not isinstance(g, sympy.Expr) or gold.decimals is not None or g.free_symbols:
        return False
    if not re.search(r"\d\.\d|(?<!\d)\.\d", pred.text):
        return False
    try:
        with time_limit(STEP_SECONDS):
            return bool(g.is_number and g.is_real and g.is_rational is False)
    except StepTimeout:
        return False


def final_verdict(gold: Parsed, pred: Parsed, problem: str | None = None,
                  numeral_only: bool = False) -> tuple[str, str]:
    """For a pair the comparison found equal: ``correct`` or why the answer is not final."""
    if gold.kind != "math" or gold.huge or pred.huge:
        return "correct", ""
    text = pred.text
    pred_tree = None
    if (problem and (numeral_only or may_hold_work(text) or re.search(r"[A-Za-z\\]", text))
            and _numbers(text) <= _numbers(problem)):  # a restatement writes the problem's numbers
        pred_tree = _final_tree(text)
        if pred_tree is not None and restated(pred_tree, gold.text, problem):
            return "restated", "the answer repeats an expression of the problem"
    if numeral_only or may_hold_work(text):
        pred_tree = pred_tree if pred_tree is not None else _final_tree(text)
    if numeral_only and not (pred_tree is not None and is_numeral(pred_tree)):
        return "unsimplified", "a number written as a numeral is asked for"
    if pred_tree is not None:
        try:
            extra = work(pred_tree)
            if extra:
                gold_tree = _final_tree(gold.text)
                if gold_tree is None or extra > work(gold_tree):
                    return "unsimplified", f"{extra} unevaluated operation(s) the reference does not have"
        except (StepTimeout, RecursionError):
            pass
    if is_approximation(gold, pred, problem):
        return "approximation", "a decimal approximation of an exact irrational reference"
    return "correct", ""

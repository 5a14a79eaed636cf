"""Turn an answer string into a typed value: math (sympy), choice letter, text, ratio/time, sequence.

LaTeX goes through ``latex2sympy2_extended`` (ANTLR grammar, builds *unevaluated* sympy trees);
plain text is first translated to LaTeX by ``math_normalize.plain_to_latex`` (whitelist, no
``eval``). Before anything is evaluated, ``size_bound`` bounds the number of digits the value
can need; a tower of powers or a factorial of a huge number is flagged ``huge`` and is then only
compared structurally, never computed.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import sympy
from latex2sympy2_extended import latex2sympy2 as _l2s
from latex2sympy2_extended.latex2sympy2 import latex2sympy
from latex2sympy2_extended.math_normalization import NormalizationConfig, normalize_latex

from .math_normalize import MATH_WORDS, clean, looks_latex, plain_to_latex

MAX_ANSWER_CHARS = 1000
MAX_DIGITS = 20_000
"""Largest number of digits any sub-value may need before we refuse to evaluate it."""
MAX_NODES = 2_000
_LATEX_FIX = NormalizationConfig(basic_latex=True, units=False, malformed_operators=True, nits=False,
                                 boxed="none", equations=False)
_OR_SPLIT = re.compile(r"\s+or\s+|\\lor|\\vee|\s+and\s+(?=[^,]*$)", re.IGNORECASE)
_CHOICE = re.compile(r"^\(?([A-E])\)?$|^\(([a-e])\)$")
_CHOICE_PRED = re.compile(r"^(?:option\s+|choice\s+)?\(?([A-Ea-e])\)?(?:$|[.:)]|\s)", re.IGNORECASE)
_SHORT_WORDS = {"no", "ok", "up", "on", "in", "at"}
_RATIO = re.compile(r"^\d+(?:\s*:\s*\d+)+$")
_DECIMAL = re.compile(r"^[-+]?\d*\.(\d+)$")
_MIXED = re.compile(r"^(-?)(\d+)\s+(\d+)\s*/\s*(\d+)$")


def safe_number(text: str) -> sympy.Number:
    """A number token -> sympy Number without ``sympify`` (which would ``eval`` the token)."""
    t = text.replace(",", "").strip()
    if re.fullmatch(r"\d+", t):
        return sympy.Integer(int(t))
    if re.fullmatch(r"\d*\.\d+|\d+\.\d*", t):
        return sympy.Float(t, max(15, len(t)))
    raise ParseError(f"not a number token: {t[:40]!r}")


# latex2sympy2_extended builds numbers with ``sympy.Number(str)``, i.e. sympify -> parse_expr ->
# eval of the token. Tokens are digits only, but we keep "no eval of model text anywhere"
# literally: both of its number constructors are replaced by ``safe_number``.
_l2s.Number = safe_number
_l2s._Latex2Sympy.parse_number = lambda self, text: safe_number(text.lstrip("0") or "0")


class ParseError(ValueError):
    """The answer text is not something we can read (reported as verdict ``parse_error``)."""


@dataclass
class Parsed:
    """A typed answer. ``multi``: several alternatives ("or", ``\\pm``, a bare list)."""

    kind: str  # "math" | "choice" | "text" | "ratio" | "seq"
    value: Any
    text: str = ""
    multi: bool = False
    percent: bool = False
    decimals: int | None = None
    unit: str | None = None
    huge: bool = False


def norm_text(s: str) -> str:
    """Case-, space- and punctuation-insensitive form of a text answer."""
    s = re.sub(r"\\text\s*\{([^{}]*)\}", r"\1", s)
    s = re.sub(r"[^\w\s]", " ", s.casefold())
    s = re.sub(r"^(?:the|a|an)\s+", "", re.sub(r"\s+", " ", s).strip())
    return s


def classify_gold(text: str) -> Parsed:
    """Parse a reference answer, deciding its kind from its form."""
    c = clean(text)
    s = c.text
    m = _CHOICE.match(s)
    if m:
        return Parsed("choice", (m.group(1) or m.group(2)).upper(), s)
    if _RATIO.match(s):
        return Parsed("ratio", _ratio(s), s)
    if "\\ldots" in s:
        return Parsed("seq", re.sub(r"\s+", "", s), s)
    if _is_text(s):
        return Parsed("text", norm_text(s), s)
    return parse_math(text)


def parse_like(text: str, gold: Parsed) -> Parsed:
    """Parse a prediction in the light of the gold's kind."""
    c = clean(text)
    s = c.text
    if gold.kind == "choice":
        m = _CHOICE_PRED.match(s)
        if not m:
            raise ParseError("no choice letter")
        return Parsed("choice", m.group(1).upper(), s)
    if gold.kind == "ratio":
        if not _RATIO.match(s):
            raise ParseError("not a ratio")
        return Parsed("ratio", _ratio(s), s)
    if gold.kind == "seq":
        return Parsed("seq", re.sub(r"\s+", "", s), s)
    if gold.kind == "text":
        return Parsed("text", norm_text(s), s)
    return parse_math(text)


def _ratio(s: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.split(r"\s*:\s*", s))


def _is_text(s: str) -> bool:
    if not re.fullmatch(r"[A-Za-z][A-Za-z\s\-']*", s):
        return False
    words = re.findall(r"[A-Za-z]+", s)
    return s.lower() in _SHORT_WORDS or any(len(w) >= 3 and w.lower() not in MATH_WORDS for w in words)


def parse_math(text: str) -> Parsed:
    """Parse a math answer; raises ``ParseError`` when it cannot be read."""
    c = clean(text)
    s = c.text
    if not s:
        raise ParseError("empty answer")
    if len(s) > MAX_ANSWER_CHARS:
        raise ParseError(f"answer longer than {MAX_ANSWER_CHARS} characters")
    if re.search(r"\d{" + str(MAX_DIGITS // 4) + ",}", s):
        return Parsed("math", None, s, huge=True)
    mixed = _MIXED.match(s)
    if mixed and int(mixed.group(4)) != 0:  # plain-text mixed number "2 1/2"
        sign, whole, num, den = mixed.groups()
        value = sympy.Integer(int(whole)) + sympy.Rational(int(num), int(den))
        return Parsed("math", -value if sign else value, s, percent=c.percent, unit=c.unit)
    parts = [p.strip() for p in _OR_SPLIT.split(s) if p.strip()]
    multi = len(parts) > 1 or "\\pm" in s or "±" in s or "\\mp" in s
    raw = [_parse_latex(p) for p in parts]
    if any(size_bound(r) > MAX_DIGITS for r in raw):
        # Too large to evaluate: keep the raw trees, never print or rebuild them (sympy's
        # printer and evaluation would try to compute the value).
        return Parsed("math", raw[0] if len(raw) == 1 else tuple(raw), s, huge=True)
    values = [_exact(sympy.FiniteSet(*r) if isinstance(r, list) else r) for r in raw]
    value = values[0] if len(values) == 1 else sympy.FiniteSet(*values)
    if len(values) == 1 and isinstance(value, sympy.FiniteSet) and not re.search(r"\\\{|\\\}", s):
        multi = True  # a bare list "1, 2, 3"
    dec = _DECIMAL.match(s.replace(",", ""))
    return Parsed("math", value, s, multi=multi, percent=c.percent, unit=c.unit,
                  decimals=len(dec.group(1)) if dec else None)


_PLAIN_NUMBER = re.compile(r"^(-?)(\d+(?:\.\d+)?|\.\d+)$")
_PLAIN_FRACTION = re.compile(r"^(-?)(\d+)\s*/\s*(\d+)$|^(-?)\\frac\{(\d+)\}\{(\d+)\}$")


def _fast_number(s: str) -> Any:
    """Plain numbers and simple fractions straight to sympy (most arithmetic answers), skipping
    the ANTLR parser; ``None`` when ``s`` is anything else."""
    s = s.replace(",", "") if re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?", s) else s
    m = _PLAIN_NUMBER.match(s)
    if m:
        value = safe_number(m.group(2))
        return -value if m.group(1) else value
    m = _PLAIN_FRACTION.match(s)
    if m:
        sign, num, den = (m.group(1), m.group(2), m.group(3)) if m.group(2) else (m.group(4), m.group(5), m.group(6))
        if int(den) == 0:
            return sympy.zoo
        value = sympy.Rational(int(num), int(den))
        return -value if sign else value
    return None


def _parse_latex(s: str) -> Any:
    """One alternative -> an unevaluated sympy tree (a list for a top-level ``\\pm``)."""
    if len(s) < 40:
        fast = _fast_number(s.strip())
        if fast is not None:
            return fast
    s = s.replace("±", "\\pm ").replace("∓", "\\mp ")
    if looks_latex(s):
        latex = normalize_latex(s, _LATEX_FIX)
    else:
        try:
            latex = plain_to_latex(s)
        except ValueError as e:
            raise ParseError(str(e)) from None
    if latex.count("{") > 200 or latex.count("^") > 60:
        raise ParseError("expression too deeply nested")
    try:
        return latex2sympy(latex)
    except Exception as e:  # the ANTLR grammar raises bare Exceptions
        raise ParseError(f"cannot parse {s[:60]!r}: {str(e).splitlines()[0][:80]}") from None


def _exact(expr: Any) -> Any:
    """Floats become the exact decimal they were written as; the symbol ``i`` becomes ``I``."""
    if isinstance(expr, sympy.MatrixBase):
        return expr.applyfunc(_exact)
    if not isinstance(expr, sympy.Basic):
        raise ParseError(f"unsupported value {type(expr).__name__}")
    reps: dict = {f: sympy.Rational(str(f)) for f in expr.atoms(sympy.Float)}
    reps.update({sym: sympy.I for sym in expr.atoms(sympy.Symbol) if sym.name == "i"})
    return expr.xreplace(reps) if reps else expr


def size_bound(expr: Any, _depth: int = 0) -> float:
    """Upper bound on the decimal digits needed by ``expr`` or any sub-value (inf = refuse)."""
    if _depth > 60:
        return math.inf
    if isinstance(expr, (sympy.MatrixBase, list, tuple)):
        return max((size_bound(x, _depth + 1) for x in expr), default=0.0)
    if not isinstance(expr, sympy.Basic):
        return 0.0
    if expr.is_Rational:
        return max(_digits(expr.p), _digits(expr.q))
    if expr.is_Float:
        return abs(float(sympy.log(abs(expr), 10))) + 20 if expr != 0 else 1.0
    args = expr.args
    if isinstance(expr, sympy.Pow) and len(args) == 2:
        base, ex = (size_bound(a, _depth + 1) for a in args)
        if ex > 7:  # exponent above ~10^7
            return math.inf if _nontrivial_base(args[0]) else base
        e = args[1]
        factor = abs(float(e)) if e.is_Rational else 10**ex
        return base * max(factor, 1.0) + 1
    if isinstance(expr, (sympy.factorial, sympy.factorial2, sympy.gamma, sympy.binomial)):
        n = max((size_bound(a, _depth + 1) for a in args), default=0.0)
        if n > 6:
            return math.inf
        if len(args) == 1 and args[0].is_Integer and args[0] >= 0:
            return math.lgamma(int(args[0]) + 1) / math.log(10) + 1
        return (10 ** n) * (n + 1) + 1
    sizes = [size_bound(a, _depth + 1) for a in args]
    if isinstance(expr, sympy.Mul):
        return sum(sizes) + 1
    return max(sizes, default=0.0) + 1


def _nontrivial_base(base: Any) -> bool:
    return not (isinstance(base, sympy.Basic) and base.is_number and base in (0, 1, -1))


def _digits(n: int) -> float:
    n = abs(int(n))
    return float(n.bit_length()) * 0.30103 + 1


def count_nodes(expr: Any) -> int:
    """Size of the expression tree (bounded work for symbolic simplification)."""
    if isinstance(expr, sympy.MatrixBase):
        return sum(count_nodes(x) for x in expr)
    if not isinstance(expr, sympy.Basic):
        return 1
    return sum(1 for _ in sympy.preorder_traversal(expr))

"""Turn an answer string into a typed value: math (sympy), choice letter, text, ratio/time, sequence.

Answers as datasets write them are first brought to plain form (:func:`delabel`): a label before
the value is dropped (``(p,q)=(3,2)``, ``|AB|=1``, ``f(x)=1``, ``V_1:V_2=11:21`` -> the value);
several labelled values are a tuple in their order (``AB=4, CD=5`` -> ``(4, 5)``), or a list when
the label repeats; ``;`` separates answers (``-12;-11`` and ``p=5,q=2;p=7,q=2`` -> ``(5, 2), (7,
2)``) and, inside brackets, coordinates (``(0;-2;6)``); a chain ``a = b = c`` is its last value.
A plain one-letter variable (``x = 5``) keeps its name: the comparison checks it. A reference
that still cannot be read is kept as whitespace-normalised text (kind ``raw``), so that every
reference can be judged; only an identical answer matches it.

LaTeX goes through ``latex2sympy2_extended`` (ANTLR grammar, builds *unevaluated* sympy trees);
plain text is first translated to LaTeX by ``math.normalize.plain_to_latex`` (whitelist, no
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

from .normalize import MATH_WORDS, clean, looks_latex, plain_to_latex

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

    kind: str  # "math" | "choice" | "text" | "ratio" | "seq" | "raw"
    value: Any
    text: str = ""
    multi: bool = False
    percent: bool = False
    decimals: int | None = None
    unit: str | None = None
    huge: bool = False
    items: tuple = ()
    """The values of a bare comma list in the order written (``value`` holds them as a set), so
    that the list can be read as a tuple where the reference is one."""
    labels: tuple = ()
    """The labels of a labelled tuple (``a_3 = 2, a_{37} = 19`` -> ``("a_3", "a_37")``), so that
    two labelled tuples can be matched label by label."""


def norm_text(s: str) -> str:
    """Case-, space- and punctuation-insensitive form of a text answer."""
    s = re.sub(r"\\text\s*\{([^{}]*)\}", r"\1", s)
    s = re.sub(r"[^\w\s]", " ", s.casefold())
    s = re.sub(r"^(?:the|a|an)\s+", "", re.sub(r"\s+", " ", s).strip())
    return s


def raw_text(s: str) -> str:
    """Whitespace- and brace-insensitive form of an answer, for references we cannot parse."""
    s = re.sub(r"\s+", "", s)
    while s.startswith("{") and s.endswith("}") and _balanced(s[1:-1]):
        s = s[1:-1]
    return s


def classify_gold(text: str) -> Parsed:
    """Parse a reference answer, deciding its kind from its form. Never raises for a string: a
    reference that cannot be read becomes kind ``raw`` (compared as normalised text)."""
    try:
        return _classify_gold(text)
    except (ParseError, RecursionError, ValueError, TypeError, AttributeError, IndexError, KeyError) as e:
        s = clean(text).text if len(text) <= 10 * MAX_ANSWER_CHARS else text[-MAX_ANSWER_CHARS:]
        return Parsed("raw", raw_text(s), s, huge=isinstance(e, RecursionError))


def _classify_gold(text: str) -> Parsed:
    c = clean(text)
    s = delabel(c.text)
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
    if gold.kind == "raw":
        return Parsed("raw", raw_text(c.text), c.text)
    s = delabel(c.text)
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
    labels = tuple_labels(s)
    s = delabel(s)
    if not s:
        raise ParseError("empty answer")
    mixed = _MIXED.match(s)
    if mixed and int(mixed.group(4)) != 0:  # plain-text mixed number "2 1/2"
        sign, whole, num, den = mixed.groups()
        value = sympy.Integer(int(whole)) + sympy.Rational(int(num), int(den))
        return Parsed("math", -value if sign else value, s, percent=c.percent, unit=c.unit)
    parts = [p.strip() for p in _OR_SPLIT.split(s) if p.strip()]
    parts = [delabel(p) for p in parts] if len(parts) > 1 else parts
    multi = len(parts) > 1 or "\\pm" in s or "±" in s or "\\mp" in s
    listed = [_items(p) for p in parts]
    raw = [_parse_latex(x) for group in listed for x in group]
    if any(size_bound(r) > MAX_DIGITS for r in raw):
        # Too large to evaluate: keep the raw trees, never print or rebuild them (sympy's
        # printer and evaluation would try to compute the value).
        return Parsed("math", raw[0] if len(raw) == 1 else tuple(raw), s, huge=True)
    values = []
    for r in raw:  # a top-level ``\pm`` or a list inside one alternative adds its values
        values.extend(_exact(x) for x in r) if isinstance(r, list) else values.append(_exact(r))
    value = values[0] if len(values) == 1 else sympy.FiniteSet(*values)
    bare_list = len(parts) == 1 and len(listed[0]) > 1
    if bare_list or (len(values) == 1 and isinstance(value, sympy.FiniteSet) and not re.search(r"\\\{|\\\}", s)):
        multi = True  # a bare list "1, 2, 3"
    items = tuple(values) if bare_list and len(values) == len(listed[0]) else ()
    if labels and isinstance(value, sympy.Interval) and value.left_open and value.right_open:
        value = sympy.Tuple(value.start, value.end)  # two labelled values, not an interval
    dec = _DECIMAL.match(s.replace(",", ""))
    return Parsed("math", value, s, multi=multi, percent=c.percent, unit=c.unit,
                  decimals=len(dec.group(1)) if dec else None, items=items, labels=labels)


_THOUSANDS = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")


def _items(part: str) -> list[str]:
    """The top-level comma-separated items of one alternative ("1, 2" -> two; "(1, 2)" -> one;
    "7,425,000" -> one number)."""
    if _THOUSANDS.fullmatch(part):
        return [part]
    if part.startswith("{") and part.endswith("}") and _balanced(part[1:-1]):
        part = part[1:-1]  # "{1, 3}": braces of a set written without backslashes
    out = [x.strip() for x in split_top(part, ",")]
    out = [x for x in out if x]
    return out or [part]


def _balanced(s: str) -> bool:
    depth = 0
    for ch in s:
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth < 0:
            return False
    return depth == 0


def split_top(s: str, sep: str) -> list[str]:
    """Split at ``sep`` outside any bracket (``()``, ``[]``, ``{}``, half-open intervals too)."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(s):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(depth - 1, 0)
        elif ch == sep and depth == 0:
            out.append(s[start:i])
            start = i + 1
    out.append(s[start:])
    return out


_GREEK = (r"alpha|beta|gamma|delta|epsilon|varepsilon|zeta|eta|theta|vartheta|iota|kappa|lambda|mu|nu"
          r"|xi|rho|sigma|tau|phi|varphi|chi|psi|omega|Gamma|Delta|Theta|Lambda|Xi|Sigma|Phi|Psi|Omega")
_SUB = r"(?:_\{?[A-Za-z0-9]+\}?|')*"
_SIMPLE_VAR = re.compile(rf"(?:[A-Za-z]|\\(?:{_GREEK}))(?:_\{{?[A-Za-z0-9]+\}}?)?")
_NAME = rf"(?:[A-Z]{{2,}}|[A-Za-z]|\\(?:{_GREEK}))(?![A-Za-z]){_SUB}"
_FUNC = rf"{_NAME}\s*\(\s*[A-Za-z0-9]+(?:\s*,\s*[A-Za-z0-9]+)*\s*\)"
_ATOM1 = (rf"(?:\\(?:angle|measuredangle|triangle|overline|widehat|vec|arc)\s*\{{?\s*{_NAME}\s*\}}?"
          rf"|{_FUNC}|{_NAME})")
_ATOM = rf"(?:\|\s*{_ATOM1}\s*\||{_ATOM1}|\\frac\s*\{{\s*{_ATOM1}\s*\}}\s*\{{\s*{_ATOM1}\s*\}})"
_LABEL = re.compile(rf"{_ATOM}|\(\s*{_ATOM}(?:\s*,\s*{_ATOM})+\s*\)|{_ATOM}(?:\s*:\s*{_ATOM})+")
_OTHER_REL = re.compile(r"<|>|\\(?:le|ge|leq|geq|lt|gt|neq|ne|in|approx|sim)(?![a-zA-Z])|≤|≥|≠")
_INEQ = re.compile(r"\s*(?:<=?|>=?|\\(?:leq?|geq?|lt|gt)(?![a-zA-Z])|≤|≥)\s*")


def is_label(s: str) -> bool:
    """A name for the value rather than an expression: ``(p,q)``, ``|AB|``, ``f(x)``, ``x_1``,
    ``\\frac{NO}{BO}``, ``V_1:V_2``, ``\\angle ABC``."""
    return bool(_LABEL.fullmatch(s.strip()))


def _top_equals(s: str) -> list[int]:
    """Positions of ``=`` outside brackets that are not part of ``<=``, ``>=``, ``!=``, ``:=``."""
    out, depth = [], 0
    for i, ch in enumerate(s):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(depth - 1, 0)
        elif ch == "=" and depth == 0 and (i == 0 or s[i - 1] not in "<>!:\\") and s[i + 1 : i + 2] != "=":
            out.append(i)
    return out


def _split_label(item: str) -> tuple[str | None, str]:
    """``LABEL = value`` -> (label, value); a chain ``a = b = c`` -> (a if a label else "", c)."""
    eqs = _top_equals(item)
    if not eqs or _OTHER_REL.search(item) or _OR_SPLIT.search(item):
        return None, item
    lhs, rhs = item[: eqs[0]].strip(), item[eqs[-1] + 1 :].strip()
    if not rhs:
        return None, item
    if is_label(lhs):
        return lhs, rhs
    if len(eqs) > 1:
        return "", rhs
    return None, item


def delabel(s: str) -> str:
    """Bring a labelled or ``;``-separated answer to plain form (module docstring)."""
    if "=" not in s and ";" not in s and not _INEQ.search(s):
        return s
    s = _semicolons(s)
    if ";" in s:
        groups = [g.strip() for g in split_top(s, ";") if g.strip()]
        out = []
        for g in groups:
            v = _delabel_group(g)
            out.append(f"({v})" if len(_items(v)) > 1 and not (v.startswith("(") and v.endswith(")")) else v)
        return ", ".join(out)
    return _delabel_group(s)


def tuple_labels(s: str) -> tuple[str, ...]:
    """The distinct labels of a labelled tuple, normalised (``a_{37}`` -> ``a_37``); else ()."""
    if "=" not in s or ";" in s:
        return ()
    items = _items(s)
    labels = [_split_label(x)[0] for x in items]
    if len(items) < 2 or not all(labels) or len(set(labels)) != len(labels):
        return ()
    return tuple(re.sub(r"[\s{}]", "", lab or "") for lab in labels)


def _semicolons(s: str) -> str:
    """``;`` inside brackets separates coordinates: make it a comma."""
    out, depth = [], 0
    for ch in s:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(depth - 1, 0)
        out.append("," if ch == ";" and depth > 0 else ch)
    return "".join(out)


def _delabel_group(g: str) -> str:
    items = _items(g)
    if len(items) == 1:
        return _delabel_one(g.strip())
    split = [_split_label(x) for x in items]
    labels = [lab for lab, _ in split]
    if all(lab for lab in labels):
        values = [v for _, v in split]
        if len(set(labels)) == 1:  # "x = 1, x = 2": alternatives of one unknown
            return g if _SIMPLE_VAR.fullmatch(labels[0]) else ", ".join(values)
        return "(" + ", ".join(values) + ")"  # "AB = 4, CD = 5": one value per label, in order
    if labels[0] and not any(labels[1:]) and "=" not in "".join(items[1:]):
        return ", ".join([split[0][1], *items[1:]])  # "n = 1, 2, 3"
    return g


def _delabel_one(item: str) -> str:
    label, value = _split_label(item)
    if label is None:
        return _inequality_on_label(item)
    if label and _SIMPLE_VAR.fullmatch(label):
        return f"{label} = {value}"  # keep the variable: the comparison checks its name
    return value


def _inequality_on_label(item: str) -> str:
    """``0 < f(x) < 1``: an inequality on a function's value bounds one unknown."""
    parts = _INEQ.split(item)
    if len(parts) < 2:
        return item
    named = [p for p in parts if re.fullmatch(_FUNC, p.strip())]
    if len(named) != 1:
        return item
    name = named[0].strip()
    letter = re.search(r"[A-Za-z]", re.sub(r"\\[A-Za-z]+", "", name))
    return item.replace(name, letter.group(0) if letter else "t")


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
        e = args[1]
        factor = abs(float(e)) if e.is_Rational else _magnitude(e, ex)
        if factor > 1e7:  # exponent above ~10^7
            return math.inf if _nontrivial_base(args[0]) else base
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


def _magnitude(e: Any, digits: float) -> float:
    """Upper bound on ``|e|``: its numeric value when its parts are small enough to evaluate
    safely (``(-5 + sqrt 13)/6``), else ``10**digits``."""
    if digits <= 30 and getattr(e, "is_number", False):
        try:
            v = abs(complex(sympy.N(e, 15)))
            if math.isfinite(v):
                return v
        except (TypeError, ValueError, ArithmeticError):
            pass
    return 10.0**digits if digits < 300 else math.inf


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

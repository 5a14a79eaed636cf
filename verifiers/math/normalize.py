"""Text clean-up before parsing: delimiters, spacing commands, units, percent, plain text -> LaTeX.

Plain-text math (``pi/2``, ``exp(16)``, ``sqrt(2)``, ``14.0 + -1.0i``) is *translated* to LaTeX
by a whitelist tokenizer and then parsed by ``latex2sympy2_extended`` (an ANTLR grammar), so no
model text ever reaches ``eval``/``sympify``/``parse_expr``. Any name outside the whitelist
(``__import__``, ``os``, ``system`` ...) makes the translation fail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DELIMS = [
    (re.compile(r"^\s*\$\$(.*)\$\$\s*$", re.S), r"\1"),
    (re.compile(r"^\s*\$(.*)\$\s*$", re.S), r"\1"),
    (re.compile(r"^\s*\\\[(.*)\\\]\s*$", re.S), r"\1"),
    (re.compile(r"^\s*\\\((.*)\\\)\s*$", re.S), r"\1"),
]
_DROP = re.compile(
    r"\\(?:left|right|displaystyle|textstyle|!|,|;|:|big|Big|bigg|Bigg)(?![a-zA-Z])|\\q?quad|(?<!\\)\\ |~"
)  # ``\quad`` also when glued to the next letter (``\quadx_2``, a common typo in datasets)
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|°|\\degree|\\circ")
_PERCENT = re.compile(r"\s*(?:\\%|%|\bpercent\b|\bpct\b)\s*$", re.IGNORECASE)
_TEXT_CMD = re.compile(
    r"\\(?:text|textbf|textit|textnormal|textrm|textsf|mathrm|mathbf|mathit|mathsf|mbox|operatorname|emph)"
    r"\s*\{([^{}]*)\}"
)
_ESCAPED_CMD = re.compile(
    r"\\\\(?=(?:boxed|frac|dfrac|tfrac|text|sqrt|pi|cdot|times|leq?|geq?|pm|infty|cup|cap)(?![a-zA-Z]))"
)
"""A doubled backslash before a command name: a gold string escaped twice (``\\\\boxed{...}``)."""
_CURRENCY = re.compile(r"\\\$|(?<![\w\\])\$(?=\s*\d)|[€£¥₹]|\b(?:USD|Rs\.?)\s*")
_UNIT = re.compile(
    r"^(?P<val>.*?[\d})π])\s*(?:\\,|\s)+(?P<unit>(?:[a-zA-Z]{2,}\.?|[mgslhkK])(?:\^\{?\d\}?)?"
    r"(?:/[a-zA-Z]+)?(?:\s+(?:per\s+)?[a-zA-Z]{2,}\.?){0,2})$"
)
MATH_WORDS = {
    "sqrt", "pi", "exp", "ln", "log", "sin", "cos", "tan", "sec", "csc", "cot", "arcsin", "arccos",
    "arctan", "sinh", "cosh", "tanh", "inf", "infty", "infinity", "or", "and", "frac", "cdot",
}
_FUNCS = {"ln", "log", "sin", "cos", "tan", "sec", "csc", "cot", "arcsin", "arccos", "arctan",
          "sinh", "cosh", "tanh"}
_PLAIN_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:,\d{3})+(?:\.\d+)?|\d+\.\d*|\.\d+|\d+)|(?P<name>[A-Za-z]+|π|√|∞)"
    r"|(?P<op>\*\*|[-+*/^()×÷·,=<>≤≥!|]|−|–|\[|\]))"
)


@dataclass
class Cleaned:
    """Answer text after clean-up, with what was peeled off it."""

    text: str
    percent: bool = False
    unit: str | None = None


def strip_delimiters(s: str) -> str:
    """Remove math-mode delimiters around the whole answer and trailing punctuation."""
    s = s.strip()
    for _ in range(3):
        before = s
        for rx, rep in _DELIMS:
            s = rx.sub(rep, s).strip()
        s = s.rstrip(".;").strip()
        if s == before:
            break
    return s


def clean(s: str) -> Cleaned:
    """Normalise spacing commands, degrees, currency, ``\\text{}`` wrappers, percent and units."""
    s = strip_delimiters(unescape_commands(s))
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("\\cfrac", "\\frac")
    s = s.replace("\\ne ", "\\neq ").replace("\\le ", "\\leq ").replace("\\ge ", "\\geq ")
    s = s.replace("\\dots", "\\ldots").replace("\\cdots", "\\ldots").replace("...", "\\ldots")
    s = s.replace("\\lbrace", "\\{").replace("\\rbrace", "\\}")
    s = re.sub(r"(?<=\d),\s*\\!\s*(?=\d)", ",", s)  # ``16,\!386``: a thousands separator
    s = _DROP.sub(" ", s)
    s = _DEGREES.sub("", s)
    s = _CURRENCY.sub("", s)
    s = re.sub(r"\s*\{\s*,\s*\}\s*", ",", s)  # ``14{,}916``: a thousands separator in braces
    s = re.sub(r"(?<!\\)\$", " ", s)  # a stray inline-math marker left inside the answer
    s = re.sub(r"\\text\s*\{\s*(or|and)\s*\}", r" \1 ", s)
    for _ in range(3):
        s = _TEXT_CMD.sub(lambda m: " " + m.group(1) + " ", s)
    s = re.sub(r"\s+", " ", s).strip().rstrip(".").strip()
    percent = False
    m = _PERCENT.search(s)
    if m:
        percent, s = True, s[: m.start()].strip()
    unit = None
    m = _UNIT.match(s)
    if m and not _is_math_tail(m.group("unit")):
        unit, s = _norm_unit(m.group("unit")), m.group("val").strip()
    return Cleaned(s, percent, unit)


def unescape_commands(s: str) -> str:
    """``\\\\frac`` -> ``\\frac``: undo a second escaping of backslashes before known commands
    (a LaTeX line break is never followed directly by a command name in an answer)."""
    return _ESCAPED_CMD.sub(r"\\", s)


def _is_math_tail(unit: str) -> bool:
    words = re.findall(r"[A-Za-z]+", unit)
    return any(w.lower() in MATH_WORDS for w in words)


def _norm_unit(unit: str) -> str:
    words = [w.lower().rstrip(".") for w in unit.split()]
    return " ".join(w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words)


def looks_latex(s: str) -> bool:
    return "\\" in s or "{" in s


def plain_to_latex(s: str) -> str:
    """Translate plain-text math to LaTeX; ``ValueError`` for any non-whitelisted name."""
    tokens = _tokenize(s)
    out, i = _convert(tokens, 0, stop=None)
    if i != len(tokens):
        raise ValueError("unbalanced parentheses")
    return out


def _tokenize(s: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    s = s.rstrip()
    while pos < len(s):
        m = _PLAIN_TOKEN.match(s, pos)
        if not m or m.end() == pos:
            raise ValueError(f"unexpected character {s[pos]!r}")
        pos = m.end()
        kind = m.lastgroup or "op"
        val = m.group(kind)
        if kind == "name":
            tokens.extend(_split_name(val))
        else:
            tokens.append((kind, val.replace(",", "") if kind == "num" else val))
    return tokens


def _split_name(word: str) -> list[tuple[str, str]]:
    """Whitelisted names pass; a run of single letters ("xy") is implicit multiplication."""
    low = word.lower()
    if low in MATH_WORDS or word in ("π", "√", "∞"):
        return [("name", low if word not in ("π", "√", "∞") else word)]
    if len(word) <= 2:
        return [("name", ch) for ch in word]
    raise ValueError(f"unknown name {word[:20]!r}")


_SIMPLE = {"pi": "\\pi ", "π": "\\pi ", "inf": "\\infty ", "infty": "\\infty ", "infinity": "\\infty ",
           "∞": "\\infty ", "*": "\\cdot ", "×": "\\cdot ", "·": "\\cdot ", "÷": "\\div ", "−": "-",
           "–": "-", "≤": "\\leq ", "≥": "\\geq ", "or": " \\text{ or } ", "and": " \\text{ and } ",
           "**": "^", "cdot": "\\cdot ", "|": "|"}


def _convert(tokens: list[tuple[str, str]], i: int, stop: str | None) -> tuple[str, int]:
    """Recursive translation up to the closing bracket ``stop``; returns (latex, next index)."""
    out: list[str] = []
    while i < len(tokens):
        kind, val = tokens[i]
        if stop is not None and val in (")", "]"):
            return "".join(out), i
        if val in ("(", "["):
            inner, i = _convert(tokens, i + 1, ")")
            if i >= len(tokens):
                raise ValueError("unbalanced parentheses")
            out.append(f"{val}{inner}{tokens[i][1]}")
            i += 1
            continue
        if val in (")", "]"):
            raise ValueError("unbalanced parentheses")
        if (kind == "name" and val in ("sqrt", "√", "exp")) or val == "^" or val == "**":
            arg, i = _argument(tokens, i + 1)
            out.append({"sqrt": "\\sqrt{%s}", "√": "\\sqrt{%s}", "exp": "e^{%s}"}.get(val, "^{%s}") % arg)
            continue
        if kind == "name" and val in _FUNCS:
            out.append("\\" + val + " ")
        elif val in _SIMPLE:
            out.append(_SIMPLE[val])
        else:
            out.append(val + (" " if kind == "name" else ""))
        i += 1
    if stop is not None:
        raise ValueError("unbalanced parentheses")
    return "".join(out), i


def _argument(tokens: list[tuple[str, str]], i: int) -> tuple[str, int]:
    """The operand of ``^``/``sqrt``/``exp``: a bracketed group, or a signed atom."""
    if i >= len(tokens):
        raise ValueError("missing operand")
    sign = ""
    if tokens[i][1] in ("-", "+", "−"):
        sign, i = ("-" if tokens[i][1] != "+" else ""), i + 1
        if i >= len(tokens):
            raise ValueError("missing operand")
    kind, val = tokens[i]
    if val == "(":
        inner, j = _convert(tokens, i + 1, ")")
        if j >= len(tokens):
            raise ValueError("unbalanced parentheses")
        return sign + inner, j + 1
    if kind in ("num", "name") and val not in _FUNCS and val not in ("sqrt", "√", "exp", "or", "and"):
        return sign + (_SIMPLE.get(val, val)), i + 1
    raise ValueError("bad operand")

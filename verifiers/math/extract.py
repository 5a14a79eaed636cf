"""Find the final answer in a model response (docs/CONTRACT.md, "What is taken from the response").

Precedence, first hit wins:

1. ``boxed``: the content of the last ``\\boxed{...}`` (or ``\\fbox{...}``), braces matched. Boxes
   right next to it -- joined only by a comma, "and"/"or", spacing or math delimiters
   (``\\boxed{2} \\quad\\text{and}\\quad \\boxed{3}``) -- are one answer of several values and
   are returned together as a comma list ("2, 3"); the comparison then treats it as a list (a
   hedge where one value is expected, a set where the reference is one).
2. ``statement``: the last final-answer statement -- "the (final) answer is X", "Answer: X",
   "#### X" -- also when wrapped in markdown bold (``**Answer:** X``, ``Answer: **X**``).
3. ``last_expr``: the last mathematical expression of the response -- inline LaTeX
   (``$...$``, ``\\(...\\)``, ``\\[...\\]``, ``$$...$$``) or a plain-text number/expression; a
   short reply that is one expression without delimiters (``\\frac{10}{9}``, ``2^{10}``) is taken
   whole.
   Small models rarely format their answers; without this fallback they get no signal.

References (:func:`extract_gold`) are read as datasets write them: ``#### v``; the content of
``\\boxed{}`` (adjacent boxes: all of them, as a list); a final-answer statement in a worked
solution; inline math mixed with words (``$1$ and $2$``, ``$125$ miles``) with the ``$`` removed.

Hedging is kept visible: when the last expression is joined to the one before it by "or" or a
comma ("85 or 86", "1, 2, 3"), the whole run is returned so that the comparison can refuse
credit for a list where a single value is expected. Everything here is regular expressions and
brace matching over the text: nothing is evaluated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .normalize import MATH_WORDS, unescape_commands

BOX_RE = re.compile(r"\\(?:boxed|fbox)\s*\{")
GSM8K_RE = re.compile(r"####\s*(.+?)\s*$", re.MULTILINE)
STATEMENT_RE = re.compile(
    r"(?:final\s+answer|the\s+answer|answer)\s*(?:is|:|=|is\s*:)\s*(?P<ans>[^\n]+)",
    re.IGNORECASE,
)
# Words after which a statement's answer is over ("the answer is 85 because ...").
STATEMENT_STOP_RE = re.compile(r"\s+(?:because|since|as|which|so|given|when|where|for)\s", re.IGNORECASE)
LATEX_SPAN_RE = re.compile(
    r"\$\$(?P<a>.+?)\$\$|\\\[(?P<b>.+?)\\\]|\\\((?P<c>.+?)\\\)"
    r"|(?<![\\\d])\$(?P<d>(?:[^$\n\\]|\\[^\n])+?)(?<!\\)\$",  # ``\$`` inside is an escaped dollar
    re.DOTALL,
)
_NUM = r"\d+(?::\d+)+|\d+(?:,\d{3})*(?:\.\d+)?|\.\d+"
_WORD = r"(?:sqrt|pi|exp|ln|log|sin|cos|tan|i|e)(?![A-Za-z])"
_SYM = r"[-+*/^×÷·=()%−π√∞]"
_VAR = r"(?:(?<=[*/^+\-(])|(?<=[*/^+\-(] ))[b-hj-zB-HJ-Z](?![A-Za-z])"  # a variable right after an operator
_TOKEN = rf"(?:{_NUM}|{_WORD}|{_SYM})"
PLAIN_SPAN_RE = re.compile(rf"(?<![A-Za-z_\d]){_TOKEN}(?:[ \t]*(?:{_TOKEN}|{_VAR}))*")
HEDGE_GAP_RE = re.compile(r"^\s*(?:,\s*)?(?:or|and|and/or)\s*(?:[a-z]\s*)?$|^\s*,\s*(?:[a-z]\s*)?$",
                          re.IGNORECASE)
BOLD_RE = re.compile(r"(?<![\w)])\*\*|\*\*(?![\w(])|(?<!\w)__|__(?!\w)")
MAX_SCAN_CHARS = 20_000
MAX_GOLD_CHARS = 1000
# What may stand between two boxes that give one answer together: separators, spacing, math
# delimiters, ``\text{and}``, and the label of the next value (``\boxed{..} and y_2 = \boxed{..}``).
_BOX_GAP_NOISE = re.compile(r"\\q?quad|\\[,;:! ]|\\[()\[\]]|\$|\\text\s*\{([^{}]*)\}|~")
_BOX_GAP_RE = re.compile(
    r"^[,;]?\s*(?:(?:[\w()]+\s+){0,3}?(?:and|or|&)\s*)?(?:[A-Za-z](?:_\{?\w+\}?)?\s*=\s*)?$", re.IGNORECASE
)
_BARE_LATEX_MAX = 200


@dataclass(frozen=True)
class Extracted:
    """An answer candidate and where it came from (``boxed``, ``statement``, ``last_expr``)."""

    text: str
    source: str


def brace_partners(text: str) -> dict[int, int]:
    """Every balanced ``{``'s index mapped to its ``}`` in one pass (backslash escapes skipped).

    One pass for all braces: a scan per brace made many unclosed ``\\boxed{`` quadratic.
    """
    partners: dict[int, int] = {}
    stack: list[int] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "{":
            stack.append(i)
        elif ch == "}" and stack:
            partners[stack.pop()] = i
        i += 1
    return partners


def last_boxed(text: str) -> str | None:
    """Content of the last well-formed ``\\boxed{...}``; ``None`` when there is none."""
    boxes = list(BOX_RE.finditer(text))
    partners = brace_partners(text) if boxes else {}
    for m in reversed(boxes):
        end = partners.get(m.end() - 1, -1)
        if end != -1:
            return text[m.end() : end].strip()
    return None


def boxes(text: str) -> list[tuple[int, int, str]]:
    """Every well-formed ``\\boxed{...}`` as (start, end, content), in order."""
    found = list(BOX_RE.finditer(text))
    partners = brace_partners(text) if found else {}
    out = []
    for m in found:
        end = partners.get(m.end() - 1, -1)
        if end != -1 and (not out or m.start() >= out[-1][1]):  # a box inside a box is part of it
            out.append((m.start(), end + 1, text[m.end() : end].strip()))
    return out


def final_boxes(text: str) -> list[str]:
    """The last box and the boxes adjacent to it (see the module docstring), in order."""
    found = boxes(text)
    if not found:
        return []
    run = [found[-1]]
    for box in reversed(found[:-1]):
        gap = _BOX_GAP_NOISE.sub(lambda m: f" {m.group(1) or ''} ", text[box[1] : run[0][0]])
        if len(gap) > 60 or not _BOX_GAP_RE.match(gap.strip()):
            break
        run.insert(0, box)
    return [b[2] for b in run]


def strip_bold(text: str) -> str:
    """Remove markdown bold markers but keep ``**`` used as a power (``2**3``, ``e**2``)."""
    return BOLD_RE.sub("", text)


def _clean_statement(ans: str) -> str:
    ans = strip_bold(ans).strip()
    if not ans.startswith(("$", "\\(", "\\[")):
        stop = STATEMENT_STOP_RE.search(ans)
        if stop:
            ans = ans[: stop.start()]
    ans = re.sub(r"\.\s.*$", "", ans)  # cut a following sentence (a decimal point has no space after it)
    return ans.strip().rstrip(".;!").strip()


def final_statement(text: str) -> str | None:
    """The answer of the last final-answer statement (bold markers removed)."""
    plain = strip_bold(text)
    best: tuple[int, str] | None = None
    for rx in (STATEMENT_RE, GSM8K_RE):
        for m in rx.finditer(plain):
            ans = m.group("ans") if "ans" in rx.groupindex else m.group(1)
            ans = _clean_statement(ans)
            inner = STATEMENT_RE.search(ans)  # "Final Answer: The final answer is X"
            if inner and inner.start() <= 4:
                ans = _clean_statement(inner.group("ans"))
            if ans and (best is None or m.start() >= best[0]):
                best = (m.start(), ans)
    return best[1] if best else None


def _candidates(text: str) -> list[tuple[int, int, str]]:
    """Math spans as (start, end, text): LaTeX spans and plain spans that contain a digit or pi."""
    spans = []
    for m in LATEX_SPAN_RE.finditer(text):
        body = next(g for g in m.groups() if g is not None)
        if re.search(r"[\d\\a-zA-Z]", body):
            spans.append((m.start(), m.end(), body.strip()))
    for m in PLAIN_SPAN_RE.finditer(text):
        body = m.group(0).strip().rstrip("=+-*/^×÷·−(").lstrip("=+*/^×÷·").strip()
        if re.search(r"\d|π|pi", body) and body.count("(") == body.count(")"):
            spans.append((m.start(), m.end(), body))
        elif re.search(r"\d|π|pi", body):
            inner = body.strip("()").strip()
            if inner and inner.count("(") == inner.count(")"):
                spans.append((m.start(), m.end(), inner))
    spans.sort(key=lambda s: (s[1], -s[0]))
    return spans


def last_expression(text: str) -> str | None:
    """The last mathematical expression; runs joined by "or"/"," are returned whole (hedges)."""
    spans = _candidates(text)
    if not spans:
        return None
    start, _end, body = spans[-1]
    parts = [body]
    # Walk back over candidates that end before this one starts, joined by "or" or ",".
    for s, e, b in reversed(spans[:-1]):
        if e > start:
            continue
        gap = text[e:start]
        if not HEDGE_GAP_RE.match(gap):
            break
        sep = " or " if "or" in gap.lower() else ", "
        parts.insert(0, b + sep)
        start = s
    return "".join(parts).strip()


_WHOLE_CHARS = re.compile(r"[\w\s\\{}()\[\]^_+\-*/=<>.,:;!|'&%°π√∞≤≥±×÷·−]+")
_WHOLE_WORDS = MATH_WORDS - {"or", "and"}


def bare_latex(text: str) -> str | None:
    """The whole reply when it is one short expression without delimiters (``-\\frac{10}{9}``,
    ``2^{10}``, ``x + 7``, ``[1, 3]``): math characters only, no prose word outside command
    names (so hedges and sentences still go through :func:`last_expression`)."""
    t = strip_bold(text).strip().rstrip(".").strip()
    if not t or len(t) > _BARE_LATEX_MAX or "\n" in t or not _WHOLE_CHARS.fullmatch(t) or re.search(r"\\[(\[]", t):
        return None
    outside = re.sub(r"\\[A-Za-z]+|\{[^{}]*\}", " ", t)
    if any(w.lower() not in _WHOLE_WORDS for w in re.findall(r"[A-Za-z]{2,}", outside)):
        return None
    if not re.search(r"\d|\\[A-Za-z]", t):
        return None
    return t


def extract_answer(response: str) -> Extracted | None:
    """Apply the documented precedence; ``None`` when the response holds no answer at all."""
    text = response[-MAX_SCAN_CHARS:]
    run = final_boxes(text)
    if run:
        return Extracted(", ".join(run), "boxed")
    stmt = final_statement(text)
    if stmt:
        return Extracted(stmt, "statement")
    bare = bare_latex(text)
    if bare:
        return Extracted(bare, "last_expr")
    expr = last_expression(text)
    if expr:
        return Extracted(expr, "last_expr")
    return None


def _gold_from_spans(text: str) -> str:
    """Inline math mixed with words: ``$1$ and $2$`` -> ``1 and 2``, ``$125$ miles`` ->
    ``125 miles``; prose around the math (``The sum is $5$``) -> the last span."""
    lead = text[: text.rfind("$", 0, text.rfind("$"))]  # everything before the last span
    words = {w.lower() for w in re.findall(r"[A-Za-z]{2,}", re.sub(r"\$[^$]*\$", " ", lead))}
    if words - {"and", "or"}:
        return last_expression(text) or text
    text = re.sub(r"(?<!\\)\$+", " ", text).strip().rstrip(".")
    return re.sub(r"\s+", " ", text)


def extract_gold(answer: str) -> str:
    """Reference answer, as datasets write it (module docstring): ``#### v`` -> v; ``\\boxed{}``
    -> its content (a run of adjacent boxes -> "a, b"; an unclosed last box -> the rest of the text); a
    worked solution -> its final-answer statement; ``$1$ and $2$`` -> ``1 and 2``."""
    if not isinstance(answer, str):
        raise TypeError(f"problem['answer'] must be a str, got {type(answer).__name__}")
    m = list(GSM8K_RE.finditer(answer))
    if m:
        return m[-1].group(1).strip()
    text = unescape_commands(answer).strip()
    run = final_boxes(text)
    if run:
        return ", ".join(run)
    opened = list(BOX_RE.finditer(text))
    if opened:  # an unclosed box: the answer is what follows it
        return text[opened[-1].end() :].strip().rstrip("$").strip()
    stmt = final_statement(text) if STATEMENT_RE.search(text) else None
    if stmt:
        return stmt
    if len(re.findall(r"(?<!\\)\$", text)) >= 2 and re.sub(r"\$[^$]*\$", "", text).strip(" .,;"):
        text = _gold_from_spans(text)
    if len(text) > MAX_GOLD_CHARS:
        return last_expression(text) or text[-MAX_GOLD_CHARS:]
    return text

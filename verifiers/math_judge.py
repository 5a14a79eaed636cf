"""Judge half of the math verifier: runs inside the sandbox (sympy and parsers never run on the
host for model text; SANDBOX.md principle 6). ``grade`` is the pure function, importable for
in-process tests; ``judge`` is the sandbox entry point."""

from __future__ import annotations

import re
from typing import Any

from .math_equiv import StepTimeout, compare
from .math_extract import extract_answer, extract_gold, last_expression
from .math_parse import Parsed, ParseError, classify_gold, parse_like


def _score(verdict: str, detail: str = "", **extra: Any) -> dict:
    ok = verdict == "correct"
    return {"reward": 1.0 if ok else 0.0, "verdict": verdict, "passed": ok, "detail": detail[:300],
            "extra": extra}


def _parse_pred(text: str, source: str, gold: Parsed) -> Parsed:
    """Parse the extracted answer; a statement that is prose falls back to its last expression."""
    try:
        return parse_like(text, gold)
    except ParseError:
        if source != "statement" or re.search(r"[\'\"_`]", text):  # prose only, not code
            raise
        inner = last_expression(text)
        if not inner:
            raise
        return parse_like(inner, gold)


def grade(response: str, gold: str) -> dict:
    """Score one response against one reference answer (Score fields, JSON-able)."""
    try:
        gold_parsed = classify_gold(extract_gold(gold))
    except ParseError as e:
        return _score("judge_error", f"reference answer unparseable: {e}")
    found = extract_answer(response)
    if found is None:
        return _score("no_answer", "no final answer found")
    extra = {"extracted": found.text[:200], "source": found.source}
    try:
        pred = _parse_pred(found.text, found.source, gold_parsed)
    except ParseError as e:
        return _score("parse_error", str(e), **extra)
    except RecursionError:
        return _score("parse_error", "expression too deeply nested", **extra)
    try:
        verdict, detail = compare(gold_parsed, pred)
    except (StepTimeout, RecursionError) as e:
        return _score("wrong", f"comparison gave up: {type(e).__name__}", **extra)
    return _score(verdict, detail, **extra)


def judge(payload: dict, ctx: Any = None) -> dict:
    """Sandbox entry point: ``{"response", "gold"}`` -> Score fields."""
    response, gold = payload.get("response"), payload.get("gold")
    if not isinstance(response, str) or not isinstance(gold, str):
        raise TypeError("payload needs str fields 'response' and 'gold'")
    return grade(response, gold)


def judge_many(payload: dict, ctx: Any = None) -> dict:
    """Sandbox entry point for a chunk: ``{"items": [{"response", "gold"}, ...]}`` ->
    ``{"scores": [...]}``. Nothing of a response is executed, so items cannot affect each other's
    verdicts; a chunk that hits a job limit is re-judged item by item by the host."""
    items = payload.get("items")
    if not isinstance(items, list):
        raise TypeError("payload needs a list field 'items'")
    return {"scores": [judge(item, ctx) for item in items]}


WARM_ANSWERS = (
    r"\frac{3}{4}", r"-\frac{\sqrt{3}}{2}", r"2\sqrt{5}", r"\frac{\pi}{6}", r"9\pi", r"e^{2}",
    r"x^2 + 6x + 9", r"(x+1)^2", r"\frac{x+2}{7}", r"2x + 4y - 3 = 0", r"y = -\frac{1}{2}x + 3",
    r"x \geq \sqrt{2}", r"1 < x < 2", r"[2, 5)", r"(3, \infty)", r"(-\infty, 2] \cup [3, \infty)",
    r"\{1, 2, 3\}", r"(1, -2)", r"1, 2, 3", r"\pm 7", r"x = \pm 2", r"2\frac{1}{2}", r"25\%",
    r"30^\circ", r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}", r"\sin\frac{\pi}{12}", r"\log_2 8",
    r"\ln 2", r"\binom{6}{2}", r"5!", r"2^{10}", r"10^{-3}", r"3 + 4i", r"\text{(C)}", r"\sec^2(y)",
    r"\sqrt[3]{8}", r"1.5", r"\emptyset", r"x = 5", "sqrt(2)/2", "exp(16) - 1", "14.0 + -1.0i", "2*pi*r",
)


def warm_up() -> None:
    """Grade representative pairs so that sympy's lazily imported machinery (solvers, sets,
    simplification, matrices) and the LaTeX parser's prediction cache are built once in the job
    server's pre-imported parent, not again in every forked job."""
    for answer in WARM_ANSWERS:
        try:
            classify_gold(answer)
        except ParseError:
            pass
    for response, gold in [
        (r"\boxed{m \in [\sqrt{2}, \infty)}", r"m \geq \sqrt{2}"),
        (r"$y = -x/2 + 3/4$", r"2x + 4y - 3 = 0"),
        (r"\boxed{(x-1)^2}", r"x^2 + 2x + 1"),
        (r"\boxed{0.333}", r"\frac{1}{3}"),
        ("Answer: sqrt(2)/2 or 3", r"\{1, 2\}"),
        (r"\boxed{e^{i\pi}}", "-1"),
    ]:
        grade(response, gold)


warm_up()

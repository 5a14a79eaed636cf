"""Judge half of the math verifier: runs inside the sandbox (sympy and parsers never run on the
host for model text). ``grade`` is the pure function, importable for in-process tests; ``judge``
is the sandbox entry point.

Order of decisions: extract the answer (``math.extract``), parse it in the light of the
reference (``math.parse``), compare values (``math.equiv``); an answer of the right value must
then also be final (``math.final``: ``restated``, ``unsimplified``, ``approximation``). A bare
comma list answering a tuple reference (``1, 2`` for ``(1, 2)``) is read as that tuple, in its
order, not as a hedge.
"""

from __future__ import annotations

import re
from typing import Any

import sympy

from .equiv import StepTimeout, compare
from .extract import extract_answer, extract_gold, last_expression
from .final import final_verdict
from .parse import Parsed, ParseError, classify_gold, parse_like


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


def _as_tuple(pred: Parsed, gold: Parsed) -> Parsed:
    """A bare comma list where the reference is a tuple is that tuple (order kept), not a hedge.
    ``(a, b)`` references count as tuples too (the parser may read them as open intervals)."""
    point = isinstance(gold.value, sympy.Tuple) or (
        isinstance(gold.value, sympy.Interval) and gold.text.startswith("(") and gold.text.endswith(")"))
    if not (pred.multi and gold.kind == "math" and point):
        return pred
    text = pred.text.strip()
    if "," not in text or re.search(r"\\[{}]|[()\[\]{}]|\bor\b|\band\b|\\pm|±", text):
        return pred
    try:
        return parse_like(f"({text})", gold)
    except (ParseError, RecursionError):
        return pred


def grade(response: str, gold: str, problem: str | None = None, numeral_only: bool = False) -> dict:
    """Score one response against one reference answer (Score fields, JSON-able).

    ``problem``: the problem text, when known (the ``restated`` rule needs it, and it tells
    whether a decimal was asked for). ``numeral_only``: only a numeral counts as an answer.
    """
    gold_parsed = classify_gold(extract_gold(gold))  # never raises: an unreadable gold is compared as text
    found = extract_answer(response)
    if found is None:
        return _score("no_answer", "no final answer found")
    extra = {"extracted": found.text[:200], "source": found.source}
    try:
        pred = _as_tuple(_parse_pred(found.text, found.source, gold_parsed), gold_parsed)
    except RecursionError:
        return _score("parse_error", "expression too deeply nested", **extra)
    except (ValueError, TypeError, AttributeError, IndexError, KeyError) as e:  # ParseError, or sympy refusing
        return _score("parse_error", str(e) or type(e).__name__, **extra)      # model text (\sum_{i=1}^{3} i)
    try:
        verdict, detail = compare(gold_parsed, pred)
    except (StepTimeout, RecursionError) as e:
        return _score("wrong", f"comparison gave up: {type(e).__name__}", **extra)
    if verdict == "correct":
        try:
            verdict, detail = final_verdict(gold_parsed, pred, problem, numeral_only)
        except (StepTimeout, RecursionError, ArithmeticError, TypeError, ValueError, AttributeError) as e:
            # the form could not be judged (out of budget, or sympy refused a step): the value is
            # right and the rules only withhold credit where they can show why, so it stays correct
            detail = f"final-form check skipped: {type(e).__name__}"
    return _score(verdict, detail, **extra)


def judge(payload: dict, ctx: Any = None) -> dict:
    """Sandbox entry point: ``{"response", "gold"}`` plus optional ``"problem"`` (str, the problem
    text) and ``"numeral_only"`` (bool) -> Score fields. Without ``problem`` (older callers) the
    ``restated`` rule cannot fire and no decimal counts as asked for."""
    response, gold = payload.get("response"), payload.get("gold")
    problem, numeral_only = payload.get("problem"), payload.get("numeral_only", False)
    if not isinstance(response, str) or not isinstance(gold, str):
        raise TypeError("payload needs str fields 'response' and 'gold'")
    if problem is not None and not isinstance(problem, str):
        raise TypeError("payload field 'problem' must be a str (the problem text) when given")
    if not isinstance(numeral_only, bool):
        raise TypeError("payload field 'numeral_only' must be a bool when given")
    return grade(response, gold, problem, numeral_only)


def judge_many(payload: dict, ctx: Any = None) -> dict:
    """Sandbox entry point for a chunk: ``{"items": [{"response", "gold"}, ...]}`` ->
    ``{"scores": [...]}`` (each item as for :func:`judge`). Nothing of a response is executed, so
    items cannot affect each other's verdicts; a chunk that hits a job limit is re-judged item by
    item by the host."""
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
    for response, gold, problem in [  # the final-form rules' second parse (math_final)
        (r"\boxed{70+38}", "108", "What is 70 + 38?"),
        (r"\boxed{\sqrt{50}}", r"5\sqrt{2}", r"Simplify $\sqrt{50}$."),
        (r"\boxed{2x + 1 > 7}", r"(3, \infty)", r"Solve $2x + 1 > 7$."),
        (r"\boxed{\binom{6}{2} + \log_3 81}", "19", r"Compute $\frac{2}{3} \cdot 3!$."),
    ]:
        grade(response, gold, problem, numeral_only=False)
    grade("Answer: 108", "108", "What is 70 + 38?", numeral_only=True)


warm_up()

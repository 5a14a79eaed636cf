"""The labelled math equivalence set (verifiers/math/data/math_equivalence.jsonl), in-process.

Each row is (gold, response, expected) written by hand as a careful human grader would judge
it, with Math-Verify's published issues as regressions. A row may carry the ``problem`` text
(the categories ``restated`` and ``approximation`` need it); the judge gets it as an env would
pass it. Rows that once labelled an unevaluated expression as correct (``2^3`` for 8) were
re-labelled 0 when the ``unsimplified`` rule came, and say so in their note. The same judge code runs in the
sandbox; ``test_math_docker.py`` replays a sample through the real Docker pool.
"""

from __future__ import annotations

import builtins
import json
from collections import Counter
from pathlib import Path

import pytest
from sppo_gym.verifiers.math.judge import grade

DATA = Path(__file__).resolve().parents[1] / "verifiers" / "math" / "data" / "math_equivalence.jsonl"
ROWS = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
CATEGORIES = {
    "regression", "extraction", "hedging", "numbers", "plain_text", "mixed_numbers", "text_choice",
    "structures", "units_percent", "symbolic", "gsm8k", "adversarial",
    "restated", "unsimplified", "approximation",
}
FINAL_FORM = {"restated", "unsimplified", "approximation"}
ISSUES = ("MV#14", "MV#25", "MV#26", "MV#60", "MV#65", "MV#69", "MV#76")


def test_set_covers_every_category_and_issue() -> None:
    counts = Counter(r["category"] for r in ROWS)
    assert len(ROWS) >= 300
    assert set(counts) == CATEGORIES
    assert min(counts.values()) >= 10
    notes = " ".join(r["note"] for r in ROWS)
    for issue in ISSUES:
        assert issue in notes, issue
    assert len({r["id"] for r in ROWS}) == len(ROWS)
    assert {r["expected"] for r in ROWS} == {0, 1}


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_labelled_case(row: dict) -> None:
    score = grade(row["response"], row["gold"], row.get("problem"))
    assert score["reward"] == row["expected"], (row["note"], score)
    assert score["passed"] == bool(row["expected"])
    if row["category"] in FINAL_FORM and not row["expected"] and "re-labelled" not in row["note"]:
        assert score["verdict"] in FINAL_FORM | {"hedged", "wrong", "parse_error"}, score


def test_final_form_rows() -> None:
    """>= 60 hand-labelled rows for the final-form rules, each rule with both outcomes."""
    rows = [r for r in ROWS if r["category"] in FINAL_FORM]
    assert len(rows) >= 60
    for category in FINAL_FORM:
        assert {r["expected"] for r in rows if r["category"] == category} == {0, 1}, category
    verdicts = Counter(grade(r["response"], r["gold"], r.get("problem"))["verdict"] for r in rows if not r["expected"])
    assert verdicts["restated"] >= 10 and verdicts["unsimplified"] >= 10 and verdicts["approximation"] >= 4, verdicts


def test_no_eval_of_model_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """After a warm-up (sympy imports some modules lazily, evaluating constant strings),
    grading the whole set calls neither ``eval`` nor ``exec`` even once."""
    sample = [r for r in ROWS[::3] if len(r["response"]) < 2000]
    for row in sample:
        grade(row["response"], row["gold"], row.get("problem"))
    calls: list[str] = []

    def spy(name: str, real):
        def wrapped(*args, **kwargs):
            calls.append(f"{name}: {str(args[0])[:80]}")
            return real(*args, **kwargs)

        return wrapped

    monkeypatch.setattr(builtins, "eval", spy("eval", builtins.eval))
    monkeypatch.setattr(builtins, "exec", spy("exec", builtins.exec))
    for row in sample:
        grade(row["response"], row["gold"], row.get("problem"))
    assert calls == []

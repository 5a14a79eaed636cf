"""Answer extraction precedence (docs/CONTRACT.md, "What is taken from the response"), the exact verifier, and the Arithmetic generator."""

from __future__ import annotations

import random
import re

import numpy as np
import pytest
from sppo_gym.envs import arithmetic
from sppo_gym.envs.problems import item_rng
from sppo_gym.verifiers import get_verifier
from sppo_gym.verifiers.format.exact import normalize
from sppo_gym.verifiers.math.extract import brace_partners, extract_answer, extract_gold, last_boxed
from sppo_gym.verifiers.math.judge import grade


@pytest.mark.parametrize(("response", "text", "source"), [
    (r"so $\boxed{\frac{1}{2}}$. The answer is 3.", r"\frac{1}{2}", "boxed"),
    (r"\boxed{1} then \boxed{2}", "2", "boxed"),
    ("The answer is 7. Check: 3 + 4 = 7, and 9.", "7", "statement"),
    ("**Final Answer:** **73**", "73", "statement"),
    ("Answer: e**2", "e**2", "statement"),
    ("47 + 38 = 85", "47 + 38 = 85", "last_expr"),
    ("The sum is 85.", "85", "last_expr"),
    ("85 or 86", "85 or 86", "last_expr"),
    ("It is 1, 2, 3", "1, 2, 3", "last_expr"),
    (r"we get $x^2$ and then $\sqrt{2}$", r"\sqrt{2}", "last_expr"),
    # a short reply that is one expression without delimiters is taken whole
    (r"-\frac{10}{9}", r"-\frac{10}{9}", "last_expr"),
    ("2^{10}", "2^{10}", "last_expr"),
    ("x + 7", "x + 7", "last_expr"),
    ("[1, 3]", "[1, 3]", "last_expr"),
    ("70 + 38 = ?", "70 + 38", "last_expr"),  # not an expression as a whole: its last expression
    # a run of adjacent boxes is one answer of several values; separate boxes: the last one
    (r"$\boxed{2}$ and $\boxed{3}$", "2, 3", "boxed"),
    (r"\boxed{(1, 2)}, \boxed{(2, 1)}", "(1, 2), (2, 1)", "boxed"),
    ("Final Answer: The final answer is $5$. I hope it is correct.", "$5$", "statement"),
])
def test_extraction_precedence(response: str, text: str, source: str) -> None:
    found = extract_answer(response)
    assert found is not None and (found.text, found.source) == (text, source)


def test_no_answer_and_gold_forms() -> None:
    assert extract_answer("no numbers here") is None
    assert last_boxed(r"\boxed{a{b}c}") == "a{b}c" and last_boxed(r"\boxed{unclosed") is None
    assert extract_gold("She sold 48/2 = 24.\n#### 72") == "72"
    assert extract_gold(r"Hence $x = \boxed{\frac{3}{4}}$.") == r"\frac{3}{4}"
    assert extract_gold(r"\pi") == r"\pi"
    with pytest.raises(TypeError):
        extract_gold(3)  # type: ignore[arg-type]


@pytest.mark.parametrize(("response", "reward", "verdict"), [
    ("47 + 38 = 85", 1.0, "correct"),
    ("The sum is 85.", 1.0, "correct"),
    ("Answer: 85", 1.0, "correct"),
    ("85 or 86", 0.0, "hedged"),
    ("84, 85, 86", 0.0, "hedged"),
    ("The sum is 86.", 0.0, "wrong"),
    ("I cannot do this.", 0.0, "no_answer"),
])
def test_small_model_replies_to_the_default_arithmetic_task(response: str, reward: float, verdict: str) -> None:
    score = grade(response, "85")
    assert (score["reward"], score["verdict"]) == (reward, verdict)


def test_exact_verifier_normalisation_and_in_process() -> None:
    v = get_verifier("exact")
    assert v.entry is None
    assert normalize("  $Paris$. ") == "paris" and normalize("New   York") == "new york"
    scores = v.verify_batch([
        ("The answer is $Paris$.", {"answer": "paris"}),
        (r"\boxed{New  York}", {"answer": "new york"}),
        ("The answer is 0.5", {"answer": "1/2"}),  # no math parsing here
        ("nothing", {"answer": "x"}),
        ("The answer is 12", {"answer": 12}),
    ])
    assert [s.verdict for s in scores] == ["correct", "correct", "wrong", "no_answer", "correct"]
    with pytest.raises(TypeError):
        v.verify(None, {"answer": "1"})  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        v.verify("1", {"answer": None})


def test_arithmetic_default_is_two_digit_addition() -> None:
    for i in range(200):
        p = arithmetic.generate(item_rng(0, "train", i))
        a, b = (int(x) for x in p["question"].removeprefix("What is ").removesuffix("?").split(" + "))
        assert 10 <= a <= 99 and 10 <= b <= 99 and p["answer"] == str(a + b) and p["difficulty"] == 1


@pytest.mark.parametrize("level", range(1, arithmetic.LEVELS + 1))
def test_arithmetic_levels_are_seeded_and_self_consistent(level: int) -> None:
    rows = [arithmetic.generate(item_rng(3, "train", i), difficulty=level) for i in range(25)]
    again = [arithmetic.generate(item_rng(3, "train", i), difficulty=level) for i in range(25)]
    assert rows == again
    assert len({r["question"] for r in rows}) > 15
    for r in rows:
        assert grade(f"Answer: {r['answer']}", r["answer"])["reward"] == 1.0
        assert grade(f"Answer: {r['answer']} or 1000001", r["answer"])["verdict"] == "hedged"


def test_arithmetic_train_and_test_problem_sets_are_disjoint() -> None:
    train = {arithmetic.generate(item_rng(0, "train", i))["question"] for i in range(3000)}
    test = {arithmetic.generate(item_rng(0, "test", i), split="test")["question"] for i in range(500)}
    assert train and test and not train & test
    assert all(arithmetic.in_test_split(q) for q in test)


def test_arithmetic_answers_are_right() -> None:
    rng = np.random.default_rng(1)
    for _ in range(100):
        q, a = arithmetic.level_6(rng)
        expr = q.removeprefix("What is ").removesuffix("?").replace("×", "*").replace("÷", "//")
        assert str(eval(expr)) == a  # our own generated text, never model output


def test_arithmetic_bad_difficulty() -> None:
    with pytest.raises(ValueError, match="difficulty"):
        arithmetic.check_difficulty(0)
    with pytest.raises(ValueError, match="difficulty"):
        arithmetic.check_difficulty("2")


def _partner_by_scan(text: str, open_idx: int) -> int:
    """The oracle: walk right from one brace counting depth (O(n) per brace), escapes skipped."""
    depth = 0
    for m in re.finditer(r"\\.|[{}]", text[open_idx:], re.DOTALL):
        depth += {"{": 1, "}": -1}.get(m.group(), 0)
        if m.group() == "}" and depth == 0:
            return open_idx + m.start()
    return -1


def test_brace_partners_agree_with_a_scan_per_brace_on_random_text():
    rng = random.Random(0)
    for _ in range(300):
        text = "".join(rng.choice("{}\\ab") for _ in range(rng.randint(0, 40)))
        partners = brace_partners(text)
        for m in re.finditer(r"\\.|\{", text, re.DOTALL):  # every unescaped brace
            if m.group() == "{":
                assert partners.get(m.start(), -1) == _partner_by_scan(text, m.start()), (text, m.start())


@pytest.mark.timeout(10)  # < 0.3 s today; a quadratic or unbounded path on this input runs for minutes
def test_many_unclosed_boxes_still_find_the_last_closed_one():
    text = "\\boxed{7} " + "\\boxed{" * 20_000
    assert last_boxed(text) == "7"

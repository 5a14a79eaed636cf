"""References as real datasets write them: labelled values, several answers, ratios, ``;``-separated
tuples, several boxes, and references that cannot be parsed at all (never ``judge_error``).

In-process (the judge's pure function); the last tests replay a few through the Docker sandbox.
"""

from __future__ import annotations

import random

import pytest
from sppo_gym.verifiers import get_verifier
from sppo_gym.verifiers.math.extract import extract_answer, extract_gold
from sppo_gym.verifiers.math.judge import grade
from sppo_gym.verifiers.math.parse import classify_gold, delabel, is_label

LABELLED = [  # (gold, response, reward)
    (r"$(p,q)=(3,2)$", r"\boxed{(3, 2)}", 1.0),
    (r"$(p,q)=(3,2)$", r"\boxed{(2, 3)}", 0.0),
    (r"$(a, b, c) = (1, 4, 9)$", "So (a, b, c) = (1, 4, 9).", 1.0),
    (r"$|PQ| = 7$", r"The length is $7$.", 1.0),
    (r"$|PQ| = 7$", r"The length is $8$.", 0.0),
    (r"$g(t) = 3t - 2$", r"\boxed{3t-2}", 1.0),
    (r"$g(t) = 3t - 2$", r"\boxed{g(t) = 3t + 2}", 0.0),
    (r"$\frac{AM}{MC} = \frac{2}{5}$", r"\boxed{\frac{2}{5}}", 1.0),
    (r"$\angle ABC = 40^\circ$", r"\boxed{40}", 1.0),
    (r"$h_{max} = 12$", "Answer: 12", 1.0),
    (r"$PQ = 6, QR = 8$", r"\boxed{6, 8}", 1.0),  # one value per label, in order
    (r"$PQ = 6, QR = 8$", r"\boxed{8, 6}", 0.0),
    (r"$m = 2, n = 7$", r"\boxed{n = 7, m = 2}", 1.0),  # labelled both sides: matched by label
    (r"$m = 2, n = 7$", r"\boxed{n = 2, m = 7}", 0.0),
    (r"$x_{1} = 4, \quad x_{2} = -1$", r"$\boxed{4} \quad \text{and} \quad \boxed{-1}$", 1.0),
    ("$x = 5$", r"\boxed{y = 5}", 0.0),  # a plain variable keeps its name
    ("$0 < g(x) < 2$", r"\boxed{(0, 2)}", 1.0),
    ("$0 < g(x) < 2$", r"\boxed{(0, 3)}", 0.0),
]

SEVERAL = [
    ("$2$ and $5$", r"\boxed{5, 2}", 1.0),
    ("$2$ and $5$", r"\boxed{2}", 0.0),
    ("$4,9$ or $16$", r"\boxed{16, 9, 4}", 1.0),
    ("$4,9$ or $16$", r"\boxed{4, 9}", 0.0),
    (r"\boxed{3} and \boxed{-4}", r"\boxed{-4, 3}", 1.0),
    (r"\boxed{3}, \boxed{-4}", r"\boxed{3}", 0.0),
    (r"$\{-4, 3\}$", r"The roots are \boxed{3} and \boxed{-4}.", 1.0),
    ("$(1, 5), (5, 1)$", r"$\boxed{(5, 1)}, \boxed{(1, 5)}$", 1.0),
    ("$(1, 5), (5, 1)$", r"$\boxed{(5, 1)}$", 0.0),
    ("$7$", r"\boxed{6} \quad \text{or} \quad \boxed{7}", 0.0),  # two boxed values where one is asked: a hedge
    ("$7$", r"First \boxed{6} then, after checking, \boxed{7}", 1.0),  # separate boxes: the last one
    (r"\boxed{t = 1 \text{ and } t = 3}", "t = 1, t = 3", 1.0),
    ("$x = 2, x = -3$", r"\boxed{x = -3 \text{ or } x = 2}", 1.0),
]

RATIOS = [
    ("$3:4$", r"\boxed{3:4}", 1.0),
    ("$3:4$", r"\boxed{4:3}", 0.0),
    (r"$AB:BC = 5:12$", r"\boxed{5:12}", 1.0),
    (r"$S_{1}:S_{2}=9:16$", "The ratio is 9:16.", 1.0),
    (r"$S_{1}:S_{2}=9:16$", "The ratio is 16:9.", 0.0),
    ("$P:Q = 3$", r"\boxed{3}", 1.0),
]

SEMICOLONS = [
    ("$(1;2),(3;-4)$", r"\boxed{(3, -4), (1, 2)}", 1.0),
    ("$(1;2),(3;-4)$", r"\boxed{(3, 4), (1, 2)}", 0.0),
    ("$-3;0;5$", r"\boxed{\{5, -3, 0\}}", 1.0),
    ("$-3;0;5$", r"\boxed{\{5, -3\}}", 0.0),
    ("$a=1,b=2;a=2,b=1$", r"\boxed{(2,1),(1,2)}", 1.0),
    ("$a=1,b=2;a=2,b=1$", r"\boxed{(1,2)}", 0.0),
    ("$(0;0;1)$", r"\boxed{(0,0,1)}", 1.0),
]

UNPARSEABLE = [  # references our parser cannot read still get a verdict
    ("$1011_2$", r"\boxed{1011_2}", 1.0),
    ("$1011_2$", r"\boxed{11}", 0.0),
    (r"$\mathcal{Q}\oplus\mathcal{R}$", r"\boxed{\mathcal{Q} \oplus \mathcal{R}}", 1.0),
    (r"$\mathcal{Q}\oplus\mathcal{R}$", r"\boxed{\mathcal{R}}", 0.0),
    (r"$7 = \qux = y = 3$", r"\boxed{3}", 1.0),  # a chain: its last value
    ("(((", r"\boxed{(((}", 1.0),
    ("(((", r"\boxed{3}", 0.0),
]

FORMS = [  # other ways references and replies are written
    ("$125$ miles", r"\boxed{125\textnormal{ miles}}", 1.0),
    ("The total is $48$.", "It is 48.", 1.0),
    (r"\\boxed{\\frac{1}{4}}", r"\boxed{0.25}", 1.0),  # a reference escaped twice
    (r"\boxed{x^2 + 1", r"\boxed{x^2+1}", 1.0),  # an unclosed box: the rest of the text
    ("$20{,}736$", r"\boxed{20,\!736}", 1.0),
    ("$20736$", r"\boxed{20{,}736}", 1.0),
    ("$20736$", r"\boxed{20, 736}", 0.0),  # a space after the comma: a list, not a number
    ("$5$", r"Final Answer: The final answer is $5$. I hope it is correct.", 1.0),
    ("$x = 9$", r"$x = 4+5 = 9$", 1.0),  # a chain: its last value
    ("$(2, 7)$", r"\boxed{2, 7}", 1.0),  # a comma list where a tuple is asked is that tuple
    ("$(2, 7)$", r"\boxed{7, 2}", 0.0),
    ("$7$", r"\boxed{2, 7}", 0.0),
    ("10/9", r"-\frac{10}{9}", 0.0),
    ("10/9", r"\frac{10}{9}", 1.0),  # a bare LaTeX reply is taken whole
    (r"$h(1) < h(3) < h(2)$", r"\boxed{h(1) < h(3) < h(2)}", 1.0),  # written as the reference
    (r"$h(1) < h(3) < h(2)$", r"\boxed{h(3) < h(1) < h(2)}", 0.0),
]


@pytest.mark.parametrize(("gold", "response", "reward"), LABELLED + SEVERAL + RATIOS + SEMICOLONS + UNPARSEABLE + FORMS)
def test_reference_forms(gold: str, response: str, reward: float) -> None:
    score = grade(response, gold)
    assert score["reward"] == reward, score
    assert score["verdict"] != "judge_error"


@pytest.mark.parametrize(("text", "plain"), [
    ("(p,q)=(3,2)", "(3,2)"),
    ("|AB| = 1", "1"),
    (r"\frac{NO}{BO}=\frac{1}{\sqrt{6}}", r"\frac{1}{\sqrt{6}}"),
    (r"V_{1}:V_{2}=11:21", "11:21"),
    ("AB=4,CD=5", "(4, 5)"),
    ("n=1, 2, 3", "1, 2, 3"),
    ("x = 5", "x = 5"),  # a plain variable is kept for the comparison
    ("x = 1, x = 2", "x = 1, x = 2"),
    ("p=5,q=2;p=7,q=2", "(5, 2), (7, 2)"),
    ("-12;-11;-10", "-12, -11, -10"),
    ("(0;-2;6)", "(0,-2,6)"),
    ("2x + 4y - 3 = 0", "2x + 4y - 3 = 0"),  # an equation, not a label
    ("x^2 = 4", "x^2 = 4"),
    ("1 = y = 0", "0"),
])
def test_delabel(text: str, plain: str) -> None:
    assert delabel(text) == plain


def test_labels_are_names_not_expressions() -> None:
    for label in ["(p,q)", "|AB|", "f(x)", "x_1", "V_{1}:V_{2}", r"\angle ABC", r"\frac{NO}{BO}", "AB", r"\alpha"]:
        assert is_label(label), label
    for expr in ["2x", "x+1", "x^2", "ab", "f(x)+1", "3", r"\sqrt{2}"]:
        assert not is_label(expr), expr


def test_several_boxes_and_statements_are_extracted_as_written() -> None:
    found = extract_answer(r"so $\boxed{(2, 2)} \quad \text{and} \quad \boxed{(6, 2)}$")
    assert found is not None and (found.text, found.source) == ("(2, 2), (6, 2)", "boxed")
    found = extract_answer(r"$y_1 = \boxed{x+1}$ and $y_2 = \boxed{x-1}$")
    assert found is not None and found.text == "x+1, x-1"
    found = extract_answer("Final Answer: The final answer is $12$. I hope it is correct.")
    assert found is not None and found.text == "$12$"
    assert extract_gold(r"\boxed{1} pens and \boxed{2} cups") == "1, 2"
    assert extract_gold(r"\boxed{1} is wrong, the real count is \boxed{2}") == "2"
    assert extract_gold("$1$ and $2$ and $3$") == "1 and 2 and 3"


def test_no_reference_makes_the_judge_fail() -> None:
    """Any string is a reference that gets a verdict: fuzzed LaTeX fragments, long prose."""
    rng = random.Random(7)
    pieces = [
        *"0123456789+-*/^=,;:()[]{}|<>.$ xyAB", r"\frac", r"\boxed{", r"\sqrt", r"\pm", " and ", " or ", r"\text{", r"\left(", r"\right)",
        r"\infty", r"\quad", r"\begin{pmatrix}", r"\end{pmatrix}", r"\\", "&", r"\zzz", "_",
    ]
    golds = ["", " ", "$", r"\boxed{", "x" * 5000, "The sum is $" + "(" * 300 + "$"]
    golds += ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 25))) for _ in range(150)]
    for gold in golds:
        assert classify_gold(extract_gold(gold)) is not None
        for response in (gold, r"\boxed{3}", "x = 2, y = 3"):
            score = grade(response, gold)
            assert score["verdict"] not in ("judge_error",), (gold, response, score)


DOCKER_CASES = [
    (r"$(p,q)=(3,2)$", r"\boxed{(3, 2)}", 1.0),
    ("$-3;0;5$", r"\boxed{\{5, -3, 0\}}", 1.0),
    (r"$S_{1}:S_{2}=9:16$", "The ratio is 9:16.", 1.0),
    (r"\boxed{3} and \boxed{-4}", r"$\boxed{3}$ and $\boxed{-4}$", 1.0),
    ("$7$", r"\boxed{6} \quad \text{or} \quad \boxed{7}", 0.0),
    ("$1011_2$", r"\boxed{1011_2}", 1.0),
    ("(((", r"\boxed{3}", 0.0),
]


@pytest.mark.parametrize("response", [r"\sum_{i=1}^{3} i", r"\prod_{i=1}^{2} i", r"\int_{0}^{i} x dx"])
def test_model_text_sympy_refuses_is_a_parse_error(response: str) -> None:
    # sympy rejects a sum over the imaginary unit (the index i becomes I): the reply's problem, not the judge's
    assert grade(response, "6")["verdict"] in {"parse_error", "wrong"}



@pytest.mark.docker
def test_reference_forms_in_sandbox(sandbox_pool) -> None:
    scores = get_verifier("math").verify_batch([(r, {"answer": g}) for g, r, _ in DOCKER_CASES])
    assert [s.reward for s in scores] == [w for _, _, w in DOCKER_CASES], [(s.verdict, s.detail) for s in scores]
    assert all(s.verdict not in ("judge_error", "sandbox_error") for s in scores)

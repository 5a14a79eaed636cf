"""A math reward for a final answer, not for the question restated (docs/REWARDS.md, "Math: a final
answer"): the verdicts ``restated``, ``unsimplified`` and ``approximation`` through ``env.step`` on the
built-in envs and a ``register_task`` env (real Docker sandbox), and the rules of ``math.final``
in-process."""

from __future__ import annotations

import gymnasium as gym
import pytest
import sppo_gym.envs  # noqa: F401  (registers the ids)
from sppo_gym.envs import register_task
from sppo_gym.verifiers import get_verifier
from sppo_gym.verifiers.math.final import is_numeral, raw_tree, work
from sppo_gym.verifiers.math.judge import grade, judge
from sppo_gym.verifiers.score import VERDICTS

NOT_FINAL = {"restated", "unsimplified"}


def step(env: gym.Env, reply: str, **options: object) -> tuple[float, str]:
    env.reset(options=options)
    _, reward, _, _, info = env.step(reply)
    return reward, info["verdict"]


@pytest.mark.docker
def test_arithmetic_pays_for_the_number_not_the_question(sandbox_pool) -> None:
    env = gym.make("sppo_gym/Arithmetic-v0")
    prompt, info = env.reset(options={"index": 0})
    assert prompt.startswith("What is 70 + 38?") and info["answer"] == "108"
    for reply in ["70 + 38 = ?", "\\boxed{70+38}", "Answer: 70 + 38", "Answer: 38 + 70",
                  "70 + 38 = 108. Check: 70 + 38 = ?"]:
        reward, verdict = step(env, reply, index=0)
        assert (reward, verdict in NOT_FINAL) == (0.0, True), (reply, verdict)
    assert step(env, "Answer: 70 + 38", index=0)[1] == "restated"
    assert step(env, "Answer: 100 + 8", index=0) == (0.0, "unsimplified")  # not the question, still not a numeral
    for reply in ["70 + 38 = 108", "Answer: 108", "\\boxed{108}", "The sum is 108.", "Answer: **108**", "108.0"]:
        assert step(env, reply, index=0) == (1.0, "correct"), reply
    assert env.unwrapped.versions()["verifier"] == "math/2"


@pytest.mark.docker
def test_every_arithmetic_level_refuses_its_question_and_takes_its_answer(sandbox_pool) -> None:
    env = gym.make("sppo_gym/Arithmetic-v0", difficulty=list(range(1, 8)))
    for i in range(14):
        prompt, info = env.reset(options={"index": i})
        question = prompt.split("\n")[0]
        expression = question.removeprefix("What is ").split("?")[0]
        rewards = []
        for reply in [f"Answer: {info['answer']}", f"{expression} = ?", f"\\boxed{{{expression}}}"]:
            env.reset(options={"index": i})
            _, reward, _, _, out = env.step(reply)
            rewards.append((reward, out["verdict"]))
        assert rewards[0] == (1.0, "correct"), (question, rewards)
        if info["difficulty"] != 7:  # word problems: the "expression" is prose, nothing to restate
            assert all(r == 0.0 and v in NOT_FINAL | {"wrong", "parse_error"} for r, v in rewards[1:]), (question, rewards)


@pytest.mark.docker
def test_math_answer_refuses_the_problems_own_expression(sandbox_pool) -> None:
    env = gym.make("sppo_gym/MathAnswer-v0")
    cases = {  # task_id: (the problem's own expression, a final answer)
        "sppo/math/01": ("\\frac{2}{3} + \\frac{1}{4}", "\\frac{11}{12}"),
        "sppo/math/02": ("\\sqrt{50}", "5\\sqrt{2}"),
        "sppo/math/04": ("2^{10} - 2^{9}", "512"),
        "sppo/math/05": ("\\binom{6}{2}", "15"),
        "sppo/math/07": ("2x + 1 > 7", "(3, \\infty)"),
        "sppo/math/09": ("\\log_3 81", "4"),
    }
    for task_id, (restated, final) in cases.items():
        reward, verdict = step(env, f"\\boxed{{{restated}}}", task_id=task_id)
        assert reward == 0.0 and verdict in NOT_FINAL, (task_id, verdict)
        assert step(env, f"So the answer is $\\boxed{{{final}}}$.", task_id=task_id) == (1.0, "correct"), task_id
    # equivalent final forms stay correct
    assert step(env, "\\boxed{\\sqrt{2}\\cdot 5}", task_id="sppo/math/02") == (1.0, "correct")
    assert step(env, "\\boxed{x > 3}", task_id="sppo/math/07") == (1.0, "correct")
    assert step(env, "\\boxed{x = 4}", task_id="sppo/math/09") == (1.0, "correct")


@pytest.mark.docker
def test_register_task_math_gets_the_rendered_prompt(sandbox_pool) -> None:
    env_id = register_task("test/FinalAnswer-v0", problems=[{"task_id": "p0", "expr": "17 \\times 3", "answer": "51"}],
                           prompt="Compute ${expr}$.", verifier="math")
    env = gym.make(env_id)
    assert step(env, "\\boxed{17 \\times 3}") == (0.0, "restated")
    assert step(env, "\\boxed{51}") == (1.0, "correct")
    composed = register_task("test/FinalAnswerComposed-v0", problems=[{"expr": "17 \\times 3", "answer": "51"}],
                             prompt="Compute ${expr}$.", verifier=[("math", 1.0), ("format", 0.1, {"char_limit": 500})])
    assert step(gym.make(composed), "\\boxed{17 \\times 3}") == (0.0, "restated")


@pytest.mark.docker
def test_verifier_without_problem_text_still_judges(sandbox_pool) -> None:
    """Older callers pass only the answer: ``restated`` cannot fire, ``unsimplified`` still does."""
    scores = get_verifier("math").verify_batch([("\\boxed{70+38}", {"answer": "108"}), ("\\boxed{108}", {"answer": "108"}),
                                                ("\\boxed{6.28}", {"answer": "2\\pi"})])
    assert [(s.reward, s.verdict) for s in scores] == [(0.0, "unsimplified"), (1.0, "correct"), (1.0, "correct")]


def test_new_verdicts_are_in_the_closed_set() -> None:
    for verdict in ("restated", "unsimplified", "approximation"):
        assert VERDICTS[verdict]


@pytest.mark.parametrize(("text", "expected"), [
    ("70 + 38", 1), ("2^{10} - 2^{9}", 3), ("\\frac{6}{8}", 1), ("\\sqrt{50}", 1), ("\\binom{6}{2}", 1),
    ("\\log_3 81", 1), ("2x + 1 > 7", 1), ("2*(3+4)", 2), ("\\frac{4\\sqrt{5}}{6}", 1), ("[1, 2] \\cup [2, 3]", 1),
    ("108", 0), ("\\frac{3}{4}", 0), ("-\\frac{\\sqrt{3}}{2}", 0), ("5\\sqrt{2}", 0), ("\\sqrt{2}\\cdot 5", 0),
    ("0.75", 0), ("x > 3", 0), ("-x > -1", 0), ("1 < x < 2", 0), ("e^{2}", 0), ("\\ln 2", 0), ("\\frac{1}{\\sqrt{2}}", 0),
    ("x^2 + 6x + 9", 0), ("3 + 4i", 0), ("2\\frac{1}{2}", 0), ("1,998", 0), ("2.5 \\times 10^{-3}", 0),
    ("20 \\times 10^{4}", 2), ("10^{5}", 1),
])
def test_work_measure(text: str, expected: int) -> None:
    assert work(raw_tree(text)) == expected


@pytest.mark.parametrize(("text", "numeral"), [
    ("108", True), ("-5", True), ("3/4", True), ("-\\frac{1}{2}", True), ("12.5", True), ("1,998", True),
    ("2 1/2", True), ("70 + 38", False), ("6/8", False), ("\\sqrt{4}", False), ("x", False), ("5\\sqrt{2}", False),
])
def test_numeral(text: str, numeral: bool) -> None:
    assert is_numeral(raw_tree(text)) is numeral


def test_approximation_depends_on_what_the_problem_asks() -> None:
    asks_exact, asks_decimal = "What is the circumference of a circle of radius 1?", "... to the nearest hundredth?"
    assert grade("\\boxed{6.28}", "2\\pi", asks_exact)["verdict"] == "approximation"
    assert grade("\\boxed{6.28}", "2\\pi", asks_decimal)["verdict"] == "correct"
    assert grade("\\boxed{6.28}", "2\\pi")["verdict"] == "correct"  # no problem text: the rounding rule stands
    assert grade("\\boxed{0.333}", "\\frac{1}{3}", asks_exact)["verdict"] == "correct"  # rational: rounding rule


def test_comma_list_for_a_tuple_is_that_tuple() -> None:
    assert grade("\\boxed{1, 2}", "(1, 2)")["verdict"] == "correct"
    assert grade("\\boxed{2, 1}", "(1, 2)")["verdict"] == "wrong"
    assert grade("\\boxed{1, 2}", "2")["verdict"] == "hedged"


def test_choice_given_in_the_problem_is_an_answer() -> None:
    problem = "Which is larger, $2^{10}$ or $10^3$?"
    assert grade("\\boxed{2^{10}}", "2^{10}", problem)["verdict"] == "correct"
    assert grade("\\boxed{1024}", "1024", problem)["verdict"] == "correct"
    assert grade("\\boxed{2^{10}}", "1024", problem)["verdict"] == "restated"


def test_numeral_only_and_payload_checks() -> None:
    assert grade("Answer: 40 + 45", "85", None, True)["verdict"] == "unsimplified"
    assert grade("Answer: 85", "85", None, True)["verdict"] == "correct"
    assert grade("Answer: 5 \\cdot 17", "85")["verdict"] == "unsimplified"
    assert judge({"response": "Answer: 85", "gold": "85", "problem": "What is 40 + 45?", "numeral_only": True})["reward"] == 1.0
    with pytest.raises(TypeError):
        judge({"response": "85", "gold": "85", "problem": 3})
    with pytest.raises(TypeError):
        judge({"response": "85", "gold": "85", "numeral_only": "yes"})


def test_payload_carries_the_problem_text() -> None:
    v = get_verifier("math")
    assert v.payload("r", {"answer": "1", "question": "What is 0 + 1?"})["problem"] == "What is 0 + 1?"
    assert "problem" not in v.payload("r", {"answer": "1"})
    named = get_verifier("math", problem_field="stem", numeral_only=True).payload("r", {"answer": "1", "stem": "S", "problem": "P"})
    assert (named["problem"], named["numeral_only"]) == ("S", True)

"""The built-in ``format`` verifier: each check, scoring modes, option validation, adversarial inputs."""

from __future__ import annotations

import re

import gymnasium as gym
import pytest
from sppo_gym.envs import register_task
from sppo_gym.verifiers import VERDICTS, get_verifier

HUGE = 64 * 1024 - 16  # just under the default response limit: every check must scan all of it


def fmt(response: str, **options) -> tuple[float, str, dict]:
    score = get_verifier("format", **options).verify(response, {})
    return score.reward, score.verdict, score.extra.get("checks", {})


@pytest.mark.parametrize(("response", "ok"), [
    ("Working...\nAnswer: 42", True),
    ("**Answer:** 42\n\n", True),
    ("Final answer: $\\frac{1}{2}$", True),
    ("ANSWER : **7**", True),
    ("Answer: 42\nHope this helps!", False),   # not the final statement
    ("Answer:", False),
    ("Answer: ****", False),                   # bold markers only
    ("The answer: 42", False),
    ("42", False),
])
def test_answer_line(response, ok):
    assert fmt(response, answer_pattern="answer_line") == (float(ok), "passed" if ok else "bad_format",
                                                            {"answer_line": ok})


@pytest.mark.parametrize(("response", "ok"), [
    ("so \\boxed{5}.", True),
    ("\\boxed{\\frac{1}{2}}", True),
    ("\\fbox{x}", True),
    ("\\boxed{}", False),
    ("\\boxed{  }", False),
    ("\\boxed{5", False),                # unclosed
    ("\\boxed{\\}", False),              # the only closing brace is escaped
    ("boxed{5}", False),
])
def test_boxed(response, ok):
    assert fmt(response, answer_pattern="boxed")[0] == float(ok)


@pytest.mark.parametrize(("response", "langs", "ok"), [
    ("```python\nx = 1\n```", None, True),
    ("text\n```\nx\n```\nmore text", None, True),
    ("```python\nx = 1\n", None, False),                   # unclosed (truncated generation)
    ("```python\nx = 1\n```", ["python", "py"], True),
    ("```PY\nx = 1\n```", ["python", "py"], True),
    ("```bash\nls\n```", "python", False),
    ("```\nx\n```", "python", False),                      # untagged when a language is required
    ("````python\n```\n````", "python", True),              # a shorter fence inside does not close
    ("```python\n```bash\nx\n", "python", False),           # a fence with an info string does not close
    ("`x = 1`", None, False),
])
def test_code_block(response, langs, ok):
    assert fmt(response, answer_pattern="code_block", code_language=langs)[0] == float(ok)


def test_user_regex_str_and_compiled():
    assert fmt("reasoning\n<answer>7</answer>", answer_regex=r"^<answer>\d+</answer>$")[0] == 1.0
    assert fmt("<answer>seven</answer>", answer_regex=r"^<answer>\d+</answer>$")[0] == 0.0
    assert fmt("<ANSWER>7</ANSWER>", answer_regex=re.compile(r"<answer>\d+</answer>", re.IGNORECASE))[0] == 1.0
    assert fmt("<ANSWER>7</ANSWER>", answer_regex=r"<answer>\d+</answer>")[0] == 0.0


def test_length_limits_count_the_whole_response():
    assert fmt("one two three", word_limit=3)[0] == 1.0
    assert fmt("one two three four", word_limit=3)[0] == 0.0
    assert fmt("x" * 10, char_limit=10)[0] == 1.0
    assert fmt("x" * 11, char_limit=10)[0] == 0.0
    assert fmt("<think>" + "a " * 50 + "</think>Answer: 1", think=True, word_limit=10)[2] == {
        "think": True, "word_limit": False}


@pytest.mark.parametrize(("response", "ok"), [
    ("<think>2+2 is 4</think>\nAnswer: 4", True),
    ("  \n<think>x</think>Answer: 4", True),
    ("Answer: 4", False),                                      # no block
    ("<think>never closed... Answer: 4", False),
    ("<think>a</think>", False),                               # nothing after the block
    ("<think><think>a</think></think>Answer: 4", False),       # nested
    ("<think>a</think>b<think>c</think>Answer: 4", False),     # two blocks
    ("preamble <think>a</think>Answer: 4", False),             # not at the start
    ("</think><think>Answer: 4", False),
])
def test_think_block(response, ok):
    assert fmt(response, think=True)[0] == float(ok)


def test_answer_checks_look_after_the_reasoning_block():
    opts = dict(think=True, answer_pattern="boxed")
    assert fmt("<think>\\boxed{5}</think>The end.", **opts)[2] == {"think": True, "boxed": False}
    assert fmt("<think>hmm</think>\\boxed{5}", **opts)[2] == {"think": True, "boxed": True}
    custom = dict(think=True, think_tags=("<reasoning>", "</reasoning>"), answer_pattern="answer_line")
    assert fmt("<reasoning>r</reasoning>\nAnswer: 5", **custom)[0] == 1.0
    assert fmt("<think>r</think>\nAnswer: 5", **custom)[2] == {"think": False, "answer_line": True}


def test_fraction_or_all_or_nothing():
    opts = dict(think=True, answer_pattern="answer_line", word_limit=5, char_limit=1000)
    response = "<think>ok</think>\nAnswer: 5 and some more words here"  # word_limit fails
    reward, verdict, checks = fmt(response, **opts)
    assert (reward, verdict) == (0.75, "bad_format") and checks["word_limit"] is False
    assert fmt(response, all_or_nothing=True, **opts)[:2] == (0.0, "bad_format")
    score = get_verifier("format", **opts).verify("<think>ok</think>\nAnswer: 5", {})
    assert (score.reward, score.verdict, score.passed) == (1.0, "passed", True)
    assert "bad_format" in VERDICTS


@pytest.mark.parametrize(("options", "error", "match"), [
    ({}, ValueError, "no check enabled"),
    ({"answer_pattern": "boxd"}, ValueError, "answer_pattern must be one of .*answer_regex"),
    ({"answer_pattern": "boxed", "answer_regex": "x"}, ValueError, "not both"),
    ({"answer_pattern": "boxed", "code_language": "python"}, ValueError, "code_language applies"),
    ({"answer_pattern": "code_block", "code_language": "two words"}, ValueError, "code_language"),
    ({"answer_pattern": "code_block", "code_language": []}, ValueError, "code_language"),
    ({"answer_regex": "("}, ValueError, "does not compile"),
    ({"answer_regex": ""}, TypeError, "non-empty"),
    ({"char_limit": 0}, ValueError, "char_limit must be a positive int"),
    ({"word_limit": True}, ValueError, "word_limit must be a positive int"),
    ({"word_limit": 2.5}, ValueError, "word_limit"),
    ({"think": "yes"}, TypeError, "must be bool"),
    ({"think": True, "think_tags": "<t>"}, ValueError, "think_tags"),
    ({"think": True, "think_tags": ("<t>", "<t>")}, ValueError, "think_tags"),
    ({"answer_regex": "x", "regex_timeout_s": 0}, ValueError, "regex_timeout_s"),
    ({"think": True, "max_word": 3}, TypeError, "max_word"),   # a typo is not silently ignored
])
def test_bad_options_are_rejected_clearly(options, error, match):
    with pytest.raises(error, match=match):
        get_verifier("format", **options)


def test_response_level_failures():
    v = get_verifier("format", think=True, max_chars=100)
    assert v.verify("x" * 101, {}).verdict == "response_too_long"
    assert v.verify("<think>\udcff</think>a", {}).verdict == "invalid_response"
    with pytest.raises(TypeError, match="response must be str"):
        v.verify(b"bytes", {})  # type: ignore[arg-type]


ADVERSARIAL = {
    "unclosed_boxes": "\\boxed{" * (HUGE // 7),
    "open_braces": "{" * HUGE,
    "unclosed_fences": "```x\n" * (HUGE // 5),
    "long_fence_line": "```" + "a" * (HUGE - 4) + "`",
    "open_think_tags": "<think>" * (HUGE // 7),
    "deep_nesting": "<think>" * 2500 + "\\boxed{" * 2500 + "</think>" * 2500,
    "space_run": "Answer:" + " " * (HUGE - 9) + "*\n",
    "backslashes": "\\" * HUGE,
    "one_long_line": "a" * HUGE,
}


@pytest.mark.timeout(10)  # < 0.3 s today; a quadratic or unbounded path on this input runs for minutes
@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_adversarial_inputs_are_judged(name):
    """Linear scans only: each of these returns (no timing assertion; a quadratic scan would hang here)."""
    response = ADVERSARIAL[name]
    for pattern in ("answer_line", "boxed", "code_block"):
        reward, verdict, checks = fmt(response, answer_pattern=pattern, think=True, char_limit=HUGE, word_limit=10)
        assert 0.0 <= reward < 1.0 and verdict == "bad_format" and checks[pattern] is False


@pytest.mark.timeout(10)  # < 0.3 s today; a quadratic or unbounded path on this input runs for minutes
def test_catastrophic_user_regex_is_cut_off():
    """``(a|aa)+$`` backtracks exponentially on 'aaa...!'; the time limit turns that into a failed check."""
    score = get_verifier("format", answer_regex=r"^(a|aa)+$", regex_timeout_s=0.2).verify("a" * 40 + "!", {})
    assert (score.reward, score.verdict) == (0.0, "bad_format") and "timed out" in score.detail


def test_format_alone_as_a_task_verifier():
    register_task("test_format/Alone-v0", problems=[{"task_id": "q", "q": "Say hi."}], prompt="{q}",
                  verifier="format", verifier_options={"think": True, "answer_pattern": "answer_line"},
                  answer_field=None)
    env = gym.make("test_format/Alone-v0")
    env.reset(seed=0)
    _, reward, _, _, info = env.step("<think>greet</think>\nAnswer: hi")
    assert (reward, info["verdict"], info["extra"]["checks"]) == (1.0, "passed", {"think": True, "answer_line": True})
    with pytest.raises(ValueError, match="no check enabled"):
        register_task("test_format/Empty-v0", problems=[{"task_id": "q", "q": "x"}], prompt="{q}", verifier="format")

"""Code extraction, output comparison and test preparation: pure functions, no sandbox."""

from __future__ import annotations

import pytest
from sppo_gym.verifiers.code.extract import extract_code, fenced_blocks
from sppo_gym.verifiers.code.python_tests import MAX_PACK, pack_size_for, split_prompt
from sppo_gym.verifiers.code.stdio_judge import normalise, outputs_match
from sppo_gym.verifiers.code.testprog import AssertTally, TestProgram


@pytest.mark.parametrize(
    ("response", "code"),
    [
        ("```python\nx = 1\n```", "x = 1\n"),
        ("text\n```py\na\n```\nmore\n```\nb\n```\n", "b\n"),  # the last block wins, bare blocks count
        ("```python\na\n```\n```text\noutput\n```", "a\n"),  # other languages are skipped
        ("```Python3\na\n```", "a\n"),
        ("   ```python\n  a\n   ```", "  a\n"),  # up to three spaces of indent
        ("````python\na\n```\nb\n````", "a\n```\nb\n"),  # longer fences contain shorter ones
        ("```python\ndef f():\n    return 1", "def f():\n    return 1\n"),  # unclosed: to the end
        ("def f():\n    return 1\n", "def f():\n    return 1\n"),  # no block: the whole response
        ("```bash\nls\n```", "```bash\nls\n```"),  # only foreign blocks: the whole response
    ],
)
def test_extract_code(response, code):
    assert extract_code(response) == code


def test_fenced_blocks_tags_and_bodies():
    assert fenced_blocks("```python x\na\n```\n```\nb\n```") == [("python", "a"), ("", "b")]


@pytest.mark.parametrize(
    ("got", "want", "tol", "match"),
    [
        ("3\r\n", "3\n", None, True),
        ("3   \n\n\n", "3", None, True),
        ("1 2", "1  2", None, False),  # inner whitespace counts without a tolerance
        ("3\n", "4\n", None, False),
        ("\n3", "3", None, False),  # leading blank lines count
        ("3.14159266", "3.14159265", 1e-6, True),
        ("3.2", "3.14159265", 1e-6, False),
        ("1  2.0000001\n", "1 2", 1e-6, True),
        ("nan", "nan", 1e-6, True),  # equal tokens match as text
        ("nan", "1.0", 1e6, False),  # nan/inf never match a number
        ("inf", "1e308", 1e6, False),
        ("1 2 3", "1 2", 1e-6, False),
    ],
)
def test_outputs_match(got, want, tol, match):
    assert outputs_match(got, want, tol) is match


def test_normalise():
    assert normalise("a \r\nb\t\r\n\r\n") == ["a", "b"]


def test_split_prompt_keeps_helpers_and_imports():
    prompt = "import math\n\n\ndef helper(x):\n    return x\n\n\n@dec\ndef entry(x):\n    '''doc'''\n"
    assert split_prompt(prompt, "entry") == "import math\n\n\ndef helper(x):\n    return x\n\n\n"
    assert split_prompt("Write entry(x).", "entry") == ""
    assert split_prompt(prompt, "other") == ""


def test_test_program_rewrites_asserts():
    prog = TestProgram("def check(candidate):\n    assert candidate(1) == 2, 'msg'\n")
    assert prog.defines_check and prog.static == 1 and len(prog.statements) == 1
    prog = TestProgram("assert f(1) == 2\nx = 3\nassert f(x) == 4\nassert f(5) == 5\n")
    assert not prog.defines_check and prog.static == 3 and len(prog.statements) == 4


@pytest.mark.parametrize("partial", [False, True])
def test_rewritten_asserts_count_even_with_optimize(partial):
    """The rewritten assert is a call, so it runs even where ``assert`` is compiled away (-O)."""
    (module,) = TestProgram("def check(candidate):\n    assert candidate == 1\n    assert candidate == 2\n").statements
    run = AssertTally(partial)
    ns = {"__sppo_assert__": run.check, "__sppo_fail__": run.fail}
    exec(compile(module, "<t>", "exec", optimize=2), ns)
    if partial:  # failures are recorded and the test goes on
        ns["check"](1)
    else:
        with pytest.raises(AssertionError):
            ns["check"](1)
    assert (run.executed, run.held) == (2, 1)


@pytest.mark.parametrize(("n", "containers", "k"), [(1, 4, 1), (8, 4, 1), (16, 4, 2), (164, 4, 7), (10_000, 4, 8)])
def test_pack_size(n, containers, k):
    """Small batches are not packed; large ones use at most MAX_PACK problems per job."""
    assert pack_size_for(n, containers) == k
    assert pack_size_for(n, containers) <= MAX_PACK


@pytest.mark.timeout(10)  # < 0.3 s today; a quadratic or unbounded path on this input runs for minutes
def test_fence_info_string_and_a_long_unclosed_line():
    assert fenced_blocks("```  Python3 extra words\nx = 1\n```") == [("python3", "x = 1")]
    assert fenced_blocks("```\ny\n```") == [("", "y")]
    assert fenced_blocks("```" + "a" * 50_000 + "`\n```py\nz\n```") == [("py", "z")]

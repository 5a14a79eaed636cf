"""Nothing a candidate returns, raises, prints or writes on its channel makes a judge fail.

A judge failure is ``judge_error`` (documented as a judge bug) or ``sandbox_error`` (dropped by
trainers), so a candidate able to cause one would choose its own verdict. Two layers are tested:

* in-process: the bounded decoder of the judge <-> candidate wire (``protocol.loads``,
  ``plaindata.decode``, ``Channel.recv``) raises only its own errors on any input, the judge's
  output encoding survives lone surrogates, ``short_text`` never raises, invalid judge scores
  map to ``judge_error``, and stdio comparison is ASCII-only in both modes;
* through the real Docker sandbox (marked ``docker``): each attack scores 0 with a verdict about
  the answer, and an honest canary judged right after it still passes, in pass mode and speed
  mode, one problem per job and packed (``gymnasium.make_vec``).
"""

from __future__ import annotations

import json
import math
import socket
import struct
import sys
import threading
from types import SimpleNamespace

import gymnasium as gym
import pytest
import sppo_gym.envs  # noqa: F401  (registers the ids)
from sppo_gym.sandbox import Job, JobResult, Limits, plaindata
from sppo_gym.sandbox.channel import MAX_CONTAINERS, Channel
from sppo_gym.sandbox.protocol import COUNT_ABOVE, FrameReader, ProtocolError, encode, loads
from sppo_gym.verifiers.base import score_from_result, score_from_value
from sppo_gym.verifiers.code.python_tests import PythonTestsVerifier, unpack
from sppo_gym.verifiers.code.stdio import StdioVerifier
from sppo_gym.verifiers.code.stdio_judge import outputs_match
from sppo_gym.verifiers.score import VERDICTS

JUDGE_FAILURES = {"judge_error", "sandbox_error"}


# ---- the wire: every malformed input is the decoder's own error ---------------------------------
def _frame(body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + body


def _recv_raw(body: bytes) -> object:
    """What ``Channel.recv`` makes of one raw frame written by a hostile peer."""
    a, b = socket.socketpair()
    writer = threading.Thread(target=a.sendall, args=(_frame(body),), daemon=True)
    writer.start()
    try:
        return Channel(b.fileno()).recv(timeout=30)
    finally:
        b.close()
        writer.join()
        a.close()


def _deep_plain(levels: int) -> bytes:
    body = b'["n",null]'
    for _ in range(levels):
        body = b'["l",[' + body + b"]]"
    return body


RAW_BAD = {
    "deep_json": b"[" * 200_000 + b"]" * 200_000,
    "deep_json_objects": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    "deep_plain": _deep_plain(plaindata.MAX_DEPTH + 1),
    "invalid_utf8": b'["s","\xff\xfe"]',
    "truncated_json": b'["s","ab',
    "float_overflow": b'["f","0x1.0p+9999"]',
    "float_not_hex": b'["f","1e999"]',
    "float_json_nan": b'["f",NaN]',
    "float_number": b'["f",1.5]',
    "int_arabic_digits": '["i","\u0661"]'.encode(),
    "int_with_space": b'["i"," ff"]',
    "int_0x_prefix": b'["i","0x10"]',
    "int_too_long": b'["i","' + b"f" * (plaindata.MAX_INT_BITS // 4 + 1) + b'"]',
    "bytes_not_base64": b'["y","***"]',
    "unhashable_set_member": b'["S",[["l",[]]]]',
    "unhashable_dict_key": b'["d",[[["l",[]],["n",null]]]]',
    "dict_item_not_pair": b'["d",[[["n",null]]]]',
    "unknown_tag": b'["q",1]',
    "tag_not_str": b"[1,2]",
    "node_is_object": b'{"s":"x"}',
    "bool_not_bool": b'["b",1]',
}


@pytest.mark.timeout(10)  # < 0.3 s today; a quadratic or unbounded path on this input runs for minutes
@pytest.mark.parametrize("name", list(RAW_BAD))
def test_malformed_frames_raise_only_wire_errors(name):
    with pytest.raises((ProtocolError, plaindata.PlainDataError)):
        _recv_raw(RAW_BAD[name])


@pytest.mark.timeout(10)  # < 0.3 s today; a quadratic or unbounded path on this input runs for minutes
def test_many_small_arrays_are_refused_before_parsing():
    body = b"[" + b"[]," * MAX_CONTAINERS + b"[]]"
    assert len(body) > COUNT_ABOVE
    with pytest.raises(ProtocolError, match="arrays"):
        loads(body, max_containers=MAX_CONTAINERS)
    brackets_in_a_string = json.dumps(["s", "[" * (MAX_CONTAINERS + 10)]).encode()
    assert loads(brackets_in_a_string, max_containers=MAX_CONTAINERS)[1] == "[" * (MAX_CONTAINERS + 10)


def test_container_count_skips_strings_with_escapes():
    text = '\\"[{' * 300_000  # backslash, quote, brackets: every escape JSON has for them
    body = json.dumps(["s", text]).encode()
    assert len(body) > COUNT_ABOVE
    assert loads(body, max_containers=10) == ["s", text]
    unterminated = b"[" * 2000 + b'"' + b'\\"' * 600_000
    with pytest.raises(ProtocolError):
        loads(unterminated, max_containers=1000)


def test_lone_surrogates_cross_exactly_on_the_channel():
    """Strings are data: the judge sees what the candidate returned (the test's == decides)."""
    assert _recv_raw(b'["s","\\ud800x\\udfff"]') == "\ud800x\udfff"
    a, b = socket.socketpair()
    with a, b:
        Channel(a.fileno()).send({"exc": "\ud800", "msg": "\x00\udcff"})
        assert Channel(b.fileno()).recv(timeout=5) == {"exc": "\ud800", "msg": "\x00\udcff"}


@pytest.mark.timeout(10)  # < 0.3 s today; a quadratic or unbounded path on this input runs for minutes
def test_codec_needs_no_recursion():
    """Encode and decode walk the value with their own stack: a low recursion limit is no problem."""
    deep: list = []
    for _ in range(plaindata.MAX_DEPTH):
        deep = [deep]
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(60)
    try:
        enc = plaindata.encode(deep)
        back = plaindata.decode(enc)
    finally:
        sys.setrecursionlimit(old)
    assert back == deep
    with pytest.raises(plaindata.PlainDataError):
        plaindata.encode([deep])


@pytest.mark.timeout(10)  # < 0.3 s today; a quadratic or unbounded path on this input runs for minutes
def test_decode_of_absurd_depth_raises_its_own_error():
    node: list = ["n", None]
    for _ in range(100_000):  # built directly, not parsed: only decode's own bound applies
        node = ["l", [node]]
    with pytest.raises(plaindata.PlainDataError, match="deep"):
        plaindata.decode(node)


def test_too_large_is_told_apart_from_not_plain():
    deep: list = []
    for _ in range(plaindata.MAX_DEPTH + 1):
        deep = [deep]
    for value in (deep, 2 ** (plaindata.MAX_INT_BITS + 1), [0] * 11):
        with pytest.raises(plaindata.PlainDataTooLarge):
            plaindata.encode(value, max_nodes=10)
    with pytest.raises(plaindata.PlainDataError) as err:
        plaindata.encode([object()])
    assert not isinstance(err.value, plaindata.PlainDataTooLarge)


def test_recursive_and_hostile_values_are_refused_by_encode():
    loop: list = []
    loop.append(loop)
    d: dict = {}
    d["d"] = d

    class Hostile:
        def __repr__(self):
            raise RuntimeError("no repr")

        def __eq__(self, other):
            while True:
                pass

    class Str(str):
        pass

    for value in (loop, d, Hostile(), [Hostile()], Str("4"), {Str("k"): 1}, {1: [2, Hostile()]}):
        with pytest.raises(plaindata.PlainDataError):
            plaindata.encode(value)


@pytest.mark.parametrize("value", [{(1, 2): frozenset({3}), None: b"\x00", 1.5: [math.inf, -math.inf]},
                                   [10 ** 5000], "\ud800", {"k": {"k": (1j, -0.0)}}, 2 ** plaindata.MAX_INT_BITS - 1],
                         ids=["exotic_keys", "huge_int_in_list", "surrogate", "complex_negzero", "max_int"])
def test_exotic_plain_values_round_trip(value):
    back = plaindata.decode(loads(json.dumps(plaindata.encode(value)).encode()))
    assert back == value and type(back) is type(value)


def test_short_text_never_raises():
    big = 10 ** 5000
    assert plaindata.short_text(big) == f"<int of {big.bit_length()} bits>"
    assert plaindata.short_text([big]) == "<list>"
    assert plaindata.short_text("\ud800" * 500, 10) == "\ud800" * 10
    assert plaindata.short_text(list(range(1000))).startswith("[0, 1, 2")
    assert len(plaindata.short_text({"a": "b" * 10 ** 6})) <= 100


def test_judge_output_is_valid_utf8_with_lone_surrogates():
    frame = encode({"detail": "a\ud800b\udfff", "key\udc80": ["\ud83d\ude00"]})
    (msg,) = FrameReader().feed(frame)
    assert msg == {"detail": "a\ufffdb\ufffd", "key\ufffd": ["\U0001f600"]}  # a valid pair is kept


# ---- host side: an invalid score from a judge is judge_error, never an exception ----------------
@pytest.mark.parametrize("value", [
    {"reward": 1.0, "verdict": "great"},
    {"reward": float("nan"), "verdict": "passed"},
    {"reward": 2.0, "verdict": "passed"},
    {"reward": "x", "verdict": "failed"},
    {"reward": 0.0, "verdict": ["failed"]},
    {"reward": 0.0, "verdict": "failed", "surprise": 1},
    {"verdict": "failed"},
    None,
    [1.0, "passed"],
])
def test_invalid_judge_scores_become_judge_error(value):
    score = score_from_result(JobResult("ok", value=value, elapsed=0.5))
    assert (score.reward, score.verdict, score.passed) == (0.0, "judge_error", False)
    assert score.detail and score.elapsed == 0.5
    assert score_from_value(value).verdict == "judge_error"


def test_one_invalid_item_of_a_pack_does_not_sink_the_others():
    items = [{"reward": 1.0, "verdict": "nonsense", "elapsed": 0.1},
             {"reward": 1.0, "verdict": "passed", "passed": True, "elapsed": 0.2}]
    bad, good = unpack(JobResult("ok", value={"items": items}), 2)
    assert (bad.verdict, bad.reward) == ("judge_error", 0.0) and "nonsense" in bad.detail
    assert (good.verdict, good.passed, good.elapsed) == ("passed", True, 0.2)


def test_valid_judge_score_is_kept():
    score = score_from_value({"reward": 1.0, "verdict": "passed", "passed": True, "detail": "ok"}, 0.25)
    assert (score.reward, score.verdict, score.passed, score.elapsed) == (1.0, "passed", True, 0.25)
    assert "judge_error" in VERDICTS


# ---- stdio comparison: ASCII digits and whitespace in both modes ---------------------------------
@pytest.mark.parametrize(("got", "want", "tol", "match"), [
    ("\u0663", "3", 1e-6, False),  # Arabic-Indic three
    ("\u0663", "3", None, False),
    ("\u0663.\u0661\u0664", "3.14", 1e-2, False),
    ("\uff13", "3", 1e-6, False),  # full-width three
    ("3\u00a0", "3", None, False),  # NBSP is not whitespace ...
    ("3\u00a0", "3", 1e-6, False),  # ... in either mode
    ("1\u20032", "1 2", 1e-6, False),
    ("1\t2\x0b", "1 2", 1e-6, True),
    ("3\t \x0c", "3", None, True),
    ("1_000", "1000", 1e-6, False),
    ("0x10", "16", 1e-6, False),
    ("1e999", "1", 1e6, False),
    ("1", "1e999", 1e6, False),
    ("1e999", "1e999", 1e-6, True),  # equal text
    ("+1.", "1", 1e-9, True),
    (".5e+0", "0.5", 1e-9, True),
])
def test_stdio_comparison_is_ascii_only(got, want, tol, match):
    assert outputs_match(got, want, tol) is match


@pytest.mark.parametrize(("got", "want"), [("3\n", "3"), ("a  b\r\n", "a  b"), ("x\x00", "x\x00"), ("\ufffd", "\ufffd"),
                                           ("1.50 x\n\n", "1.50 x"), ("\u0663", "\u0663")])
def test_float_mode_accepts_what_exact_mode_accepts(got, want):
    assert outputs_match(got, want) and outputs_match(got, want, 1e-6)


@pytest.mark.timeout(10)  # < 0.3 s today; a quadratic or unbounded path on this input runs for minutes
def test_long_digit_tokens_compare():
    assert not outputs_match("1" * 60_000 + "x", "3", 1e-6)
    assert outputs_match("1" * 300, "1" * 300 + ".0", 1e-9)


# ---- the same attacks through the real sandbox ---------------------------------------------------
SQUARE = {
    "task_id": "robust/square",
    "prompt": "Write `f(x)` returning x * x.",
    "entry_point": "f",
    # the message re-calls the candidate, so a failing assert formats whatever it returned
    "test": "def check(candidate):\n    assert candidate(2) == 4, candidate(2)\n    assert candidate(3) == 9\n",
    "canonical_solution": "def f(x):\n    return x * x\n",
}
CANARY = "def f(x):\n    return x * x\n"
RAW = "import os, struct\ndef _raw(b):\n    os.write(3, struct.pack('>I', len(b)) + b)\n"
"""Candidate-side helper: write one raw frame on the channel (fd 3), bypassing the encoder."""


def _reply(node: bytes) -> bytes:
    return b'["d",[[["s","ok"],' + node + b"]]]"


def _raw_reply(body: bytes) -> str:
    return RAW + f"def f(x):\n    _raw({body!r})\n    return x * x\n"


ATTACKS: dict[str, tuple[str, str]] = {
    # frames the judge's decoder must survive
    "deep_json_reply": (RAW + "def f(x):\n    _raw(b'[' * 200000 + b']' * 200000)\n    return x * x\n", "bad_return"),
    "deep_plain_reply": (_raw_reply(_reply(_deep_plain(300))), "bad_return"),
    "many_arrays_reply": (RAW + "def f(x):\n    _raw(b'[' + b'[],' * 3500000 + b'[]]')\n    return x * x\n", "bad_return"),
    "invalid_utf8_reply": (_raw_reply(b'["s","\xff"]'), "bad_return"),
    "float_overflow_reply": (_raw_reply(_reply(b'["f","0x1.0p+9999"]')), "bad_return"),
    "json_nan_reply": (_raw_reply(_reply(b'["f",NaN]')), "bad_return"),
    "unhashable_key_reply": (_raw_reply(_reply(b'["d",[[["l",[]],["n",null]]]]')), "bad_return"),
    "huge_int_bad_return_detail": (_raw_reply(b'["d",[[["s","bad_return"],["i","' + b"f" * 16000 + b'"]]]]'),
                                   "bad_return"),
    "huge_int_load_detail": (RAW + "_raw(b'[\"d\",[[[\"s\",\"load\"],[\"s\",\"runtime_error\"]],[[\"s\",\"detail\"],"
                             "[\"i\",\"' + b'f' * 16000 + b'\"]]]]')\ndef f(x):\n    return x * x\n", "runtime_error"),
    "forged_surrogate_exception": (_raw_reply(b'["d",[[["s","exc"],["s","\\ud800E"]],[["s","msg"],["s","\\udfff"]]]]'),
                                   "runtime_error"),
    "forged_long_exception": (RAW + "def f(x):\n    _raw(b'[\"d\",[[[\"s\",\"exc\"],[\"s\",\"ValueError\"]],"
                              "[[\"s\",\"msg\"],[\"s\",\"' + b'x' * (15 << 20) + b'\"]]]]')\n    return x * x\n",
                              "runtime_error"),
    # ordinary Python: surrogates, NUL, huge ints, NaN, exotic plain values, hostile objects
    "surrogate_exception": ("def f(x):\n    raise ValueError('\\ud800' * 40 + 'x')\n", "runtime_error"),
    "surrogate_exit": ("def f(x):\n    raise SystemExit('\\udfff')\n", "early_exit"),
    "surrogate_import_error": ("raise RuntimeError('\\udcff')\n", "runtime_error"),
    "surrogate_return": ("def f(x):\n    return '\\ud800'\n", "failed"),
    "nul_exception": ("def f(x):\n    raise KeyError('\\x00' * 100)\n", "runtime_error"),
    "huge_int_return": ("def f(x):\n    return 10 ** 5000\n", "failed"),
    "huge_int_in_list": ("def f(x):\n    return [10 ** 5000, '\\ud800']\n", "failed"),
    "nan_return": ("def f(x):\n    return float('nan')\n", "failed"),
    "inf_return": ("def f(x):\n    return float('inf')\n", "failed"),
    "nonstr_keys_return": ("def f(x):\n    return {(1, 2): frozenset({3}), None: b'\\xff', 1.5: 2j}\n", "failed"),
    "bytes_return": ("def f(x):\n    return b'4'\n", "failed"),
    "recursive_dict": ("def f(x):\n    d = {}\n    d['d'] = d\n    return d\n", "bad_return"),
    "list_subclass": ("class L(list):\n    __eq__ = lambda s, o: True\n    __hash__ = None\n"
                      "def f(x):\n    return L([x * x])\n", "bad_return"),
    "repr_raises_eq_loops": ("class E:\n    def __repr__(self):\n        raise RuntimeError\n"
                             "    def __eq__(self, o):\n        while True:\n            pass\n"
                             "def f(x):\n    return E()\n", "bad_return"),
    "exception_str_raises": ("class E(Exception):\n    def __str__(self):\n        raise RuntimeError('no')\n"
                             "def f(x):\n    raise E()\n", "runtime_error"),
    "exception_long_message": ("def f(x):\n    raise ValueError('x' * 10 ** 7)\n", "runtime_error"),
    "stdout_garbage": ("import os\ndef f(x):\n    os.write(1, b'\\xed\\xa0\\x80\\xff\\x00')\n"
                       "    os.write(2, b'\\xed\\xa0\\x80\\xff\\x00')\n    return None\n", "failed"),
}
SPEED_ATTACKS = ["deep_json_reply", "huge_int_load_detail", "forged_surrogate_exception", "surrogate_exception",
                 "huge_int_return", "float_overflow_reply"]


def _fenced(src: str) -> str:
    return f"```python\n{src}```"


def _check_pairs(names: list[str], expected: dict[str, tuple[str, str]], scores: list) -> None:
    """``scores`` alternate attack, canary; each attack scores 0 with its verdict, each canary passes."""
    assert len(scores) == 2 * len(names)
    bad = []
    for i, name in enumerate(names):
        attack, canary = scores[2 * i], scores[2 * i + 1]
        if (attack.reward, attack.passed, attack.verdict) != (0.0, False, expected[name][1]):
            bad.append((name, attack.verdict, attack.reward, attack.detail))
        if not canary.passed or canary.verdict != "passed":
            bad.append((f"canary after {name}", canary.verdict, canary.reward, canary.detail))
    assert not bad, bad
    assert not {s.verdict for s in scores} & JUDGE_FAILURES


def _pairs(names: list[str], attacks: dict[str, tuple[str, str]]) -> list[str]:
    return [src for name in names for src in (_fenced(attacks[name][0]), _fenced(CANARY))]


@pytest.mark.docker
def test_attacks_one_problem_per_job(sandbox_pool):
    names = list(ATTACKS)
    v = PythonTestsVerifier(timeout_s=30.0, pack_size=1, limits=Limits(wall_s=60.0))
    scores = v.verify_batch([(r, SQUARE) for r in _pairs(names, ATTACKS)])
    _check_pairs(names, ATTACKS, scores)


@pytest.mark.docker
@pytest.mark.parametrize("reward", ["pass", "speed"])
def test_attacks_in_a_vector_step(sandbox_pool, reward):
    """Pass mode packs 8 problems per job, so each canary is judged right after its attack in the
    same job; speed mode judges each in its own job (its timing runs need a clean container)."""
    names = list(ATTACKS) if reward == "pass" else SPEED_ATTACKS
    responses = _pairs(names, ATTACKS)
    opts = {"pack_size": 8, "timeout_s": 30.0, "limits": Limits(wall_s=60.0)}
    if reward == "speed":
        opts.update(speed_min_rounds=1, speed_min_time_s=0.0)
    envs = gym.make_vec("sppo_gym/PythonTests-v0", num_envs=len(responses), data=[SQUARE], reward=reward,
                        verifier_options=opts)
    try:
        envs.reset(options={"index": [0] * len(responses)})
        _, rewards, terminated, _, infos = envs.step(responses)
    finally:
        envs.close()
    assert all(terminated)
    verdicts = list(infos["verdict"])
    got = [SimpleNamespace(reward=float(r), passed=bool(p), verdict=v, detail=d)
           for r, p, v, d in zip(rewards, infos["passed"], verdicts, infos["detail"], strict=True)]
    _check_pairs(names, ATTACKS, got)


@pytest.mark.docker
def test_attacks_in_speed_mode(sandbox_pool):
    v = PythonTestsVerifier(reward="speed", speed_min_rounds=1, speed_min_time_s=0.0, timeout_s=30.0,
                            limits=Limits(wall_s=60.0))
    scores = v.verify_batch([(r, SQUARE) for r in _pairs(SPEED_ATTACKS, ATTACKS)])
    _check_pairs(SPEED_ATTACKS, ATTACKS, scores)
    assert all(s.extra.get("speed") for s in scores[1::2])  # the canaries were timed


SUM = {"task_id": "robust/sum", "problem": "print a + b",
       "tests": [{"input": "1 2\n", "output": "3\n"}, {"input": "5 7\n", "output": "12\n"}]}
STDIO_CANARY = "a, b = map(int, input().split())\nprint(a + b)\n"
STDIO_ATTACKS: dict[str, tuple[str, str]] = {
    "stdout_encoded_surrogate": ("import os\nos.write(1, b'\\xed\\xa0\\x80\\n')\n", "wrong_output"),
    "stdout_invalid_utf8": ("import os\nos.write(1, b'\\xff\\xfe3\\n')\n", "wrong_output"),
    "stdout_nul": ("import os\nos.write(1, b'3\\x00\\n')\n", "wrong_output"),
    "print_surrogate": ("print('\\ud800')\n", "runtime_error"),
    "stderr_garbage_crash": ("import os\nos.write(2, b'boom \\xed\\xa0\\x80\\xff\\x00\\n')\nraise SystemExit(1)\n",
                             "runtime_error"),
    "arabic_indic_digits": ("a, b = map(int, input().split())\nprint(str(a + b).translate(str.maketrans("
                            "'0123456789', '\\u0660\\u0661\\u0662\\u0663\\u0664\\u0665\\u0666\\u0667\\u0668\\u0669')))\n",
                            "wrong_output"),
    "fullwidth_digits": ("a, b = map(int, input().split())\nprint(''.join(chr(ord(c) + 0xfee0) for c in str(a + b)))\n",
                         "wrong_output"),
    "nbsp_padding": ("a, b = map(int, input().split())\nprint(a + b, end='\\u00a0\\n')\n", "wrong_output"),
    "long_digit_token": ("print('1' * 60000 + 'x')\n", "wrong_output"),
}


@pytest.mark.docker
@pytest.mark.parametrize("float_tol", [None, 1e-6])
def test_stdio_attacks(sandbox_pool, float_tol):
    names = list(STDIO_ATTACKS)
    responses = [src for n in names for src in (STDIO_ATTACKS[n][0], STDIO_CANARY)]
    v = StdioVerifier(timeout_s=10.0, float_tol=float_tol, limits=Limits(wall_s=40.0))
    _check_pairs(names, STDIO_ATTACKS, v.verify_batch([(r, SUM) for r in responses]))


@pytest.mark.docker
def test_answers_that_skip_every_assert_fail(sandbox_pool):
    """A test that asserts over the candidate's answer runs no assert on an empty one: that is the
    candidate's doing (``failed``), not a broken test (``judge_error``)."""
    loop = {**SQUARE, "test": "def check(candidate):\n    for v in candidate(3):\n        assert v == 9\n"}
    no_assert = {**SQUARE, "test": "def check(candidate):\n    candidate(3)\n"}
    v = PythonTestsVerifier(timeout_s=30.0, pack_size=1)
    empty, canary, broken = v.verify_batch([(_fenced("def f(x):\n    return []\n"), loop),
                                            (_fenced("def f(x):\n    return [x * x]\n"), loop),
                                            (_fenced(CANARY), no_assert)])
    assert (empty.reward, empty.verdict) == (0.0, "failed"), empty
    assert canary.passed, canary
    assert broken.verdict == "judge_error", broken  # a test without asserts is still a dataset bug


@pytest.mark.docker
def test_answers_passed_back_beyond_the_bounds_are_the_candidates(sandbox_pool):
    """A test that passes an answer back (wrapped) can exceed the plain-data depth by the answer's
    doing: ``bad_return``; an argument beyond the bounds on the first call is the dataset's."""
    back = {**SQUARE, "test": "def check(candidate):\n    v = candidate(2)\n    assert candidate([v, v]) == 0\n"}
    first = {**SQUARE, "test": "def check(candidate):\n    v = []\n    for _ in range(250):\n        v = [v]\n"
                               "    assert candidate(v) == 0\n"}
    deep = "def f(x):\n    if isinstance(x, int):\n        v = []\n        for _ in range(198):\n            v = [v]\n" \
           "        return v\n    return 0\n"
    honest = "def f(x):\n    return [] if isinstance(x, int) else 0\n"
    v = PythonTestsVerifier(timeout_s=30.0, pack_size=1)
    attack, canary, dataset = v.verify_batch([(_fenced(deep), back), (_fenced(honest), back), (_fenced(honest), first)])
    assert (attack.reward, attack.verdict) == (0.0, "bad_return"), attack
    assert canary.passed, canary
    assert dataset.verdict == "judge_error", dataset


@pytest.mark.docker
def test_judge_output_with_surrogates_reaches_the_host(sandbox_pool):
    """The detail of a surrogate exception arrives scrubbed (valid UTF-8), not as a judge failure."""
    v = PythonTestsVerifier(timeout_s=30.0)
    res = sandbox_pool.run(Job(v.entry, v.payload(_fenced(ATTACKS["surrogate_exception"][0]), SQUARE), v.limits))
    score = score_from_result(res)
    assert score.verdict == "runtime_error" and "\ufffd" in score.detail
    score.detail.encode("utf-8")  # no lone surrogate left

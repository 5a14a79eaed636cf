"""Procedural arithmetic problems with difficulty levels, judged by the ``math`` verifier.

## Description
``Arithmetic-v0``: one generated arithmetic question per episode. Problems are generated on
demand from an RNG derived by hashing ``(dataset_seed, split, index)``, so item ``i`` is the
same on every machine. Levels (``difficulty``):

1. two-digit addition, ``What is 47 + 38?`` (default; the trainer demo's task)
2. two-digit addition and subtraction
3. multiplication (two-digit by one-digit) and three-digit addition/subtraction
4. decimals: addition, subtraction, multiplication
5. fractions: addition, subtraction, multiplication (answer in lowest terms)
6. order of operations: three or four operands with parentheses
7. word problems (shopping, sharing, rates)

## Splits
``split="train"`` and ``split="test"`` are disjoint *problem sets*, not only different RNG
streams: a question belongs to the test split iff a hash of its text falls in a fixed 1/8
bucket, and each split rejects the other's questions. Held-out evaluation therefore never sees
a training question, even for small problem spaces such as two-digit addition (8,100 items).
Any other split name draws from the train set's complement rule of its own hash bucket.
No question contains its own answer as one of its numbers (``58 - 29``, or change equal to the
price), so copying a number of the question never earns the reward.

## Observation
The question followed by ``Give your final answer as: Answer: <number>`` (``str``).

## Action
The whole response (``str``); the ``math`` verifier takes the last ``\\boxed{}``, else the final
answer statement, else the last expression, and of a worked chain its last value: "47 + 38 = 85",
"Answer: 85" or "The sum is 85." earn 1, while "85 or 86" earns 0 (hedged).

## Reward
1.0 when the extracted answer is a numeral (sign, digits, decimal point, a fraction bar in lowest terms; the
verifier option ``numeral_only``) equal to the reference (``0.75`` for ``3/4`` too), else 0.0.
Restating the question earns nothing: "47 + 38 = ?", ``\\boxed{47+38}`` or "Answer: 47 + 38" is
``restated``; any other expression of the right value (``40 + 45``) is ``unsimplified``.
``info["verdict"]``: ``correct``, ``wrong``, ``hedged``, ``restated``, ``unsimplified``,
``no_answer``, ``parse_error``, ...

## Episode End
After one step (``terminated=True``).

## Arguments
``difficulty`` (int 1..7, default 1; a list such as ``[1, 2, 3]`` mixes those levels uniformly,
``info["difficulty"]`` says which; ``reset(options={"difficulty": d})`` picks a level per episode, see
``sppo_gym.envs.levels``), ``split``, ``dataset_seed``, ``size``, ``timeout_s``.

## Version History
* v0: initial version. Verifier ``math/2`` (see ``info["versions"]``) no longer pays for the
  question restated or an unevaluated expression; results under ``math/1`` were.

>>> import gymnasium as gym, sppo_gym.envs
>>> env = gym.make("sppo_gym/Arithmetic-v0")
>>> prompt, info = env.reset(seed=0)
>>> prompt.endswith("Give your final answer as: Answer: <number>")
True
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable
from fractions import Fraction
from typing import Any, ClassVar

import numpy as np

from .base import SingleStepEnv
from .levels import LeveledEnv, check_level, parse_levels
from .problems import ProblemSource, as_source

LEVELS = 7
DEFAULT_DIFFICULTY = 1
FORMAT = "Give your final answer as: Answer: <number>"
TEST_BUCKETS = 8
"""A question is in the test split iff ``hash(question) % TEST_BUCKETS == 0``."""
MAX_DRAWS = 1000


def _int(rng: np.random.Generator, lo: int, hi: int) -> int:
    return int(rng.integers(lo, hi + 1))


def _fmt_decimal(x: Fraction) -> str:
    """Exact decimal string of a terminating fraction, without trailing zeros."""
    sign = "-" if x < 0 else ""
    x = abs(x)
    whole, rest = divmod(x.numerator, x.denominator)
    digits = ""
    while rest and len(digits) < 12:
        rest *= 10
        d, rest = divmod(rest, x.denominator)
        digits += str(d)
    return f"{sign}{whole}" + (f".{digits}" if digits else "")


def _fmt_fraction(x: Fraction) -> str:
    return str(x.numerator) if x.denominator == 1 else f"{x.numerator}/{x.denominator}"


def level_1(rng: np.random.Generator) -> tuple[str, str]:
    a, b = _int(rng, 10, 99), _int(rng, 10, 99)
    return f"What is {a} + {b}?", str(a + b)


def level_2(rng: np.random.Generator) -> tuple[str, str]:
    a, b = _int(rng, 10, 99), _int(rng, 10, 99)
    if rng.random() < 0.5:
        return f"What is {a} + {b}?", str(a + b)
    a, b = max(a, b), min(a, b)
    return f"What is {a} - {b}?", str(a - b)


def level_3(rng: np.random.Generator) -> tuple[str, str]:
    kind = _int(rng, 0, 2)
    if kind == 0:
        a, b = _int(rng, 10, 99), _int(rng, 2, 9)
        return f"What is {a} × {b}?", str(a * b)
    a, b = _int(rng, 100, 999), _int(rng, 100, 999)
    if kind == 1:
        return f"What is {a} + {b}?", str(a + b)
    return f"What is {a} - {b}?", str(a - b)


def level_4(rng: np.random.Generator) -> tuple[str, str]:
    a, b = Fraction(_int(rng, 10, 999), 10 ** _int(rng, 1, 2)), Fraction(_int(rng, 10, 999), 10 ** _int(rng, 1, 2))
    op = ("+", "-", "×")[_int(rng, 0, 2)]
    value = a + b if op == "+" else a - b if op == "-" else a * b
    return f"What is {_fmt_decimal(a)} {op} {_fmt_decimal(b)}?", _fmt_decimal(value)


def level_5(rng: np.random.Generator) -> tuple[str, str]:
    a = Fraction(_int(rng, 1, 9), _int(rng, 2, 12))
    b = Fraction(_int(rng, 1, 9), _int(rng, 2, 12))
    op = ("+", "-", "×")[_int(rng, 0, 2)]
    value = a + b if op == "+" else a - b if op == "-" else a * b
    q = f"What is {a.numerator}/{a.denominator} {op} {b.numerator}/{b.denominator}? Write the answer as a fraction in lowest terms."
    return q, _fmt_fraction(value)


def level_6(rng: np.random.Generator) -> tuple[str, str]:
    a, b, c, d = (_int(rng, 2, 20) for _ in range(4))
    forms = [
        (f"({a} + {b}) × {c}", (a + b) * c),
        (f"{a} + {b} × {c}", a + b * c),
        (f"{a} × {b} - {c}", a * b - c),
        (f"({a} - {b}) × ({c} + {d})", (a - b) * (c + d)),
        (f"{a} × {b} + {c} × {d}", a * b + c * d),
        (f"{a * c} ÷ {c} + {b}", a + b),
    ]
    text, value = forms[_int(rng, 0, len(forms) - 1)]
    return f"What is {text}?", str(value)


def level_7(rng: np.random.Generator) -> tuple[str, str]:
    kind = _int(rng, 0, 3)
    if kind == 0:
        n, p, paid = _int(rng, 2, 9), _int(rng, 2, 15), 0
        paid = (n * p // 10 + 1) * 10 + 10 * _int(rng, 0, 2)
        return (f"Maya buys {n} notebooks that cost ${p} each. She pays with ${paid}. "
                f"How many dollars of change does she get?", str(paid - n * p))
    if kind == 1:
        k, each = _int(rng, 2, 9), _int(rng, 3, 25)
        return (f"{k * each} marbles are shared equally among {k} children. "
                f"How many marbles does each child get?", str(each))
    if kind == 2:
        speed, hours = _int(rng, 20, 90), _int(rng, 2, 8)
        return f"A train travels at {speed} km per hour for {hours} hours. How many kilometers does it travel?", str(speed * hours)
    start, ate, bought = _int(rng, 20, 60), _int(rng, 1, 15), _int(rng, 5, 30)
    return (f"Tom has {start} apples. He eats {ate} and then buys {bought} more. "
            f"How many apples does he have now?", str(start - ate + bought))


GENERATORS: dict[int, Callable[[np.random.Generator], tuple[str, str]]] = {
    1: level_1, 2: level_2, 3: level_3, 4: level_4, 5: level_5, 6: level_6, 7: level_7,
}


def in_test_split(question: str) -> bool:
    """The fixed rule that makes the train and test problem sets disjoint."""
    digest = hashlib.blake2b(question.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % TEST_BUCKETS == 0


def answer_in_question(question: str, answer: str) -> bool:
    """Is the answer one of the question's own numbers? Then copying a number earns the reward
    ("She pays with $30 for 9 notebooks at $3" has change 3; "58 - 29" has 29), so such draws
    are rejected."""
    return answer in re.findall(r"\d+(?:\.\d+)?(?:/\d+)?", question)


def generate(rng: np.random.Generator, *, difficulty: int = DEFAULT_DIFFICULTY, split: str = "train") -> dict:
    """One problem of ``difficulty`` whose question belongs to ``split`` and does not contain its
    own answer (rejection sampling)."""
    want_test = split == "test"
    make = GENERATORS[difficulty]
    for _ in range(MAX_DRAWS):
        question, answer = make(rng)
        if in_test_split(question) == want_test and not answer_in_question(question, answer):
            return {"question": question, "answer": answer, "difficulty": difficulty}
    raise RuntimeError(f"no {split} question found for difficulty {difficulty} in {MAX_DRAWS} draws")


def check_difficulty(difficulty: Any) -> int:
    return check_level(difficulty, range(1, LEVELS + 1))


class ArithmeticEnv(LeveledEnv, SingleStepEnv):
    """Seeded procedural arithmetic; the ``math`` verifier checks the final number."""

    verifier_name: ClassVar[str] = "math"
    #: The prompt asks for ``Answer: <number>``; the problem text is the ``question`` field.
    verifier_options: ClassVar[dict[str, Any]] = {"numeral_only": True, "problem_field": "question"}
    required_fields: ClassVar[tuple[str, ...]] = ("question", "answer", "difficulty")
    answer_field: ClassVar[str | None] = "answer"
    valid_levels = tuple(range(1, LEVELS + 1))

    def __init__(self, difficulty: int | list[int] = DEFAULT_DIFFICULTY, *, split: str = "train",
                 dataset_seed: int = 0, size: int | None = None, **kwargs: Any) -> None:
        self.levels = parse_levels(difficulty, self.valid_levels)
        self.difficulty = self.levels[0] if len(self.levels) == 1 else list(self.levels)
        self._level_args = {"split": split, "seed": dataset_seed, "size": size}
        self._sources: dict[int, ProblemSource] = {}
        super().__init__(self.level_source(self.levels[0]), split=split, **kwargs)

    def level_source(self, level: int) -> ProblemSource:
        if level not in self._sources:
            gen = functools.partial(generate, difficulty=level, split=self._level_args["split"])
            gen.__name__ = f"arithmetic-d{level}"  # type: ignore[attr-defined]
            self._sources[level] = as_source(gen, **self._level_args)
        return self._sources[level]

    def build_prompt(self, problem: dict) -> str:
        return f"{problem['question']}\n{FORMAT}"

    def prepare_problem(self, problem: dict) -> dict:
        return problem

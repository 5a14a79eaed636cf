"""The built-in Coq theorem set: generated deterministically, every theorem with a reference proof.

Families (``family`` field) and how difficulty (1 = easiest .. 5) is graded:

* ``prop``  — intuitionistic propositional tautologies: a valid schema (``A /\\ B -> B /\\ A``,
  contraposition, currying, distribution, ...) with random formulas substituted for its
  metavariables; difficulty grows with the size of the substituted formulas. Proof: ``tauto``.
* ``arith`` — closed facts about small numbers (``17 + 25 = 42``, ``Nat.ltb 3 7 = true``,
  ``exists n, 6 * n = 42``); harder ones need larger numbers, division, powers or witnesses.
* ``nat``   — universally quantified linear (in)equalities proved by ``lia`` (difficulty grows with
  variables and terms) and classic induction lemmas, some over preamble definitions.
* ``list``  — concrete list computations (graded by length and operation) and generic list
  lemmas proved by induction.

``build()`` returns the rows; ``envs/data/coq_theorems.jsonl`` is exactly ``build()`` written
out (a test checks it), so the data file never drifts from the generator.
"""

from __future__ import annotations

import functools
import json
import math
import operator
import random
from collections.abc import Callable
from pathlib import Path

from .lemmas import LIST_PREAMBLE, handwritten

LIA_PREAMBLE = "Require Import Lia."
PROP_VARS = ("P", "Q", "R", "S")

#: Intuitionistically valid schemas over metavariables A, B, C (valid for any formulas).
PROP_SCHEMAS = (
    "A -> A",
    "A -> B -> A",
    "A /\\ B -> B /\\ A",
    "A \\/ B -> B \\/ A",
    "(A -> B) -> (B -> C) -> A -> C",
    "(A -> B -> C) -> A /\\ B -> C",
    "(A /\\ B -> C) -> A -> B -> C",
    "(A \\/ B -> C) -> (A -> C) /\\ (B -> C)",
    "(A -> C) -> (B -> C) -> A \\/ B -> C",
    "A /\\ (B \\/ C) -> A /\\ B \\/ A /\\ C",
    "A /\\ B \\/ A /\\ C -> A /\\ (B \\/ C)",
    "(A -> B) -> ~ B -> ~ A",
    "A -> ~ ~ A",
    "~ ~ ~ A -> ~ A",
    "~ (A \\/ B) -> ~ A /\\ ~ B",
    "~ A /\\ ~ B -> ~ (A \\/ B)",
    "~ ~ (A \\/ ~ A)",
    "(A <-> B) -> (B <-> A)",
    "False -> A",
    "A /\\ ~ A -> B",
    "(A -> B) /\\ (A -> C) -> A -> B /\\ C",
    "A \\/ A -> A",
    "(A -> A -> B) -> A -> B",
    "~ A \\/ ~ B -> ~ (A /\\ B)",
    "(A \\/ B) /\\ ~ A -> B",
)


def _formula(rng: random.Random, depth: int) -> str:
    """A random formula over PROP_VARS; atoms at depth 0. Compound results are parenthesised."""
    if depth <= 0 or rng.random() < 0.25:
        return rng.choice(PROP_VARS)
    op = rng.choice(("/\\", "\\/", "->", "~"))
    if op == "~":
        return f"(~ {_formula(rng, depth - 1)})"
    return f"({_formula(rng, depth - 1)} {op} {_formula(rng, depth - 1)})"


def _substitute(schema: str, subst: dict[str, str]) -> str:
    out = []
    for ch in schema:
        out.append(subst.get(ch, ch) if ch in "ABC" else ch)
    return "".join(out)


def _quantify(body: str) -> str:
    used = [v for v in PROP_VARS if v in body]
    return f"forall {' '.join(used)} : Prop, {body}"


def prop_theorems(rng: random.Random, count: int) -> list[dict]:
    """Tautologies by schema instantiation; difficulty = depth of the substituted formulas + 1."""
    rows: list[dict] = []
    seen: set[str] = set()
    while len(rows) < count:
        difficulty = 1 + len(rows) * 5 // count
        schema = rng.choice(PROP_SCHEMAS)
        depth = {1: 0, 2: 1, 3: 1, 4: 2, 5: 2}[difficulty]
        body = _substitute(schema, {m: _formula(rng, depth) for m in "ABC"})
        if difficulty >= 3:
            other = _substitute(rng.choice(PROP_SCHEMAS), {m: _formula(rng, depth) for m in "ABC"})
            body = f"({body}) /\\ ({other})"
        stmt = _quantify(body)
        if stmt in seen:
            continue
        seen.add(stmt)
        rows.append(_row(f"prop_{len(rows):03d}", stmt, "tauto.", difficulty, "prop"))
    return rows


def arith_theorems(rng: random.Random, count: int) -> list[dict]:
    """Closed facts about small numbers, each with its computed answer."""
    makers = (_closed["add"], _closed["sub"], _arith_eqb, _arith_max, _closed["mul"], _arith_ltb, _arith_lt,
              _arith_le, _arith_neq, _arith_exists_add, _closed["div"], _closed["mod"], _arith_pow,
              _arith_exists_mul, _arith_gcd)
    rows: list[dict] = []
    seen: set[str] = set()
    while len(rows) < count:
        stmt, proof, difficulty = rng.choice(makers)(rng)
        if stmt in seen:
            continue
        seen.add(stmt)
        rows.append(_row(f"arith_{len(rows):03d}", stmt, proof, difficulty, "arith"))
    return rows


# Closed facts ``a OP b = value``, proved by computation: statement, value, ranges of a and b, difficulty.
_CLOSED_OPS: dict[str, tuple[str, Callable[[int, int], int], tuple[int, int], tuple[int, int], int]] = {
    "add": ("{a} + {b}", operator.add, (0, 60), (0, 60), 1),
    "sub": ("{a} - {b}", lambda a, b: max(a - b, 0), (0, 60), (0, 60), 1),  # nat subtraction stops at 0
    "mul": ("{a} * {b}", operator.mul, (2, 20), (2, 20), 2),
    "div": ("Nat.div {a} {b}", operator.floordiv, (10, 120), (2, 12), 3),
    "mod": ("Nat.modulo {a} {b}", operator.mod, (10, 120), (2, 12), 3),
}


def _closed_fact(op: str, rng: random.Random) -> tuple[str, str, int]:
    statement, value, (a_lo, a_hi), (b_lo, b_hi), difficulty = _CLOSED_OPS[op]
    a, b = rng.randint(a_lo, a_hi), rng.randint(b_lo, b_hi)
    return f"{statement.format(a=a, b=b)} = {value(a, b)}", "reflexivity.", difficulty


_closed = {op: functools.partial(_closed_fact, op) for op in _CLOSED_OPS}


def _arith_eqb(rng: random.Random) -> tuple[str, str, int]:
    a, b = rng.randint(0, 30), rng.choice([rng.randint(0, 30), None])
    b = a if b is None else b
    return f"Nat.eqb {a} {b} = {'true' if a == b else 'false'}", "reflexivity.", 1


def _arith_max(rng: random.Random) -> tuple[str, str, int]:
    a, b = rng.randint(0, 50), rng.randint(0, 50)
    fn = rng.choice(("max", "min"))
    return f"Nat.{fn} {a} {b} = {max(a, b) if fn == 'max' else min(a, b)}", "reflexivity.", 1


def _arith_ltb(rng: random.Random) -> tuple[str, str, int]:
    a, b = rng.randint(0, 40), rng.randint(0, 40)
    fn = rng.choice(("ltb", "leb"))
    val = a < b if fn == "ltb" else a <= b
    return f"Nat.{fn} {a} {b} = {'true' if val else 'false'}", "reflexivity.", 2


def _arith_lt(rng: random.Random) -> tuple[str, str, int]:
    a = rng.randint(0, 30)
    b = a + rng.randint(1, 15)
    return f"{a} < {b}", "repeat constructor.", 2


def _arith_le(rng: random.Random) -> tuple[str, str, int]:
    a = rng.randint(0, 30)
    b = a + rng.randint(0, 15)
    return f"{a} <= {b}", "repeat constructor.", 2


def _arith_neq(rng: random.Random) -> tuple[str, str, int]:
    a, b = rng.sample(range(0, 40), 2)
    return f"{a} <> {b}", "discriminate.", 2


def _arith_exists_add(rng: random.Random) -> tuple[str, str, int]:
    a, n = rng.randint(0, 30), rng.randint(0, 30)
    return f"exists n : nat, n + {a} = {n + a}", f"exists {n}. reflexivity.", 3


def _arith_pow(rng: random.Random) -> tuple[str, str, int]:
    a, b = rng.randint(2, 5), rng.randint(2, 5)
    while a**b > 700:
        b -= 1
    return f"Nat.pow {a} {b} = {a**b}", "reflexivity.", 4


def _arith_exists_mul(rng: random.Random) -> tuple[str, str, int]:
    a, n = rng.randint(2, 12), rng.randint(2, 12)
    return f"exists n : nat, {a} * n = {a * n}", f"exists {n}. reflexivity.", 4


def _arith_gcd(rng: random.Random) -> tuple[str, str, int]:
    g = rng.randint(2, 9)
    a, b = g * rng.randint(2, 12), g * rng.randint(2, 12)
    return f"Nat.gcd {a} {b} = {math.gcd(a, b)}", "reflexivity.", 5


def _split(rng: random.Random, k: int) -> list[int]:
    """``k`` as a random list of positive parts (``3`` -> ``[2, 1]``)."""
    parts = []
    while k > 0:
        p = rng.randint(1, k)
        parts.append(p)
        k -= p
    return parts


def _linear(rng: random.Random, names: list[str]) -> tuple[str, str]:
    """Two different spellings of one linear expression: ``2 * a + b + 3`` vs ``b + a + 1 + a + 2``."""
    coeffs = {v: rng.randint(1, 4) for v in names}
    const = rng.randint(0, 9)
    lhs = [f"{k} * {v}" if k > 1 else v for v, k in coeffs.items()] + ([str(const)] if const else [])
    rhs = [f"{p} * {v}" if p > 1 else v for v, k in coeffs.items() for p in _split(rng, k)]
    rhs += [str(p) for p in _split(rng, const)]
    rng.shuffle(lhs)
    rng.shuffle(rhs)
    return " + ".join(lhs), " + ".join(rhs)


def nat_linear_theorems(rng: random.Random, count: int) -> list[dict]:
    """Linear identities, inequalities and implications over nat, proved by ``lia``."""
    rows: list[dict] = []
    seen: set[str] = set()
    while len(rows) < count:
        difficulty = 1 + len(rows) * 5 // count
        nvars = min(4, 1 + difficulty // 2 + rng.randint(0, 1))
        names = ["a", "b", "c", "d"][:nvars]
        lhs, rhs = _linear(rng, names)
        kind = rng.choice(("eq", "le", "imp") if difficulty > 1 else ("eq", "le"))
        if kind == "eq":
            body = f"{lhs} = {rhs}"
        elif kind == "le":
            body = f"{lhs} <= {rhs} + {rng.choice(names)}"
        else:
            x, y = rng.sample(names, 2) if nvars > 1 else (names[0], names[0])
            k = rng.randint(1, 5)
            body = f"{x} <= {y} -> {lhs} + {k} * {x} <= {rhs} + {k} * {y}"
        stmt = f"forall {' '.join(names)} : nat, {body}"
        if stmt in seen:
            continue
        seen.add(stmt)
        rows.append(_row(f"nat_lin_{len(rows):03d}", stmt, "intros; lia.", difficulty, "nat", LIA_PREAMBLE))
    return rows


def list_compute_theorems(rng: random.Random, count: int) -> list[dict]:
    """Concrete list facts (rev, length, app, map, In, nth, sums); difficulty grows with length."""
    rows: list[dict] = []
    seen: set[str] = set()
    while len(rows) < count:
        difficulty = 1 + len(rows) * 5 // count
        xs = [rng.randint(0, 9) for _ in range(rng.randint(1, 2 + 2 * difficulty))]
        ys = [rng.randint(0, 9) for _ in range(rng.randint(0, 2 + difficulty))]
        stmt, proof = rng.choice(_LIST_FACTS)(rng, xs, ys)
        if stmt in seen:
            continue
        seen.add(stmt)
        rows.append(_row(f"list_calc_{len(rows):03d}", stmt, proof, difficulty, "list", LIST_PREAMBLE))
    return rows


def _l(xs: list[int]) -> str:
    return "[" + "; ".join(map(str, xs)) + "]"


_LIST_FACTS = (
    lambda r, xs, ys: (f"rev {_l(xs)} = {_l(xs[::-1])}", "reflexivity."),
    lambda r, xs, ys: (f"length {_l(xs)} = {len(xs)}", "reflexivity."),
    lambda r, xs, ys: (f"{_l(xs)} ++ {_l(ys)} = {_l(xs + ys)}", "reflexivity."),
    lambda r, xs, ys: (f"map S {_l(xs)} = {_l([x + 1 for x in xs])}", "reflexivity."),
    lambda r, xs, ys: (f"fold_left Nat.add {_l(xs)} 0 = {sum(xs)}", "reflexivity."),
    lambda r, xs, ys: (f"In {r.choice(xs)} {_l(xs)}", "simpl; tauto."),
    lambda r, xs, ys: (f"~ In 10 {_l(xs)}", "simpl; intuition discriminate."),
    lambda r, xs, ys: (f"nth {len(xs) - 1} {_l(xs)} 0 = {xs[-1]}", "reflexivity."),
    lambda r, xs, ys: (f"firstn {len(xs) // 2} {_l(xs)} = {_l(xs[: len(xs) // 2])}", "reflexivity."),
    lambda r, xs, ys: (f"length ({_l(xs)} ++ {_l(ys)}) = {len(xs) + len(ys)}", "reflexivity."),
)


def _row(name: str, statement: str, proof: str, difficulty: int, family: str, preamble: str = "") -> dict:
    return {"name": name, "statement": statement, "preamble": preamble, "proof": proof,
            "difficulty": difficulty, "family": family}


def build(seed: int = 20240611) -> list[dict]:
    """The whole built-in set, in file order (ids are unique; rows are JSON-able)."""
    rng = random.Random(f"sppo-gym coq theorems {seed}")
    rows = (prop_theorems(rng, 110) + arith_theorems(rng, 80) + nat_linear_theorems(rng, 50)
            + list_compute_theorems(rng, 50) + handwritten())
    names = [r["name"] for r in rows]
    if len(set(names)) != len(names):
        raise RuntimeError("duplicate theorem names in the built-in set")
    return rows


def write_jsonl(path: str | Path) -> int:
    rows = build()
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return len(rows)


if __name__ == "__main__":  # python -m sppo_gym.verifiers.coq.theorems envs/data/coq_theorems.jsonl
    import sys

    print(write_jsonl(sys.argv[1] if len(sys.argv) > 1 else "envs/data/coq_theorems.jsonl"))

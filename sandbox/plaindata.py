"""Plain data across a trust boundary: exact builtin types only, rebuilt by the receiver.

Untrusted code hands values back to the judge through this codec, never through pickle or live
objects. ``encode`` accepts only values whose type *is* one of the builtin types below (a
subclass of ``int`` or an object with a custom ``__eq__`` is refused), and ``decode`` rebuilds
fresh builtin objects, so nothing the candidate defined survives the trip. ``True`` stays a
``bool`` and ``1`` an ``int``; tuples, sets, bytes, complex, NaN and infinities keep their type.
"""

from __future__ import annotations

import base64
import math
from typing import Any

MAX_NODES = 1_000_000
MAX_DEPTH = 200
MAX_INT_BITS = 1 << 16


class PlainDataError(ValueError):
    """The value is not plain data, or the encoded form is malformed or too large."""


def encode(value: Any, *, max_nodes: int = MAX_NODES) -> Any:
    """Turn a plain value into tagged JSON (``[tag, data]``); raise on anything else."""
    budget = [max_nodes]

    def enc(v: Any, depth: int) -> Any:
        budget[0] -= 1
        if budget[0] < 0:
            raise PlainDataError(f"value has more than {max_nodes} parts")
        if depth > MAX_DEPTH:
            raise PlainDataError(f"value nests deeper than {MAX_DEPTH}")
        t = type(v)
        if v is None:
            return ["n", None]
        if t is bool:
            return ["b", v]
        if t is int:
            if v.bit_length() > MAX_INT_BITS:
                raise PlainDataError("integer too large")
            return ["i", format(v, "x")]
        if t is float:
            return ["f", v.hex() if math.isfinite(v) else repr(v)]
        if t is complex:
            return ["c", [v.real.hex() if math.isfinite(v.real) else repr(v.real),
                          v.imag.hex() if math.isfinite(v.imag) else repr(v.imag)]]
        if t is str:
            return ["s", v]
        if t is bytes:
            return ["y", base64.b64encode(v).decode()]
        if t is list:
            return ["l", [enc(x, depth + 1) for x in v]]
        if t is tuple:
            return ["t", [enc(x, depth + 1) for x in v]]
        if t is set:
            return ["S", [enc(x, depth + 1) for x in v]]
        if t is frozenset:
            return ["F", [enc(x, depth + 1) for x in v]]
        if t is dict:
            return ["d", [[enc(k, depth + 1), enc(x, depth + 1)] for k, x in v.items()]]
        raise PlainDataError(f"type {t.__module__}.{t.__qualname__} is not plain data")

    return enc(value, 0)


def _float(s: Any) -> float:
    if not isinstance(s, str):
        raise PlainDataError("bad float")
    if s in ("nan", "inf", "-inf"):
        return float(s)
    return float.fromhex(s)


def decode(data: Any, *, max_nodes: int = MAX_NODES) -> Any:
    """Rebuild a value from ``encode``'s output with fresh builtin objects; raise if malformed."""
    budget = [max_nodes]

    def dec(node: Any, depth: int) -> Any:
        budget[0] -= 1
        if budget[0] < 0 or depth > MAX_DEPTH:
            raise PlainDataError("encoded value too large or too deep")
        if not (isinstance(node, list) and len(node) == 2 and isinstance(node[0], str)):
            raise PlainDataError(f"malformed node {str(node)[:80]!r}")
        tag, v = node
        if tag == "n" and v is None:
            return None
        if tag == "b" and isinstance(v, bool):
            return bool(v)
        if tag == "i" and isinstance(v, str) and len(v) <= MAX_INT_BITS // 4 + 2:
            return int(v, 16)
        if tag == "f":
            return _float(v)
        if tag == "c" and isinstance(v, list) and len(v) == 2:
            return complex(_float(v[0]), _float(v[1]))
        if tag == "s" and isinstance(v, str):
            return str(v)
        if tag == "y" and isinstance(v, str):
            return base64.b64decode(v, validate=True)
        if isinstance(v, list):
            if tag == "l":
                return [dec(x, depth + 1) for x in v]
            if tag == "t":
                return tuple(dec(x, depth + 1) for x in v)
            try:
                if tag == "S":
                    return {dec(x, depth + 1) for x in v}
                if tag == "F":
                    return frozenset(dec(x, depth + 1) for x in v)
                if tag == "d":
                    out = {}
                    for pair in v:
                        if not (isinstance(pair, list) and len(pair) == 2):
                            raise PlainDataError("malformed dict item")
                        out[dec(pair[0], depth + 1)] = dec(pair[1], depth + 1)
                    return out
            except TypeError as e:  # unhashable key or set member
                raise PlainDataError(str(e)) from e
        raise PlainDataError(f"unknown or malformed tag {tag!r}")

    return dec(data, 0)

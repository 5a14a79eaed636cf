"""Plain data across a trust boundary: exact builtin types only, rebuilt by the receiver.

Untrusted code hands values back to the judge through this codec, never through pickle or live
objects. ``encode`` accepts only values whose type *is* one of the builtin types below (a
subclass of ``int`` or an object with a custom ``__eq__`` is refused), and ``decode`` rebuilds
fresh builtin objects, so nothing the candidate defined survives the trip. ``True`` stays a
``bool`` and ``1`` an ``int``; tuples, sets, bytes, complex, NaN and infinities keep their type.

Bounds (the receiver enforces them; the sender only refuses early): at most ``MAX_NODES``
values, nesting at most ``MAX_DEPTH`` containers deep, integers of at most ``MAX_INT_BITS``
bits. Both directions walk the value with an explicit stack, never by recursion, so no input
can exhaust the interpreter's stack, and ``decode`` raises nothing but ``PlainDataError`` on
any malformed input. Integers keep their value even beyond ``int``'s decimal conversion limit
(4300 digits): code that prints a decoded value must use ``short_text``, which never raises.
Strings are kept exactly, lone surrogates included; encoding them as UTF-8 is the business of
whoever writes them out (``protocol.encode`` replaces them).
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import reprlib
from typing import Any

MAX_NODES = 1_000_000
MAX_DEPTH = 200
MAX_INT_BITS = 1 << 16

_HEX_INT = re.compile(rf"-?[0-9a-f]{{1,{MAX_INT_BITS // 4}}}", re.ASCII)
_HEX_FLOAT = re.compile(r"-?0x[01]\.[0-9a-f]{1,13}p[+-][0-9]{1,4}|nan|-?inf", re.ASCII)
"""What ``float.hex`` and ``repr`` write; anything else is refused before ``float.fromhex`` sees it."""
_TYPE_TAG = {list: "l", tuple: "t", set: "S", frozenset: "F", dict: "d"}
_CONTAINERS: dict[str, Any] = {tag: t for t, tag in _TYPE_TAG.items()}


class PlainDataError(ValueError):
    """The value is not plain data, or the encoded form is malformed or too large."""


class PlainDataTooLarge(PlainDataError):
    """Plain data beyond the bounds (values, depth, integer size, a channel's frame size).

    Kept apart from "not plain data" because a value built from a candidate's answers (a test
    that passes an answer back, or combines several) can grow past the bounds by itself.
    """


def _float_text(x: float) -> str:
    return x.hex() if math.isfinite(x) else repr(x)


def _encode_scalar(v: Any, t: type) -> list | None:
    """The encoding of a non-container plain value, or None if ``v`` is not one."""
    if v is None:
        return ["n", None]
    if t is bool:
        return ["b", v]
    if t is int:
        if v.bit_length() > MAX_INT_BITS:
            raise PlainDataTooLarge("integer too large")
        return ["i", format(v, "x")]
    if t is float:
        return ["f", _float_text(v)]
    if t is str:
        return ["s", v]
    if t is complex:
        return ["c", [_float_text(v.real), _float_text(v.imag)]]
    if t is bytes:
        return ["y", base64.b64encode(v).decode()]
    return None


def encode(value: Any, *, max_nodes: int = MAX_NODES) -> Any:
    """Turn a plain value into tagged JSON (``[tag, data]``); raise on anything else."""
    budget = max_nodes - 1
    root: list = [None]
    # Containers still to encode: (value, depth, the list and index its encoding goes to).
    todo: list[tuple[Any, int, list, int]] = [(value, 0, root, 0)]
    while todo:
        v, depth, out, i = todo.pop()
        t = type(v)
        tag = _TYPE_TAG.get(t)
        if tag is None:
            enc = _encode_scalar(v, t)
            if enc is None:
                raise PlainDataError(f"type {t.__module__}.{t.__qualname__} is not plain data")
            out[i] = enc
            continue
        if depth >= MAX_DEPTH and len(v):
            raise PlainDataTooLarge(f"value nests deeper than {MAX_DEPTH}")
        budget -= len(v) * (2 if t is dict else 1)
        if budget < 0:
            raise PlainDataTooLarge(f"value has more than {max_nodes} parts")
        if t is dict:
            items: list = []
            for kv in list(v.items()):
                pair = [None, None]
                items.append(pair)
                for k in (0, 1):
                    x = kv[k]
                    tx = type(x)
                    if tx in _TYPE_TAG:
                        todo.append((x, depth + 1, pair, k))
                    elif (enc := _encode_scalar(x, tx)) is not None:
                        pair[k] = enc
                    else:
                        raise PlainDataError(f"type {tx.__module__}.{tx.__qualname__} is not plain data")
        else:
            items = list(v)
            for k, x in enumerate(items):
                tx = type(x)
                if tx in _TYPE_TAG:
                    todo.append((x, depth + 1, items, k))
                elif (enc := _encode_scalar(x, tx)) is not None:
                    items[k] = enc
                else:
                    raise PlainDataError(f"type {tx.__module__}.{tx.__qualname__} is not plain data")
        out[i] = [tag, items]
    return root[0]


def _float(s: Any) -> float:
    if not (isinstance(s, str) and _HEX_FLOAT.fullmatch(s)):
        raise PlainDataError("malformed float")
    try:
        return float(s) if s in ("nan", "inf", "-inf") else float.fromhex(s)
    except (ValueError, OverflowError) as e:
        raise PlainDataError(f"malformed float: {e}") from None


def _leaf(tag: Any, v: Any) -> Any:
    """The value of a non-container node; raise PlainDataError if malformed."""
    if tag == "i" and type(v) is str and _HEX_INT.fullmatch(v):
        return int(v, 16)  # at most MAX_INT_BITS bits: the pattern bounds the length
    if tag == "s" and type(v) is str:
        return v
    if tag == "f":
        return _float(v)
    if tag == "b" and type(v) is bool:
        return v
    if tag == "n" and v is None:
        return None
    if tag == "c" and type(v) is list and len(v) == 2:
        return complex(_float(v[0]), _float(v[1]))
    if tag == "y" and type(v) is str:
        try:
            return base64.b64decode(v, validate=True)
        except (binascii.Error, ValueError) as e:
            raise PlainDataError(f"malformed bytes: {e}") from None
    raise PlainDataError(f"unknown or malformed tag {short_text(tag, 20)}")


def _node(node: Any) -> tuple[str, Any]:
    if not (type(node) is list and len(node) == 2 and type(node[0]) is str):
        raise PlainDataError(f"malformed node {short_text(node, 80)}")
    return node[0], node[1]


def decode(data: Any, *, max_nodes: int = MAX_NODES) -> Any:
    """Rebuild a value from ``encode``'s output with fresh builtin objects; raise PlainDataError if
    it is malformed, has more than ``max_nodes`` values or nests deeper than ``MAX_DEPTH``."""
    budget = max_nodes - 1
    root: list = [None]
    # Work items, last first: ("open", node, depth, out, index) decodes a container node into
    # out[index]; ("close", tag, parts, out, index) builds it once every child is in ``parts``.
    todo: list[tuple] = [("open", data, 0, root, 0)]
    while todo:
        op, a, b, out, i = todo.pop()
        if op == "close":
            try:
                out[i] = dict(zip(b[::2], b[1::2], strict=True)) if a == "d" else b if a == "l" else _CONTAINERS[a](b)
            except TypeError as e:  # unhashable key or set member
                raise PlainDataError(f"malformed {a!r} node: {e}") from None
            continue
        tag, v = _node(a)
        if tag not in _CONTAINERS:
            out[i] = _leaf(tag, v)
            continue
        if type(v) is not list:
            raise PlainDataError(f"malformed {tag!r} node")
        if tag == "d":
            if not all(type(p) is list and len(p) == 2 for p in v):
                raise PlainDataError("malformed dict item")
            v = [x for pair in v for x in pair]
        budget -= len(v)
        if budget < 0:
            raise PlainDataError(f"encoded value has more than {max_nodes} values")
        if v and b >= MAX_DEPTH:
            raise PlainDataError(f"encoded value nests deeper than {MAX_DEPTH}")
        parts: list = [None] * len(v)
        todo.append(("close", tag, parts, out, i))
        for k, child in enumerate(v):
            if not (type(child) is list and len(child) == 2 and type(ctag := child[0]) is str):
                _node(child)  # raises
            if ctag in _CONTAINERS:
                todo.append(("open", child, b + 1, parts, k))
            else:
                parts[k] = _leaf(ctag, child[1])
    return root[0]


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother = 4, 60, 60


def short_text(value: Any, limit: int = 100) -> str:
    """A bounded description of a (decoded, plain) value for details and logs; never raises.

    Strings are shown as they are, anything else by a shortened ``repr``; an integer beyond the
    decimal conversion limit, or any value whose ``repr`` fails, is shown by its type and size.
    """
    try:
        text = value if type(value) is str else _REPR.repr(value)
    except Exception:
        try:
            text = f"<int of {value.bit_length()} bits>" if type(value) is int else f"<{type(value).__name__}>"
        except Exception:
            text = "<value>"
    return text[:limit]

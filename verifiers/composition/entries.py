"""Weighted verifier entries: parse ``verifier=[...]`` / ``extra_verifiers=[...]`` (validated, with
errors that name the bad entry) and build the verifier of each entry and the
:class:`~sppo_gym.verifiers.composition.composed.ComposedVerifier` of a list.

Host side only; envs (``register_task``, ``gymnasium.make(id, extra_verifiers=...)``) call it, and it
knows nothing about Gymnasium.

Entries (tuples or lists, so that they can come from JSON, e.g. ``--env-kwargs``)::

    (spec, weight)            spec: a built-in verifier name ("math", "format", ...),
                              a (name, options) pair, a callable (response, problem) -> float,
                              or a ready Verifier instance
    (name, weight, options)   shorthand for ((name, options), weight)

Weights are finite numbers > 0. The first entry of ``register_task(verifier=[...])`` is the
outcome verifier, which gates the others (see ``composition.composed``). For built-in envs,
``gym.make(id, extra_verifiers=[...], gate=True)`` composes the env's own verifier (weight 1,
the outcome) with the extra entries. Components are reported under their name ("math",
"format"; a callable under its ``__name__``), with ``_2``, ``_3`` ... appended to repeats.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..base import Verifier
from ..registry import BUILTIN, build_builtin
from .callable import CallableVerifier, SandboxedCallableVerifier
from .composed import Component, ComposedVerifier


@dataclass(frozen=True)
class Entry:
    """One validated entry: what to build (a built-in name, a callable or a Verifier) and its weight."""

    target: str | Callable | Verifier
    weight: float
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def base_label(self) -> str:
        if isinstance(self.target, str):
            return self.target
        if isinstance(self.target, Verifier):
            return self.target.name
        return getattr(self.target, "__name__", None) or type(self.target).__name__


def check_weight(weight: Any, where: str) -> float:
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight <= 0:
        raise ValueError(f"{where}: weight must be a finite number > 0, got {weight!r}")
    return float(weight)


def parse_entry(entry: Any, where: str) -> Entry:
    """Validate one entry (see module doc); ``where`` names it in errors."""
    if isinstance(entry, (str, bytes)) or not isinstance(entry, Sequence) or len(entry) not in (2, 3):
        raise TypeError(f"{where}: expected (verifier, weight) or (name, weight, options), got {entry!r:.120}")
    spec, weight = entry[0], entry[1]
    options: Any = entry[2] if len(entry) == 3 else {}
    if len(entry) == 3 and not isinstance(spec, str):
        raise TypeError(f"{where}: the (name, weight, options) form needs a built-in name first, got {spec!r:.80}")
    if not isinstance(spec, str) and isinstance(spec, Sequence) and len(spec) == 2 and isinstance(spec[0], str):
        spec, options = spec  # ((name, options), weight)
    weight = check_weight(weight, where)
    if not isinstance(options, Mapping):
        raise TypeError(f"{where}: options must be a dict of the verifier's keyword arguments, got {options!r:.80}")
    if isinstance(spec, str):
        if spec not in BUILTIN:
            raise ValueError(f"{where}: {spec!r} is not a built-in verifier; use one of {sorted(BUILTIN)}, "
                             "a callable (response, problem) -> float, or a Verifier")
        return Entry(spec, weight, dict(options))
    if options:
        raise TypeError(f"{where}: options apply to built-in verifier names only, not to {spec!r:.80}")
    if isinstance(spec, Verifier) or callable(spec):
        return Entry(spec, weight)
    raise TypeError(f"{where}: verifier must be a built-in name, a (name, options) pair, a callable or a "
                    f"Verifier, got {type(spec).__name__}")


def parse_entries(entries: Any, where: str) -> list[Entry]:
    """Validate a list of entries; each error names the entry by position and label."""
    if isinstance(entries, (str, bytes, Mapping)) or not isinstance(entries, Sequence) or not entries:
        raise TypeError(f"{where}: expected a non-empty list of (verifier, weight) entries, got {entries!r:.120}")
    out = []
    for i, entry in enumerate(entries):
        head = entry[0] if isinstance(entry, Sequence) and not isinstance(entry, (str, bytes)) and entry else entry
        label = head if isinstance(head, str) else getattr(head, "__name__", type(head).__name__)
        out.append(parse_entry(entry, f"{where}[{i}] ({label!r})"))
    return out


def build_entry(entry: Entry, *, label: str, max_chars: int, timeout_s: float | None, sandboxed: bool) -> Verifier:
    """The Verifier of one entry (callables run in-process, or in the sandbox with ``sandboxed``)."""
    if isinstance(entry.target, str):
        try:
            return build_builtin(entry.target, entry.options, max_chars=max_chars, timeout_s=timeout_s)
        except (TypeError, ValueError) as e:
            raise type(e)(f"{label}: {e}") from e
    if isinstance(entry.target, Verifier):
        return entry.target
    if sandboxed:
        return SandboxedCallableVerifier(entry.target, label=label, max_chars=max_chars, timeout_s=timeout_s)
    return CallableVerifier(entry.target, label=label, max_chars=max_chars)


def unique_labels(bases: Sequence[str]) -> list[str]:
    """``["format", "format"]`` -> ``["format", "format_2"]``."""
    seen: dict[str, int] = {}
    out = []
    for base in bases:
        seen[base] = seen.get(base, 0) + 1
        out.append(base if seen[base] == 1 else f"{base}_{seen[base]}")
    return out


def build_composed(entries: Sequence[Entry], *, gate: bool, max_chars: int, timeout_s: float | None,
                   sandboxed: bool = False, where: str = "verifier", prefix: Sequence[Component] = ()) -> ComposedVerifier:
    """Components for ``entries`` (after any ready ``prefix`` components), composed."""
    labels = unique_labels([c.label for c in prefix] + [e.base_label for e in entries])[len(prefix):]
    comps = list(prefix) + [
        Component(label, build_entry(e, label=f"{where} {label!r}", max_chars=max_chars, timeout_s=timeout_s,
                                     sandboxed=sandboxed), e.weight)
        for label, e in zip(labels, entries, strict=True)
    ]
    return ComposedVerifier(comps, gate=gate)


def check_gate(gate: Any, where: str) -> None:
    if gate is not None and not isinstance(gate, bool):
        raise TypeError(f"{where}: gate must be True (default: shaping terms count only when the outcome "
                        f"verifier passed), False, or None; got {gate!r}")


def with_extras(verifier: Verifier, extra_verifiers: Any, gate: bool | None, *, max_chars: int,
                timeout_s: float | None, where: str) -> Verifier:
    """The env's verifier composed with ``extra_verifiers`` (the env's own verifier, weight 1, is the outcome)."""
    check_gate(gate, where)
    if extra_verifiers is None or (isinstance(extra_verifiers, (list, tuple)) and not extra_verifiers):
        if gate is not None and not isinstance(verifier, ComposedVerifier):
            raise ValueError(f"{where}: gate={gate} applies to composed verifiers; add extra_verifiers=[...] "
                             "or leave gate unset")
        if gate is not None and isinstance(verifier, ComposedVerifier) and gate != verifier.gate:
            return ComposedVerifier(verifier.components, gate=gate)
        return verifier
    entries = parse_entries(extra_verifiers, f"{where}: extra_verifiers")
    if isinstance(verifier, ComposedVerifier):
        prefix = verifier.components
        gate = verifier.gate if gate is None else gate
    else:
        prefix = (Component(verifier.name, verifier, 1.0),)
    return build_composed(entries, gate=True if gate is None else gate, max_chars=max_chars, timeout_s=timeout_s,
                          where=f"{where}: extra_verifiers", prefix=prefix)

"""The no-work policies ``sppo-gym audit`` runs: answers that a reward must not pay for.

Every policy is a function ``(prompt, info) -> response`` (``None`` when it does not apply to that
prompt, e.g. "the second number" of a prompt with one number) that reads only the prompt (never
``info["answer"]``): it restates what the problem already says, answers a constant, or sends a
format with no content. A policy may also *claim* an answer (``claim(prompt, info) -> str``): the
bare content it puts forward (the restated number, the constant). When that claim happens to be
the reference answer, the item is a *coincidence* (a constant ``yes`` on a yes/no task, the
prompt's ``7`` when the answer is 7) and the audit leaves it out of the leak rate (see
``sppo_gym.trainer.evaluation.audit``).

The battery depends on the env's kind (the verifier behind it, read from ``env.unwrapped``):

* every kind: empty reply, the prompt echoed, format-only replies, each number / expression of the
  prompt and all of its numbers restated in every answer format the prompts ask for (plain,
  ``Answer: X``, ``\\boxed{X}``, ``<answer>X</answer>``, ``#### X``, and ``X = ?`` as a trained
  policy once learned to write), constant answers in those formats, maximal-length replies;
* code (``python_tests``, ``stdio``): the prompt echoed as code, ``pass``, the signature alone
  (body ``pass`` / ``...`` / ``return None``), constant returns, an early exit, a program that
  prints nothing or copies its input (also in the language a stdio prompt asks for: C++, Java,
  JavaScript, Go, Rust; ``audit_programs``);
* Coq: ``Admitted.``, ``admit.``, the statement restated as an ``Axiom`` (alone or used by the
  theorem), ``Parameter``, ``Abort.``;
* a verifier the audit does not know (a ``register_task`` callable): all of the above.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import audit_programs

Respond = Callable[[str, dict], "str | None"]  # None: the policy has nothing to say to this prompt
Claim = Callable[[str, dict], "str | None"]

#: Verifier names (``env.unwrapped.verifier.name``, or a composed verifier's outcome) -> battery kind.
KINDS: dict[str, str] = {
    "math": "answer", "exact": "answer", "reasoning_gym": "answer", "format": "answer",
    "python_tests": "code", "stdio": "code", "coq": "coq",
}

#: Answer formats: name -> (wrapper, a marker in the prompt that asks for it, or None = always used).
FORMATS: dict[str, tuple[Callable[[str], str], str | None]] = {
    "plain": (lambda x: x, None),
    "answer_line": (lambda x: f"Answer: {x}", "answer:"),
    "boxed": (lambda x: f"\\boxed{{{x}}}", "\\boxed"),
    "answer_tag": (lambda x: f"<answer>{x}</answer>", "<answer>"),
    "gsm8k": (lambda x: f"#### {x}", "####"),
    "question": (lambda x: f"{x} = ?", None),
}
#: Constant answers: numbers, yes/no, booleans, a multiple-choice letter (case variants where
#: scorers are case-sensitive).
CONSTANTS = ("0", "1", "-1", "yes", "no", "Yes", "No", "True", "False", "A")
#: The constants still sent (plain) to code and Coq envs, where each judgement costs a compile or a run.
CODE_CONSTANTS = ("const_0@plain", "const_1@plain", "const_True@plain")

_NUMBER = re.compile(r"(?<![\w.])[-−]?\d+(?:[.,]\d+)*(?:/\d+)?(?![\w])")
_ARITH_CHARS = r"[\d\s.+\-−*/×÷^()=<>]"
_ARITH = re.compile(rf"{_ARITH_CHARS}*\d{_ARITH_CHARS}*")
_OPERATOR = re.compile(r"\d\s*[-−+*/×÷^]\s*[\d(]|\)\s*[-+*/×÷^]")
_LATEX = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.S)
_FENCE = re.compile(r"```[a-zA-Z0-9_+-]*\n(.*?)```", re.S)
_DEF = re.compile(r"^(\s*def\s+(\w+)\s*\(.*?\)\s*(?:->\s*[^:]+)?:)", re.M | re.S)
_CALL = re.compile(r"`(\w+)\(([^`]*)\)`")
_NAMED_FN = re.compile(r"function\s+`(\w+)`")
_COQ_THM = re.compile(r"\b(?:Theorem|Lemma)\s+([\w']+)\s*:\s*(.+?)\.\s*\n```", re.S)


@dataclass(frozen=True)
class AuditPolicy:
    """One suspect: ``respond`` makes the reply; ``claim`` names the bare answer it offers, if any."""

    name: str
    family: str
    respond: Respond
    claim: Claim | None = None


# ----- what a prompt contains ----------------------------------------------------------------
def numbers(prompt: str) -> list[str]:
    """The numbers written in the prompt, in order (``1,000`` and ``3.5`` and ``2/3`` kept whole)."""
    return [m.group().replace("−", "-") for m in _NUMBER.finditer(prompt)]


def expressions(prompt: str) -> list[str]:
    """Math the prompt writes: LaTeX spans (``$...$``, ``\\(...\\)``) and plain arithmetic runs
    with an operator (``70 + 38``, ``(3 + 4) × 5``), in order of appearance."""
    found: list[tuple[int, str]] = []
    for m in _LATEX.finditer(prompt):
        text = next(g for g in m.groups() if g is not None).strip()
        if text:
            found.append((m.start(), text))
    plain = _LATEX.sub(lambda m: " " * len(m.group()), prompt)
    for m in _ARITH.finditer(plain):
        text = _balance(m.group().strip(" =<>.\n\t"))
        if _OPERATOR.search(text):
            found.append((m.start(), text))
    return [t for _, t in sorted(found)]


def _balance(text: str) -> str:
    """Trim unmatched parentheses from the ends of an arithmetic run."""
    while text.startswith(")") or (text.count("(") > text.count(")") and text.startswith("(")):
        text = text[1:].strip()
    while text.endswith("(") or (text.count(")") > text.count("(") and text.endswith(")")):
        text = text[:-1].strip()
    return text


def asked_formats(prompts: list[str], *, every: bool = False) -> list[str]:
    """The answer formats the prompts ask for (plain and ``X = ?`` always; all with ``every``)."""
    text = "\n".join(prompts).lower()
    return [name for name, (_, marker) in FORMATS.items() if every or marker is None or marker in text]


def env_kind(env: Any) -> str:
    """``answer``, ``code``, ``coq`` or ``unknown``, from the verifier behind ``env``."""
    verifier = getattr(getattr(env, "unwrapped", env), "verifier", None)
    outcome = getattr(verifier, "outcome", None)  # a composed verifier: its outcome component decides
    if outcome is not None:
        verifier = outcome.verifier
    return KINDS.get(str(getattr(verifier, "name", "")), "unknown")


# ----- the batteries --------------------------------------------------------------------------
def _pick(items: Callable[[str], list[str]], pos: int) -> Claim:
    def claim(prompt: str, info: dict) -> str | None:
        got = items(prompt)
        return got[pos] if -len(got) <= pos < len(got) else None
    return claim


def _longest(prompt: str) -> str | None:
    return max(expressions(prompt), key=len, default=None)


def _all_numbers(prompt: str) -> str | None:
    got = numbers(prompt)
    return ", ".join(got) if got else None


def _wrap(claim: Claim, fmt: str) -> Respond:
    wrap = FORMATS[fmt][0]

    def respond(prompt: str, info: dict) -> str | None:
        content = claim(prompt, info)
        return None if content is None else wrap(content)
    return respond


def _const(value: str) -> Claim:
    return lambda prompt, info: value


def answer_battery(formats: list[str], max_chars: int) -> list[AuditPolicy]:
    """Echo, empty, format-only, restated numbers / expressions, constants, maximal length."""
    contents: dict[str, Claim] = {
        "number_first": _pick(numbers, 0), "number_second": _pick(numbers, 1), "number_last": _pick(numbers, -1),
        "numbers_all": lambda p, i: _all_numbers(p),
        "expression_first": _pick(expressions, 0), "expression_last": _pick(expressions, -1),
        "expression_longest": lambda p, i: _longest(p),
    }
    out = [
        AuditPolicy("empty", "empty", lambda p, i: ""),
        AuditPolicy("echo_prompt", "echo", lambda p, i: p),
        AuditPolicy("echo_last_line", "echo", lambda p, i: p.strip().splitlines()[-1] if p.strip() else ""),
        AuditPolicy("echo_first_line", "echo", lambda p, i: p.strip().splitlines()[0] if p.strip() else ""),
    ]
    out += [AuditPolicy(f"format_only@{fmt}", "format", _wrap(_const(""), fmt)) for fmt in formats if fmt != "plain"]
    for name, claim in contents.items():
        out += [AuditPolicy(f"{name}@{fmt}", "restate", _wrap(claim, fmt), claim) for fmt in formats]
    for value in CONSTANTS:
        out += [AuditPolicy(f"const_{value}@{fmt}", "constant", _wrap(_const(value), fmt), _const(value))
                for fmt in formats if fmt != "question"]
    spray = _spray(max_chars)
    out += [
        AuditPolicy("max_length_numbers", "length", lambda p, i: spray),
        AuditPolicy("max_length_prompt", "length", lambda p, i: _fill(p + "\n", max_chars)),
    ]
    out += [AuditPolicy(f"max_length_numbers@{fmt}", "length", _fit(FORMATS[fmt][0], max_chars))
            for fmt in formats if fmt not in ("plain", "question")]
    return out


def _spray(max_chars: int) -> str:
    """Every integer from 0 upwards, space-separated, up to the longest reply the env accepts."""
    parts, size, i = [], 0, 0
    while size + len(str(i)) + 1 <= max_chars:
        parts.append(str(i))
        size += len(str(i)) + 1
        i += 1
    return " ".join(parts)


def _fill(text: str, max_chars: int) -> str:
    return (text * (max_chars // max(1, len(text)) + 1))[:max_chars] if text else ""


def _fit(wrap: Callable[[str], str], max_chars: int) -> Respond:
    body = _spray(max(0, max_chars - len(wrap(""))))
    return lambda p, i: wrap(body)


def code_battery() -> list[AuditPolicy]:
    """Replies that write no working code: echoes, stubs, constants, early exits, input copies."""
    def block(code: str) -> str:
        return f"```python\n{code.rstrip()}\n```"

    def stubs(body: str) -> Respond:
        def respond(prompt: str, info: dict) -> str | None:
            sigs = signatures(prompt)
            return block("\n\n".join(f"{sig}\n    {body}" for sig in sigs)) if sigs else None
        return respond

    out = [
        AuditPolicy("code_echo_prompt", "code", lambda p, i: block(p)),
        AuditPolicy("code_echo_blocks", "code", lambda p, i: block("\n".join(_FENCE.findall(p)) or p)),
        AuditPolicy("code_pass", "code", lambda p, i: block("pass")),
        AuditPolicy("code_signature_pass", "code", stubs("pass")),
        AuditPolicy("code_signature_ellipsis", "code", stubs("...")),
        AuditPolicy("code_signature_return_none", "code", stubs("return None")),
        AuditPolicy("code_exit_0", "code", lambda p, i: block("import sys\nsys.exit(0)")),
        AuditPolicy("code_os_exit_0", "code", lambda p, i: block("import os\nos._exit(0)")),
        AuditPolicy("code_print_nothing", "code", lambda p, i: block("print()")),
        AuditPolicy("code_copy_input", "code", lambda p, i: block("import sys\nsys.stdout.write(sys.stdin.read())")),
    ]
    for value in ("0", "1", "True", "False", "[]", "''"):
        out.append(AuditPolicy(f"code_return_{value}", "code", stubs(f"return {value}")))
        out.append(AuditPolicy(f"code_print_{value}", "code", lambda p, i, v=value: block(f"print({v})")))
    # stdio prompts that ask for another language (```cpp, ```java, ...): the same in that language
    for kind in ("nothing", "copy_input"):
        out.append(AuditPolicy(f"code_lang_{kind}", "code", lambda p, i, k=kind: audit_programs.program(p, k)))
    for value in audit_programs.CONSTANTS:
        out.append(AuditPolicy(f"code_lang_print_{value}", "code",
                               lambda p, i, v=value: audit_programs.program(p, "print", v)))
    return out


def signatures(prompt: str) -> list[str]:
    """``def`` lines for the functions the prompt names: its own ``def`` headers (HumanEval), else
    ``name(args)`` in backticks, else "function `name`" (any arguments)."""
    sigs = [m.group(1).strip() for block in _FENCE.findall(prompt) or [prompt] for m in _DEF.finditer(block)]
    sigs += [f"def {name}({args}):" for name, args in _CALL.findall(prompt) if not sigs]
    sigs += [f"def {name}(*args, **kwargs):" for name in _NAMED_FN.findall(prompt) if not sigs]
    return list(dict.fromkeys(sigs))


def coq_battery() -> list[AuditPolicy]:
    """Proofs that prove nothing: admitted, the statement assumed as an axiom, aborted."""
    def block(src: str) -> str:
        return f"```coq\n{src}\n```"

    def with_theorem(fmt: Callable[[str, str], str]) -> Respond:
        def respond(prompt: str, info: dict) -> str | None:
            m = _COQ_THM.search(prompt)
            return block(fmt(m.group(1), " ".join(m.group(2).split()))) if m else None
        return respond

    return [
        AuditPolicy("coq_admitted", "coq", lambda p, i: block("Admitted.")),
        AuditPolicy("coq_proof_admitted", "coq", lambda p, i: block("Proof.\nAdmitted.")),
        AuditPolicy("coq_admit", "coq", lambda p, i: block("admit.")),
        AuditPolicy("coq_proof_admit_qed", "coq", lambda p, i: block("Proof.\nadmit.\nQed.")),
        AuditPolicy("coq_qed", "coq", lambda p, i: block("Qed.")),
        AuditPolicy("coq_abort", "coq", lambda p, i: block("Proof.\nAbort.")),
        AuditPolicy("coq_axiom_restated", "coq", with_theorem(lambda n, s: f"Axiom {n} : {s}.")),
        AuditPolicy("coq_parameter_restated", "coq", with_theorem(lambda n, s: f"Parameter {n} : {s}.")),
        AuditPolicy("coq_axiom_then_exact", "coq", with_theorem(
            lambda n, s: f"Axiom {n}_ax : {s}.\nTheorem {n} : {s}.\nProof.\nexact {n}_ax.\nQed.")),
        AuditPolicy("coq_statement_admitted", "coq", with_theorem(lambda n, s: f"Theorem {n} : {s}.\nAdmitted.")),
        AuditPolicy("coq_echo_blocks", "coq", lambda p, i: block("\n".join(_FENCE.findall(p)) or p)),
    ]


def battery(kind: str, prompts: list[str], max_chars: int) -> list[AuditPolicy]:
    """The no-work policies for an env of ``kind`` whose prompts are ``prompts``."""
    unknown = kind == "unknown"
    out = answer_battery(asked_formats(prompts, every=unknown), max_chars)
    if kind in ("code", "coq"):  # judging is slow here: keep the answer battery's format-free part
        out = [p for p in out if (p.family in ("empty", "echo", "length") and "@" not in p.name)
               or p.name in CODE_CONSTANTS]
    if kind == "code" or unknown:
        out += code_battery()
    if kind == "coq" or unknown:
        out += coq_battery()
    return out

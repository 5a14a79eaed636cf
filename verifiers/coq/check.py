"""The Coq backend: build the candidate file, compile it, check it from a trusted file, coqchk it.

Why each step is shaped the way it is (see also docs/COQ.md):

* **Trusted preamble.** Preamble sentences that only load libraries (``Require``, ``Import``,
  ``Open Scope`` ...) are repeated verbatim at the top of the candidate and the check file. A
  preamble that defines anything is compiled on its own, from task data only, into ``Sppo.Pre``
  *before* the candidate exists; both files then ``Require Import Sppo.Pre``. The candidate can
  shadow those names in its own file but cannot change what ``Sppo.Pre.double`` means.
* **Candidate.** ``Cand.v`` is the header plus either ``Theorem <name> : <statement>.`` with the
  response as its proof script, or the response itself when it states ``<name>`` (helper lemmas
  allowed). ``coqc`` runs as an untrusted candidate with time/memory limits.
* **Trusted check.** ``Verdict.v`` elaborates the reference statement from the header *before*
  loading the candidate, then ``Require``s (never ``Import``s) ``Sppo.Cand`` and type-checks
  ``@Sppo.Cand.<name>`` against it. Notations, coercions, instances or options of the candidate
  cannot change the statement, which is a closed kernel term by then. Whatever elaboration does
  to ``@Sppo.Cand.<name>``, the result is a kernel-checked term of the reference type, and
  ``Print Assumptions`` of *that term* must be closed (or list only allowed axioms). The type
  check is up to conversion: a candidate stating ``5 = 5`` for ``2 + 3 = 5`` proves it.
* **coqchk** re-checks ``Sppo.Cand``/``Sppo.Verdict`` (and ``Sppo.Pre``) with the independent
  checker and lists axioms by their fully qualified names: none may live in the candidate, and no
  constant may rely on disabled guard, positivity or universe checking.
"""

from __future__ import annotations

from .backend import LIMIT_VERDICTS, Outcome, ProofBackend, ProofTask, Runner, StepResult
from .screen import Rejection, screen, sentences, split_preamble, states_theorem

COQC = ("coqc", "-q", "-w", "-all", "-native-compiler", "no", "-Q", ".", "Sppo")
COQCHK = ("coqchk", "-silent", "-o", "-Q", ".", "Sppo")
CLOSED = "Closed under the global context"
STATEMENT_DEF = "__sppo_statement"
CHECK_DEF = "__sppo_check"
_UNSAFE_SECTIONS = (
    "Constants/Inductives relying on type-in-type",
    "Constants/Inductives relying on unsafe (co)fixpoints",
    "Inductives whose positivity is assumed",
)


def clean_statement(statement: str) -> str:
    """The statement as one Coq term (a trailing period dropped); refuse multi-sentence text."""
    text = statement.strip()
    if text.endswith("."):
        text = text[:-1].rstrip()
    if len(sentences(text + ".")) != 1:
        raise ValueError(f"statement must be a single Coq term, got {statement[:80]!r}")
    return text


def candidate_source(task: ProofTask, source: str, header: str) -> tuple[str, str]:
    """(Cand.v, mode): the response's own source if it states the theorem, else a proof script."""
    sents = sentences(source)
    if states_theorem(sents, task.name):
        return f"{header}\n{source}\n", "source"
    opening = "" if sents and sents[0].command == "Proof" else "Proof.\n"
    closing = "" if sents and sents[-1].command in ("Qed", "Defined") else "\nQed."
    stmt = clean_statement(task.statement)
    return f"{header}\nTheorem {task.name} : {stmt}.\n{opening}{source}{closing}\n", "script"


def verdict_source(task: ProofTask, header: str) -> str:
    """The trusted check file: statement first, candidate loaded afterwards, never imported."""
    stmt = clean_statement(task.statement)
    return (
        f"{header}\n"
        f"Definition {STATEMENT_DEF} : Type := ({stmt}).\n"
        "Require Sppo.Cand.\n"
        f"Definition {CHECK_DEF} : {STATEMENT_DEF} := @Sppo.Cand.{task.name}.\n"
        f'Redirect "assumptions" Print Assumptions {CHECK_DEF}.\n'
    )


def parse_assumptions(text: str) -> list[str]:
    """Entries of ``Print Assumptions`` output: ``[]`` when closed; else one line per entry, with the
    indented lines Coq wraps a long entry onto joined back (``name : type`` stays one string)."""
    text = text.strip()
    if text == CLOSED:
        return []
    entries: list[str] = []
    for ln in text.splitlines():
        if ln[:1].isspace() and ln.strip() and entries:
            entries[-1] += " " + " ".join(ln.split())
        elif ln.strip() and ln.strip() != "Axioms:":
            entries.append(" ".join(ln.split()))
    return entries or [f"unrecognised Print Assumptions output: {text[:100]!r}"]


def axiom_allowed(entry: str, allowed: tuple[str, ...] | list[str]) -> bool:
    """``name : type`` with ``name`` a (dot-)suffix of an allowed fully qualified name."""
    name, sep, _ = entry.partition(" : ")
    if not sep or " " in name:
        return False  # "x is assumed to be guarded.", "... relies on an unsafe hierarchy."
    return any(full == name or full.endswith("." + name) for full in allowed)


def parse_coqchk(text: str) -> tuple[list[str], list[str]]:
    """(axioms, unsafe): fully qualified axiom names and unsafe-constant lines of ``coqchk -o``."""
    sections: dict[str, list[str]] = {}
    cur: str | None = None
    for line in text.splitlines():
        if line.startswith("* "):
            head, _, rest = line[2:].partition(":")
            cur = head.strip()
            sections[cur] = [] if rest.strip() in ("", "<none>") else [rest.strip()]
        elif cur is not None and line.strip():
            sections[cur].append(line.strip())
    if "Axioms" not in sections or any(s not in sections for s in _UNSAFE_SECTIONS):
        return [], [f"unrecognised coqchk output: {text[-200:]!r}"]
    unsafe = [f"{s}: {x}" for s in _UNSAFE_SECTIONS for x in sections[s]]
    return sections["Axioms"], unsafe


class CoqBackend(ProofBackend):
    """Coq 8.16 via ``coqc`` and ``coqchk``, each run as an untrusted sandbox candidate."""

    name = "coq"

    def screen(self, source: str) -> Rejection | None:
        return screen(source)

    def check(self, task: ProofTask, source: str, runner: Runner) -> Outcome:
        header, needs_module = split_preamble(task.preamble)
        steps: dict[str, float] = {}
        files: dict[str, bytes | str] = {}
        if needs_module:
            pre = self._step(runner, "preamble", {"Pre.v": task.preamble}, (*COQC, "Pre.v"), ("Pre.vo",),
                             task.check_timeout_s, steps)
            if not pre.ok or "Pre.vo" not in pre.files:
                return Outcome("judge_error", f"the task's preamble does not compile: {pre.tail()}", {"steps": steps})
            files["Pre.vo"] = pre.files["Pre.vo"]
            header = f"Require Import Sppo.Pre.\n{header}"
        cand_v, mode = candidate_source(task, source, header)
        extra = {"mode": mode, "steps": steps}
        left = runner.time_left()  # keep time for the statement check and coqchk after the compile
        budget = max(1.0, min(task.compile_timeout_s, left - min(2 * task.check_timeout_s, left / 2)))
        comp = self._step(runner, "compile", {**files, "Cand.v": cand_v}, (*COQC, "Cand.v"), ("Cand.vo",),
                          budget, steps)
        if comp.limit:
            return Outcome(LIMIT_VERDICTS[comp.limit], f"coqc: {comp.limit} limit", extra)
        if not comp.ok or "Cand.vo" not in comp.files:
            return Outcome("compile_error", comp.tail(), extra)
        files["Cand.vo"] = comp.files["Cand.vo"]
        ver = self._step(runner, "statement", {**files, "Verdict.v": verdict_source(task, header)},
                         (*COQC, "Verdict.v"), ("Verdict.vo", "assumptions.out"), task.check_timeout_s, steps)
        if ver.limit:
            return Outcome(LIMIT_VERDICTS[ver.limit], f"statement check: {ver.limit} limit", extra)
        if not ver.ok or "assumptions.out" not in ver.files or "Verdict.vo" not in ver.files:
            return Outcome("statement_mismatch", _mismatch_detail(task, ver), extra)
        files["Verdict.vo"] = ver.files["Verdict.vo"]
        return self._audit(task, runner, files, ver.files["assumptions.out"].decode("utf-8", "replace"), extra)

    def _audit(self, task: ProofTask, runner: Runner, files: dict[str, bytes | str], printed: str,
               extra: dict) -> Outcome:
        """coqchk re-check, then the axiom verdict from Print Assumptions and coqchk together."""
        mods = [m for m in ("Pre", "Cand", "Verdict") if f"{m}.vo" in files]
        argv = list(COQCHK)
        for m in mods:
            argv += ["-norec", f"Sppo.{m}"]
        chk = self._step(runner, "coqchk", files, tuple(argv), (), task.check_timeout_s, extra["steps"])
        if chk.limit:
            return Outcome(LIMIT_VERDICTS[chk.limit], f"coqchk: {chk.limit} limit", extra)
        if not chk.ok:
            return Outcome("compile_error", f"coqchk rejected the compiled proof: {chk.tail()}", extra)
        axioms, unsafe = parse_coqchk(chk.stdout + "\n" + chk.stderr)  # the summary goes to stderr
        own = [a for a in axioms if a.startswith(("Sppo.Cand.", "Sppo.Verdict."))]
        if unsafe or own:
            return Outcome("uses_axioms", "; ".join(unsafe + [f"axiom {a}" for a in own])[:400], extra)
        allowed = list(task.allowed_axioms) + [a for a in axioms if a.startswith("Sppo.Pre.")]
        bad = [e for e in parse_assumptions(printed) if not axiom_allowed(e, allowed)]
        if bad:
            return Outcome("uses_axioms", "depends on: " + "; ".join(bad)[:380], extra)
        return Outcome("proved", "", extra)

    @staticmethod
    def _step(runner: Runner, label: str, files: dict[str, bytes | str], argv: tuple[str, ...],
              outputs: tuple[str, ...], timeout: float, steps: dict[str, float]) -> StepResult:
        res = runner.run(list(argv), files, timeout=min(timeout, max(0.1, runner.time_left())), outputs=outputs)
        steps[label] = round(res.seconds, 3)
        return res


def _mismatch_detail(task: ProofTask, res: StepResult) -> str:
    text = res.tail(800)
    if f"Sppo.Cand.{task.name} was not found" in text:
        return f"the candidate does not define {task.name!r}"
    if "inconsistent assumptions" in text:
        return f"the compiled candidate does not match the trusted preamble: {text[-300:]}"
    return f"{task.name!r} does not have the reference type: {text[-300:]}"

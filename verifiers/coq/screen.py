"""Textual screen of candidate Coq source: lex it the way Coq does, then refuse forbidden commands.

Coq has no security model (docs/THREAT_MODEL.md, principle 7), so the screen is the first line: it gives a
clear ``rejected_command`` verdict naming the command. It is not the last line: the trusted check
(``coq.check``) still proves that the theorem has the reference type and depends on no axiom,
whatever slipped past here.

The lexer follows Coq 8.16: comments ``(* ... *)`` nest and contain string literals (a ``*)``
inside a string in a comment does not close it); strings are ``"..."`` with ``""`` as the escaped
quote; a sentence ends at a ``.`` followed by a blank or the end of input (``I.Qed`` is one
qualified name, ``Qed.(`` is no terminator). Where the lexer cannot finish (an unterminated
comment or string) Coq would refuse the file too, so we refuse it first.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass

#: Words that may not appear anywhere as a token (identifiers, keywords, tactic names).
FORBIDDEN_TOKENS: dict[str, str] = {
    "Admitted": "Admitted leaves the theorem unproved (an axiom)",
    "admit": "admit closes a goal without proof",
    "give_up": "give_up closes a goal without proof",
    "Admit": "Admit Obligations turns obligations into axioms",
    "Abort": "Abort drops the stated theorem (restating a different one is not allowed)",
    "Axiom": "declares an axiom", "Axioms": "declares axioms",
    "Parameter": "declares an axiom", "Parameters": "declares axioms",
    "Hypothesis": "declares an axiom", "Hypotheses": "declares axioms",
    "Conjecture": "declares an axiom", "Conjectures": "declares axioms",
    "Redirect": "writes files", "Load": "reads other files",
    "Cd": "changes directory", "Drop": "leaves the toplevel", "Quit": "ends the session",
    "Reset": "rewinds the document", "Back": "rewinds the document", "BackTo": "rewinds the document",
    "Extraction": "writes files", "Extract": "extraction directive",
    "LoadPath": "changes the load path", "bypass_check": "disables kernel checks",
    "native_compute": "runs generated native code", "native_cast_no_check": "runs generated native code",
    "NativeCompute": "native compilation setting",
    "Primitive": "binds kernel primitives", "Register": "rebinds kernel-known constants",
}

#: Option names (token sequences) whose Set/Unset/Test changes what the kernel checks.
FORBIDDEN_FLAGS: tuple[tuple[str, ...], ...] = (
    ("Guard", "Checking"),
    ("Positivity", "Checking"),
    ("Universe", "Checking"),
    ("Definitional", "UIP"),
)

#: Declarations that are axioms outside a Section (Coq makes them local axioms there).
SECTION_ONLY = frozenset({"Variable", "Variables", "Context"})

#: Commands that open or close a Section or Module: the screen follows the nesting they build.
NESTING_COMMANDS = frozenset({"Section", "Module", "End"})

#: Modifiers that run a command and then undo its effect on the document.
REVERTING = frozenset({"Fail", "Succeed"})

#: ``Declare`` forms that declare nothing the kernel has to trust.
DECLARE_OK = frozenset({"Scope", "Custom", "Reduction"})

#: Keywords that introduce a named proof (full-source mode looks for ``<kw> <name>``).
THEOREM_KEYWORDS = frozenset({
    "Theorem", "Lemma", "Fact", "Remark", "Corollary", "Proposition", "Property", "Example", "Definition",
})

#: Preamble sentences repeated at the top of the candidate and check files (they declare nothing).
HEADER_COMMANDS = frozenset({"Require", "From", "Import", "Export", "Open"})

#: Leading modifiers skipped to find a sentence's command word (``Timeout n`` is handled apart).
MODIFIERS = frozenset({
    "Local", "Global", "Polymorphic", "Monomorphic", "Cumulative", "NonCumulative",
    "Private", "Program", "Fail", "Succeed", "Time", "Instructions",
})

_BLANKS = " \t\n\r\f"
_QUALID_RE = re.compile(r"[^\W\d][\w']*(?:\.[^\W\d][\w']*)*")
_NUM_RE = re.compile(r"\d[\d_]*")
_SELECTOR_WORDS = frozenset({"all", "par", "!", "-", ",", "[", "]"})


class LexError(ValueError):
    """The source cannot be tokenised (Coq would refuse it as well)."""


@dataclass(frozen=True)
class Token:
    kind: str  # "id" | "str" | "num" | "punct" | "end" (a sentence-ending period)
    text: str
    start: int


@dataclass(frozen=True)
class Sentence:
    """One vernacular sentence: its tokens (comments dropped) and its span in the source."""

    tokens: tuple[Token, ...]
    start: int
    end: int  # just past the terminating period (or the end of input)

    @property
    def words(self) -> list[str]:
        return [t.text for t in self.tokens]

    def head(self) -> tuple[list[str], list[str], int]:
        """(attributes, modifiers, index of the command word) after bullets and selectors."""
        toks = self.tokens
        attrs: list[str] = []
        mods: list[str] = []
        i = _skip_structure(toks)
        while i < len(toks):
            t = toks[i]
            if t.text == "#" and i + 1 < len(toks) and toks[i + 1].text == "[":
                i, depth = i + 2, 1
                while i < len(toks) and depth:
                    depth += {"[": 1, "]": -1}.get(toks[i].text, 0)
                    if toks[i].kind == "id":
                        attrs.append(toks[i].text)
                    i += 1
            elif t.kind == "id" and t.text in MODIFIERS:
                mods.append(t.text)
                i += 1
            elif t.text == "Timeout" and i + 1 < len(toks) and toks[i + 1].kind == "num":
                mods.append("Timeout")
                i += 2
            else:
                break
        return attrs, mods, i

    @property
    def command(self) -> str:
        """The command word ("" when the sentence is only structure)."""
        i = self.head()[2]
        return self.tokens[i].text if i < len(self.tokens) else ""


def _skip_structure(toks: tuple[Token, ...]) -> int:
    """Index after leading bullets (- + *), braces and goal selectors (``2:``, ``all:``, ``[x]:``)."""
    i = 0
    while i < len(toks):
        if toks[i].text in ("-", "+", "*", "{", "}"):
            i += 1
            continue
        colon = next((k for k in range(i, min(i + 8, len(toks))) if toks[k].text == ":"), None)
        inside = toks[i:colon] if colon is not None else ()
        if inside and all(x.kind == "num" or x.text in _SELECTOR_WORDS for x in inside):
            i = colon + 1
            continue
        if inside and toks[i].text == "[" and inside[-1].text == "]":
            i = colon + 1
            continue
        return i
    return i


def _skip_string(src: str, i: int) -> int:
    """``src[i]`` is an opening quote; return the index after the closing one (``""`` escapes)."""
    j = i + 1
    while True:
        k = src.find('"', j)
        if k < 0:
            raise LexError(f"unterminated string starting at offset {i}")
        if src.startswith('""', k):
            j = k + 2
            continue
        return k + 1


def _skip_comment(src: str, i: int) -> int:
    """``src[i:i+2] == '(*'``; return the index after the matching ``*)`` (comments nest)."""
    depth, j = 0, i
    while j < len(src):
        if src.startswith("(*", j):
            depth += 1
            j += 2
        elif src.startswith("*)", j):
            depth -= 1
            j += 2
            if depth == 0:
                return j
        elif src[j] == '"':
            j = _skip_string(src, j)
        else:
            j += 1
    raise LexError(f"unterminated comment starting at offset {i}")


def tokens(src: str) -> Iterator[Token]:
    """Tokens of ``src`` (comments dropped); a sentence-ending period is a token of kind "end"."""
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if c.isspace():
            i += 1
        elif src.startswith("(*", i):
            i = _skip_comment(src, i)
        elif c == '"':
            j = _skip_string(src, i)
            yield Token("str", src[i:j], i)
            i = j
        elif c == "." and (i + 1 == n or src[i + 1] in _BLANKS):
            yield Token("end", ".", i)
            i += 1
        elif m := _QUALID_RE.match(src, i):
            yield Token("id", m.group(), i)
            i = m.end()
        elif m := _NUM_RE.match(src, i):
            yield Token("num", m.group(), i)
            i = m.end()
        else:
            yield Token("punct", c, i)
            i += 1


def sentences(src: str) -> list[Sentence]:
    """Split ``src`` into sentences (raises ``LexError`` where Coq's lexer would fail)."""
    out: list[Sentence] = []
    cur: list[Token] = []
    for tok in tokens(src):
        if tok.kind == "end":
            if cur:
                out.append(Sentence(tuple(cur), cur[0].start, tok.start + 1))
            cur = []
        else:
            cur.append(tok)
    if cur:
        out.append(Sentence(tuple(cur), cur[0].start, len(src)))
    return out


@dataclass(frozen=True)
class Rejection:
    """Why the source is refused before any Coq process runs."""

    verdict: str  # "rejected_command" or "compile_error" (the source does not even lex)
    command: str
    reason: str

    @property
    def detail(self) -> str:
        if self.verdict == "compile_error":
            return self.reason
        return f"forbidden command {self.command!r}: {self.reason}"


def screen(src: str) -> Rejection | None:
    """``None`` if ``src`` passes the screen, else the first reason to refuse it."""
    try:
        sents = sentences(src)
    except LexError as e:
        return Rejection("compile_error", "", str(e))
    stack: list[str] = []
    for sent in sents:
        found = _screen_tokens(sent) or _screen_sentence(sent, stack)
        if found:
            return found
    return None


def _screen_tokens(sent: Sentence) -> Rejection | None:
    """Forbidden words anywhere, option names, ``Declare``/``ML``/``@external`` forms."""
    toks = sent.tokens
    for k, tok in enumerate(toks):
        if tok.kind != "id":
            continue
        for part in tok.text.split("."):
            if part in FORBIDDEN_TOKENS:
                return Rejection("rejected_command", part, FORBIDDEN_TOKENS[part])
        nxt = toks[k + 1].text if k + 1 < len(toks) else ""
        if tok.text == "Declare" and nxt not in DECLARE_OK:
            return Rejection("rejected_command", f"Declare {nxt}".strip(),
                             "declares an axiom or loads a plugin (only Declare Scope/Custom Entry/Reduction)")
        if tok.text == "ML":
            return Rejection("rejected_command", "ML", "loads OCaml plugins or changes the ML path")
        if tok.text == "external" and k and toks[k - 1].text == "@":
            return Rejection("rejected_command", "@external", "binds Ltac2 to OCaml functions")
        for flag in FORBIDDEN_FLAGS:
            if tuple(t.text for t in toks[k:k + len(flag)]) == flag:
                return Rejection("rejected_command", " ".join(flag), "changes what the kernel checks")
    return None


def _screen_sentence(sent: Sentence, stack: list[str]) -> Rejection | None:
    """Command-level rules: section-only declarations, Include, global options; tracks Section/Module
    nesting (and refuses what would put the tracked nesting out of step with Coq's)."""
    attrs, mods, i = sent.head()
    words = sent.words
    cmd = words[i] if i < len(words) else ""
    rest = words[i + 1:]
    if cmd in NESTING_COMMANDS and REVERTING & set(mods):
        # Coq undoes the command, so the nesting the screen follows would no longer be Coq's:
        # ``Succeed Section S.`` then ``Variable v : False.`` declares a top-level axiom.
        mod = next(m for m in mods if m in REVERTING)
        return Rejection("rejected_command", f"{mod} {cmd}", "the section or module it opens or closes is undone")
    if cmd == "Include" or (cmd == "Module" and _includes(sent.tokens[i:])):
        # A library module type's Parameter/Axiom fields become fields of the candidate's module:
        # axioms no forbidden word names (``Include Coq.Logic.ProofIrrelevanceFacts.ProofIrrelevance``).
        return Rejection("rejected_command", "Include" if cmd == "Include" else "<+",
                         "includes a module type's fields, so its axioms would become the candidate's")
    if cmd == "Section":
        stack.append("section")
    elif cmd == "Module" and ":=" not in "".join(rest):
        stack.append("module")
    elif cmd == "End" and stack:
        stack.pop()
    elif cmd in SECTION_ONLY and (not stack or stack[-1] != "section"):
        return Rejection("rejected_command", cmd, "outside a Section this declares an axiom")
    elif cmd in ("Set", "Unset") and ("Global" in mods or {"global", "export"} & set(attrs)):
        return Rejection("rejected_command", f"Global {cmd}", "options must stay local to the candidate file")
    elif cmd == "Export" and rest[:1] and rest[0] in ("Set", "Unset"):
        return Rejection("rejected_command", f"Export {rest[0]}", "options must stay local to the candidate file")
    return None


def _includes(toks: tuple[Token, ...]) -> bool:
    """Whether a Module sentence uses ``<+`` (``Module M := A <+ B`` includes A and B)."""
    return any(a.text == "<" and b.text == "+" and b.start == a.start + 1 for a, b in itertools.pairwise(toks))


def states_theorem(sents: list[Sentence], name: str) -> bool:
    """Whether the source itself states ``<Theorem|Lemma|...> name`` (full-source mode)."""
    for sent in sents:
        _, _, i = sent.head()
        words = sent.words
        if i + 1 < len(words) and words[i] in THEOREM_KEYWORDS and words[i + 1] == name:
            return True
    return False


def split_preamble(preamble: str) -> tuple[str, bool]:
    """(header, has_definitions): the preamble's Require/Import/Open sentences, verbatim, and
    whether anything else is left (then the preamble is compiled as its own trusted module)."""
    header: list[str] = []
    other = False
    for sent in sentences(preamble):
        if sent.command in HEADER_COMMANDS and not sent.head()[0]:
            header.append(preamble[sent.start:sent.end])
        else:
            other = True
    return "\n".join(header), other

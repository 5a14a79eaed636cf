"""Format verifier: checks the FORM of a response (never its correctness), in-process on the host.

Meant as a shaping term next to an outcome verifier (see ``compose``), or alone. Each enabled
check passes or fails; the reward is the fraction of enabled checks that pass, or 1/0 with
``all_or_nothing=True``. Verdict ``passed`` when every check passes, else ``bad_format`` (the
detail names the failed checks, ``extra["checks"]`` maps each check to True/False).

Options (at least one check must be enabled):

* ``answer_pattern``: where the final answer must appear --
  ``"answer_line"``: the last non-empty line is a final-answer statement, ``Answer: X`` or
  ``Final answer: X`` (any case, markdown bold allowed: ``**Answer:** X``), with non-empty X;
  ``"boxed"``: a ``\\boxed{...}`` (or ``\\fbox{...}``) with balanced braces and non-empty content;
  ``"code_block"``: a closed fenced code block (```` ``` ```` ... ```` ``` ````), optionally tagged
  with one of ``code_language`` (a str or list of str, compared case-insensitively).
* ``answer_regex``: your own regular expression (str or compiled), searched in the answer part
  with ``re.MULTILINE``; run by the ``regex`` module with a time limit (``regex_timeout_s``,
  default 0.5 s) so that a pattern prone to catastrophic backtracking cannot stall training: a
  search that runs out of time counts as a failed check. Exclusive with ``answer_pattern``.
* ``char_limit`` / ``word_limit``: the whole response has at most this many characters /
  whitespace-separated words.
* ``think``: the response opens with a closed reasoning block, ``<think>...</think>``, exactly one
  of each tag, followed by a non-empty answer. ``think_tags=(open, close)`` changes the tags.
  With ``think``, the answer checks look only at the text after the closing tag.

Everything is string scanning in linear time (no nested quantifiers over the response), so an
adversarial response -- 64k unclosed braces or fences, nested tags -- is judged promptly.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, ClassVar

import regex
from sppo_gym.sandbox import Limits

from ..base import MAX_RESPONSE_CHARS, Verifier, precheck
from ..math.extract import brace_partners
from ..score import Score

ANSWER_PATTERNS = ("answer_line", "boxed", "code_block")
_ANSWER_LINE = re.compile(r"(?:\*\*|__)?[ \t]*(?:final[ \t]+)?answer[ \t]*(?:\*\*|__)?[ \t]*:", re.IGNORECASE)
_BOX = re.compile(r"\\(?:boxed|fbox)[ \t]*\{")
_FENCE = re.compile(r" {0,3}(`{3,})")


def _positive_int(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"format verifier: {name} must be a positive int or None, got {value!r}")
    return value


def has_boxed(text: str) -> bool:
    """A ``\\boxed{...}`` with balanced braces and non-empty content, anywhere in ``text``."""
    pairs = brace_partners(text) if "\\" in text else {}
    for m in _BOX.finditer(text):
        close = pairs.get(m.end() - 1)
        if close is not None and text[m.end() : close].strip():
            return True
    return False


def has_answer_line(text: str) -> bool:
    """The last non-empty line is ``Answer: X`` / ``Final answer: X`` with a non-empty X."""
    last = text.rstrip().rpartition("\n")[2].strip()
    m = _ANSWER_LINE.match(last)
    return bool(m and last[m.end() :].strip(" \t*_"))


def has_code_block(text: str, languages: frozenset[str] | None) -> bool:
    """A closed fenced block (CommonMark-style fences), tagged with one of ``languages`` if given."""
    opened: tuple[int, str] | None = None  # (fence length, tag) of the open block
    for line in text.splitlines():
        m = _FENCE.match(line)
        if not m:
            continue
        rest = line[m.end() :].strip()
        if opened is None:
            if "`" not in rest:
                opened = (len(m.group(1)), rest.split(maxsplit=1)[0].lower() if rest else "")
        elif not rest and len(m.group(1)) >= opened[0]:
            if languages is None or opened[1] in languages:
                return True
            opened = None
    return False


class FormatVerifier(Verifier):
    """Checks of the response's form (answer placement, length, reasoning block); see module doc."""

    name: ClassVar[str] = "format"
    entry: ClassVar[str | None] = None

    def __init__(self, *, answer_pattern: str | None = None, answer_regex: str | re.Pattern | None = None,
                 code_language: str | Sequence[str] | None = None, char_limit: int | None = None,
                 word_limit: int | None = None, think: bool = False,
                 think_tags: Sequence[str] = ("<think>", "</think>"), all_or_nothing: bool = False,
                 regex_timeout_s: float = 0.5, limits: Limits | None = None,
                 max_chars: int = MAX_RESPONSE_CHARS) -> None:
        super().__init__(limits=limits, max_chars=max_chars)  # max_chars: the env's response limit (precheck)
        if answer_pattern is not None and answer_pattern not in ANSWER_PATTERNS:
            raise ValueError(f"format verifier: answer_pattern must be one of {list(ANSWER_PATTERNS)} or None, got "
                             f"{answer_pattern!r}; for your own pattern pass answer_regex='...'")
        if answer_pattern is not None and answer_regex is not None:
            raise ValueError("format verifier: pass answer_pattern or answer_regex, not both")
        if code_language is not None and answer_pattern != "code_block":
            raise ValueError("format verifier: code_language applies to answer_pattern='code_block'")
        self.answer_pattern = answer_pattern
        self.answer_regex = self._compile(answer_regex)
        self.languages = self._languages(code_language)
        self.char_limit = _positive_int("char_limit", char_limit)
        self.word_limit = _positive_int("word_limit", word_limit)
        if not isinstance(think, bool) or not isinstance(all_or_nothing, bool):
            raise TypeError(f"format verifier: think and all_or_nothing must be bool, got {think!r}, {all_or_nothing!r}")
        if (isinstance(think_tags, str) or len(think_tags) != 2
                or not all(isinstance(t, str) and t.strip() for t in think_tags) or think_tags[0] == think_tags[1]):
            raise ValueError(f"format verifier: think_tags must be two different non-empty str (open, close), got {think_tags!r}")
        if isinstance(regex_timeout_s, bool) or not isinstance(regex_timeout_s, (int, float)) or not 0 < regex_timeout_s <= 60:
            raise ValueError(f"format verifier: regex_timeout_s must be a number of seconds in (0, 60], got {regex_timeout_s!r}")
        self.think, self.think_tags, self.all_or_nothing = think, tuple(think_tags), all_or_nothing
        self.regex_timeout_s = float(regex_timeout_s)
        if not self.checks_enabled():
            raise ValueError("format verifier: no check enabled; set answer_pattern, answer_regex, char_limit, "
                             "word_limit or think=True")

    @staticmethod
    def _compile(pattern: str | re.Pattern | None) -> regex.Pattern | None:
        if pattern is None:
            return None
        flags = regex.MULTILINE
        if isinstance(pattern, re.Pattern):
            pattern, flags = pattern.pattern, flags | (pattern.flags & (re.IGNORECASE | re.DOTALL | re.VERBOSE))
        if not isinstance(pattern, str) or not pattern:
            raise TypeError(f"format verifier: answer_regex must be a non-empty str or re.Pattern, got {pattern!r}")
        try:
            return regex.compile(pattern, flags)
        except regex.error as e:
            raise ValueError(f"format verifier: answer_regex {pattern!r} does not compile: {e}") from None

    @staticmethod
    def _languages(code_language: str | Sequence[str] | None) -> frozenset[str] | None:
        if code_language is None:
            return None
        langs = [code_language] if isinstance(code_language, str) else list(code_language)
        if not langs or not all(isinstance(x, str) and x.strip() and " " not in x.strip() for x in langs):
            raise ValueError(f"format verifier: code_language must be a tag like 'python' or a list of tags, got {code_language!r}")
        return frozenset(x.strip().lower() for x in langs)

    def checks_enabled(self) -> list[str]:
        """Names of the enabled checks, in the order they are reported."""
        names = ["think"] if self.think else []
        names += [self.answer_pattern] if self.answer_pattern else []
        names += ["answer_regex"] if self.answer_regex is not None else []
        names += ["char_limit"] if self.char_limit else []
        names += ["word_limit"] if self.word_limit else []
        return names

    def payload(self, response: str, problem: dict) -> dict:
        """What the checks read (they run in-process; no judge): the response alone."""
        return {"response": response}

    def verify_batch(self, items: Sequence[tuple[str, dict]]) -> list[Score]:
        return [precheck(r, self.max_chars) or self.score(r) for r, _ in items]

    def score(self, response: str) -> Score:
        """Run every enabled check on one response."""
        checks, answer = {}, response
        if self.think:
            checks["think"], answer = self._think(response)
        if self.answer_pattern == "answer_line":
            checks["answer_line"] = has_answer_line(answer)
        elif self.answer_pattern == "boxed":
            checks["boxed"] = has_boxed(answer)
        elif self.answer_pattern == "code_block":
            checks["code_block"] = has_code_block(answer, self.languages)
        notes = []
        if self.answer_regex is not None:
            try:
                checks["answer_regex"] = self.answer_regex.search(answer, timeout=self.regex_timeout_s) is not None
            except TimeoutError:
                checks["answer_regex"] = False
                notes.append(f"answer_regex timed out after {self.regex_timeout_s:g} s")
        if self.char_limit:
            checks["char_limit"] = len(response) <= self.char_limit
        if self.word_limit:
            checks["word_limit"] = len(response.split()) <= self.word_limit
        failed = [k for k, ok in checks.items() if not ok]
        frac = 1.0 - len(failed) / len(checks)
        reward = float(not failed) if self.all_or_nothing else frac
        detail = "; ".join(([f"failed: {', '.join(failed)}"] if failed else ["all format checks passed"]) + notes)
        return Score(reward, "bad_format" if failed else "passed", passed=not failed, detail=detail,
                     extra={"checks": checks})

    def _think(self, response: str) -> tuple[bool, str]:
        """(closed reasoning block at the start, text after it); the answer part is the whole response
        when there is no closing tag."""
        open_tag, close_tag = self.think_tags
        _, sep, after = response.partition(close_tag)
        if not sep:
            return False, response
        ok = (response.lstrip().startswith(open_tag) and response.count(open_tag) == 1
              and response.count(close_tag) == 1 and bool(after.strip()))
        return ok, after

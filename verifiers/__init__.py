"""Verifiers: turn (response, problem) into a Score. They know nothing about Gymnasium."""

from .base import Verifier, precheck
from .registry import BUILTIN, get_verifier
from .score import PASSING_VERDICTS, VERDICTS, Score

__all__ = ["BUILTIN", "PASSING_VERDICTS", "VERDICTS", "Score", "Verifier", "get_verifier", "precheck"]

"""The project's error taxonomy; `cli.py` maps each class to an exit code in one place.

BadInput → 2, Infeasible → 3, VerificationFailed → 4, Interrupted → 130. The CLI's one
boundary turns anything else into one line: environment failures (OSError, MemoryError) exit 2,
an unforeseen exception is a bug and exits 5 asking for a report.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class PlannerError(Exception):
    """Base class of every error a user can cause or be told about."""

    exit_code = 1


class BadInput(PlannerError):
    """A file, field or argument the user wrote is wrong; the message says where and why."""

    exit_code = 2


class Infeasible(PlannerError):
    """No plan meets every limit; carries the binding reason and the best reachable value."""

    exit_code = 3

    def __init__(self, message: str, reasons: list[str] | None = None):
        super().__init__(message)
        self.reasons = reasons or []


class VerificationFailed(PlannerError):
    """The solver's plan breaks a limit when recomputed with the analytic model."""

    exit_code = 4

    def __init__(self, message: str, checks: list | None = None):
        super().__init__(message)
        self.checks = checks or []


class Interrupted(PlannerError):
    """Ctrl-C during long work; carries what had finished (`partial`), so it can still be written."""

    exit_code = 130

    def __init__(self, message: str, partial: object = None):
        super().__init__(message)
        self.partial = partial


class PlannerDeprecation(UserWarning):
    """A key or option still accepted under an old name; the CLI prints it as one line on stderr."""


class PlannerNotice(UserWarning):
    """Something a user should know before a long wait (the CLI prints it as one 'note:' line on
    stderr), e.g. a simulation of many small-batch steps."""


def suggest(name: str, choices: Iterable[str]) -> str:
    """' Did you mean …?' with the closest choices, or '' when none is close."""
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.5)
    if not close:
        return ""
    return " Did you mean " + " or ".join(repr(c) for c in close) + "?"


def is_control(ch: str) -> bool:
    """Whether a character breaks or hides a line of text: C0 and C1 controls (newline, carriage
    return, tab, escape …) and the Unicode line and paragraph separators."""
    return ord(ch) < 32 or 127 <= ord(ch) < 160 or ch in "\u2028\u2029"

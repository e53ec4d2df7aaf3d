"""The project's error taxonomy; `cli.py` maps each class to an exit code in one place.

BadInput → 2, Infeasible → 3, VerificationFailed → 4. Nothing else is caught by the CLI:
any other exception is a bug and should surface as one.
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


def suggest(name: str, choices: Iterable[str]) -> str:
    """' Did you mean …?' with the closest choices, or '' when none is close."""
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.5)
    if not close:
        return ""
    return " Did you mean " + " or ".join(repr(c) for c in close) + "?"

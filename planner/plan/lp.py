"""PuLP, imported with Ctrl-C held until the import ends (`errors.held_interrupt`): its module
tries `import highspy` under a bare `except:`, so a Ctrl-C then was swallowed, HiGHS taken for
missing and numpy left half imported (exit 5 instead of 130). Every module of the plan stage takes
`pulp` from here, so whichever a command imports first imports it so."""

from __future__ import annotations

from planner.errors import held_interrupt

with held_interrupt():
    import pulp

__all__ = ["pulp"]

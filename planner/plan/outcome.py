"""A MILP run's outcome, normalised once (`SolverStatus`) and carried in a `SolverReport`: plain
data, so that what reads a plan (reports, `plan eval`, the simulator) does not import PuLP and
HiGHS (~40 ms) to name these types. `planner.plan.solver` fills them."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class SolverStatus(str, enum.Enum):
    """Solver outcome, normalised once from PuLP/HiGHS codes."""

    optimal = "optimal"
    feasible_time_limit = "feasible_time_limit"
    infeasible = "infeasible"
    unbounded = "unbounded"
    no_solution_time_limit = "no_solution_time_limit"
    error = "error"


@dataclass(frozen=True)
class SolverReport:
    name: str
    status: SolverStatus
    seconds: float
    gap: float | None
    objective: float | None
    variables: int
    constraints: int
    objective_value: float | None = None   # the solver's objective (scaled: one cheapest node-hour = 1)

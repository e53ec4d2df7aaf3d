"""A MILP run's outcome, normalised once (`SolverStatus`) and carried in a `SolverReport`: plain
data, so that what reads a plan (reports, `plan eval`, the simulator) does not import PuLP and
HiGHS (~40 ms) to name these types. `planner.plan.solver` fills them. And the serving mode the
pools' roles make (`mode_of`), which a plan states and the simulator checks plan files against."""

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
    method: str = "milp"   # 'milp', or 'decomposition': a fleet solved exactly by `planner.plan.decompose`
    start_dropped: bool = False   # a warm start HiGHS returned as a cheaper optimum: solved again cold


def mode_of(roles: set[str]) -> str:
    """'colocated' (colocated pools only), 'mixed' (colocated beside prefill or decode) or
    'disaggregated': the `mode` a plan of pools of these roles states."""
    return "colocated" if roles == {"colocated"} else "mixed" if "colocated" in roles else "disaggregated"

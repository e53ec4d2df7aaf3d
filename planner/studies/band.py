"""The cost band (`plan solve --band`): a single problem re-solved with its profile's steps and passes
scaled by the cross-validated error band's factors at two percentiles."""

from __future__ import annotations

from planner.errors import BadInput, Infeasible
from planner.input.problem import Problem
from planner.plan.resolve import resolve
from planner.plan.solve import solve

BAND_PERCENTILES = (10, 90)


def cost_band(problem: Problem, source: str = "problem", *, solver: str | None = None,
              time_limit: float | None = None) -> dict[str, float | None]:
    """Cost per hour of the cheapest plan meeting the SLOs if the model is off by its error at
    the 10th and the 90th percentile (`plan solve --band`): the problem re-solved with its
    profile's steps and passes scaled by the band's factors at that percentile (below 1 at p10:
    the optimistic side), through calibration_overrides. None where no plan meets the SLOs."""
    band = resolve(problem, source).calib.error_band
    if band is None:
        raise BadInput(f"{source}: --band: the calibration profile carries no cross-validated error band")
    out: dict[str, float | None] = {}
    slo = problem.slo.model_copy(update={"confidence": None})
    for p in BAND_PERCENTILES:
        over = {**problem.calibration_overrides, "decode_time_scale": band.tpot_factor(p),
                "prefill_time_scale": band.ttft_factor(p)}
        try:
            out[f"p{p}"] = solve(problem.model_copy(update={"calibration_overrides": over, "slo": slo}), source,
                                 solver=solver, time_limit=time_limit).cost_per_hour
        except Infeasible:
            out[f"p{p}"] = None
    return out

"""Plans whose solves stop at a time limit: the cost a plan reports is the one its verification
recomputes (`cost_matches_solver`), whatever the solver stopped at.

Oracles: a hand-built settle step (the second plan's cost against the first's) and a fleet's day
solved under time limits short enough to stop its MILPs.
"""

from __future__ import annotations

import pytest


def test_a_periods_second_plan_cheaper_than_its_time_limited_first_sets_its_cost(monkeypatch):
    """`horizon_modes.settle_modes`: a period's one-mode re-solve is held at the first solve's cost;
    where the first stopped at its time limit, the second may find a cheaper plan, and the period's
    cost is then the second's (the day's cost was the first's: fleet_day on a loaded machine ended
    in exit 4, `cost_matches_solver = 1418 RMB`). Within the cap's round-off the first's stands."""
    from planner.plan import horizon_milp as hm
    from planner.plan import horizon_modes as hmod
    from planner.plan.milp import Demand

    periods = tuple(hm.Period(p, q, 1.0, Demand(1.0, 1.0)) for p, q in enumerate((1.0, 2.0)))
    second = {1.0: 90.0, 2.0: 200.0 * (1 - 1e-12)}   # period 0 cheaper; period 1 the same within round-off
    monkeypatch.setattr(hmod, "one_mode_period", lambda model, cost, picked, *a: model())
    best = [(100.0, "sel0", "nodes0", "rep0", {}), (200.0, "sel1", "nodes1", "rep1", {})]
    out = hmod.settle_modes(best, (), periods, lambda per, fixed: per.qps, {}, None,
                            lambda qps: ("new", "nodes", {0: 1}, second[qps]))
    assert [(r[0], r[1], r[3]) for r in out] == [(90.0, "new", "rep0"), (200.0, "new", "rep1")]


def test_a_time_limited_day_of_a_fleet_is_verified_at_its_own_cost(monkeypatch):
    """Whatever the time limits stop at, the plan's cost is the one verification recomputes: the
    single-period MILPs at 0.05 s each (MIN_MILP_SECONDS) under a 0.2 s limit for the day."""
    from planner.input.load import load_fleet
    from planner.plan import horizon_solve as hs
    from planner.plan.horizon_fleet import solve_fleet_horizon

    monkeypatch.setattr(hs, "MIN_MILP_SECONDS", 0.05)
    h = solve_fleet_horizon(load_fleet("problems/fleet_day.yaml"), "fleet_day", time_limit=0.2)
    assert h.verification.passed, [c.name for c in h.verification.failed]
    assert h.cost == pytest.approx(h.solver.objective, rel=1e-9)


def test_a_single_plans_second_stage_cheaper_than_its_time_limited_first_sets_its_cost(monkeypatch):
    """`solve.fewest_nodes_at_cost` (free capacity: owned nodes at no cost) is held at the first
    solve's cost; a first solve stopped at its time limit reports its incumbent's cost, and the
    second may find a cheaper plan under that cap. Simulated: the first report's cost is 10 RMB/h
    above its plan's (as an incumbent dearer than the optimum would be); the plan then reports the
    second's cost and passes `cost_matches_solver` (it failed with exit 4 before)."""
    from dataclasses import replace

    from planner.input.problem import Problem
    from planner.plan import milp
    from planner.plan import solve as S

    problem = Problem.model_validate({
        "model": "llama-3.1-8b", "workload": {"qps": 20, "input_tokens": 1000, "output_tokens": 200},
        "slo": {"ttft": "1s", "tpot": "40ms"},
        "gpus": [{"id": "h100", "owned_nodes": 2, "owned_cost_per_gpu_hour": 0}, "h200"]})
    real, reports = milp.solve, []

    def first_stopped_early(m, *a, **k):
        rep = real(m, *a, **k)
        reports.append(rep)
        if len(reports) > 1:
            return rep
        return replace(rep, objective=rep.objective + 10.0, status=milp.SolverStatus.feasible_time_limit)

    monkeypatch.setattr(milp, "solve", first_stopped_early)
    plan = S.solve(problem)
    assert len(reports) >= 2   # the second stage ran
    assert plan.verification.passed, [c.name for c in plan.verification.failed]
    assert plan.cost_per_hour == pytest.approx(0.0, abs=1e-9)   # one owned node at no cost serves it


def test_a_problems_time_limit_has_slack_under_the_tests_and_a_tests_own_does_not():
    """conftest.wall_clock_slack: the examples' 20 s is 200 s here (a busy machine ran a day plan
    past 20 s: 'not proven optimal' against its golden), in all three places a plan reads it; a
    limit a test sets to run out is kept."""
    from pathlib import Path

    from planner.input.load import load_problem
    from planner.plan import horizon, horizon_fleet, solve
    seed = load_problem(Path(__file__).resolve().parents[1] / "problems" / "deepseek_qps.yaml")
    assert seed.solver.time_limit == 20.0
    for module in (solve, horizon, horizon_fleet):
        assert module.solver_options(seed, None, None).time_limit == 200.0
        assert module.solver_options(seed, None, 0.5).time_limit == 0.5

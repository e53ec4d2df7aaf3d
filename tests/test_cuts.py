"""Plans that fail verification on a colocated pool's routed mix (`planner/plan/cuts.py`).

Oracles: the no-good rows against enumeration of every integer point of a small box (exactly the
excluded points become infeasible); the Llama-3.1-8B cases of docs/optimisation.md ("What the cut
gives up"), whose optimum is one whole node (nothing costs less than one node, and a one-node plan
passes); a day the static fleet serves whole costs no more than that fleet, and a diurnal day no
more than its periods planned one by one.
"""

from __future__ import annotations

import itertools

import pulp
import pytest

from planner.input.problem import Problem
from planner.plan.cuts import exclude, excluded_count, failing_periods, load_points, with_excluded
from planner.plan.horizon import solve_horizon
from planner.plan.solve import solve
from planner.plan.verify import Check, Verification

BOX = {"a": 3, "b": 3, "c": 1}   # upper bounds of three instance counts


def _feasible(point: dict[str, int], excluded: list[dict[str, int]]) -> bool:
    """Whether the box with `excluded` cut off still holds `point` (each count fixed to it)."""
    prob = pulp.LpProblem("nogood", pulp.LpMinimize)
    xs = {k: pulp.LpVariable(f"x_{k}", lowBound=point[k], upBound=point[k], cat="Integer") for k in BOX}
    for k, x in xs.items():   # the bound the rows' big-M reads, the box's, not the fixed value
        x.upBound = BOX[k]
        prob += x == point[k], f"fix_{k}"
    prob += pulp.lpSum(xs.values())
    exclude(prob, xs, excluded, "")
    prob.solve(pulp.HiGHS(msg=False))   # default threads: planner solves after it in this process still run
    return pulp.LpStatus[prob.status] == "Optimal"


def test_no_good_rows_exclude_their_points_and_nothing_else():
    """A point lists its nonzero counts; every other count is 0 in it. {a: 2, b: 1} excludes
    (2, 1, 0) only, not (2, 1, 1) nor (1, 1, 0); {b: 3} (b at its bound: no 'more' side) only
    (0, 3, 0); a point naming a count the model lacks is skipped."""
    excluded = [{"a": 2, "b": 1}, {"b": 3}, {"a": 1, "z": 2}]
    gone = {(2, 1, 0), (0, 3, 0)}
    for a, b, c in itertools.product(range(4), range(4), range(2)):
        assert _feasible({"a": a, "b": b, "c": c}, excluded) == ((a, b, c) not in gone), (a, b, c)


def test_failing_periods_and_their_points():
    """The period index comes from a check's name ('tpot[p6/colocated[…]]', 'p3/availability…')."""
    def check(name: str, ok: bool) -> Check:
        return Check(name, 2.0 if not ok else 0.5, 1.0, "s")
    v = Verification((), (check("tpot[p6/colocated[x]]", False), check("p3/availability_period[h100]", False),
                          check("tpot[p4/colocated[x]]", True), check("cost_matches_solver", True)))
    assert failing_periods(v) == {3, 6}


def test_with_excluded_adds_to_the_failing_periods_only():
    from planner.plan import horizon_milp as hm
    from planner.plan.milp import Demand
    periods = tuple(hm.Period(p, 1.0, 1.0, Demand(1.0, 1.0)) for p in range(3))
    once = with_excluded(periods, {1: (((("", "c1"), 2),),)})
    twice = with_excluded(once, {1: (((("", "c2"), 1),),), 2: ((),)})   # an empty plan excludes nothing
    assert [p.excluded for p in twice] == [(), (((("", "c1"), 2),), ((("", "c2"), 1),)), ()]
    assert excluded_count([{1: (((("", "c1"), 2),),)}, {1: (((("", "c2"), 1),),), 2: ((),)}]) == 2


def test_a_fleet_period_excludes_its_failing_class_only():
    """Over a day a fleet's class (load) is routed its own requests: period 1's failing 'chat' pools
    exclude chat's instances, not 'code''s (its check names: 'tpot[p1/chat/colocated[…]]')."""
    from planner.plan import horizon_milp as hm
    from planner.plan.milp import Demand
    loads = (hm.Load("chat", 0, Demand(1.0, 1.0)), hm.Load("code", 1, Demand(1.0, 1.0)))
    periods = tuple(hm.Period(p, 1.0, 1.0, Demand(0.0, 0.0), loads=loads) for p in range(2))
    v = Verification((), (Check("tpot[p1/chat/colocated[a]]", 2.0, 1.0, "s"),))
    counts = [{0: 1, 2: 1}, {0: 2, 1: 1, 2: 3}]
    got = load_points(v, counts, ["a", "b", "c"], periods, [(0, 1), (2,)])
    assert got == {1: (((("chat", "a"), 2), (("chat", "b"), 1)),)}


LLAMA = {"model": "llama-3.1-8b", "gpus": ["h100"],
         "workload": {"qps": 240, "input_tokens": 1000, "output_tokens": 200},
         "slo": {"ttft": "1s", "tpot": "40ms"}}


def _node_per_hour(plan) -> float:
    opt = plan.services[0].res.option("h100")
    return opt.price_per_card_hour * opt.gpu.node_cards


def test_a_failing_first_plan_is_excluded_not_its_candidates():
    """240 req/s: the MILP's first one-node plan (2 × b192-c1207 + 6 × b256-c1287) broke its TPOT at
    the mix it was routed (45.1 ms against 40); removing those shapes with their chunk siblings (until
    2026-12-06) left a disaggregated plan of two nodes, 194.40 RMB/h, although one-node plans pass
    (the one of 246 req/s among them). Excluding that plan alone finds one: one node, optimal."""
    plan = solve(Problem.model_validate(LLAMA))
    assert plan.verification.passed
    assert plan.cuts[0] >= 1 and plan.cuts[1] == 0, plan.cuts   # the case exercises the exact cut
    assert plan.cost_per_hour == pytest.approx(_node_per_hour(plan))   # nothing costs less than a node
    assert plan.nodes == {"h100": (1, 0)}
    assert plan.status == "optimal"


def test_a_day_the_static_fleet_serves_costs_no_more_than_it():
    """12 hours at 246 req/s and 12 at 240: 4,665.60 RMB until 2026-12-06 (the 240 req/s hours on two
    nodes after the cut) beside a static fleet of 2,332.80 that serves every period."""
    day = {**LLAMA, "workload": {**LLAMA["workload"], "profile": {"period": "1h", "qps": [246] * 12 + [240] * 12}}}
    day["workload"].pop("qps")
    h = solve_horizon(Problem.model_validate(day))
    assert h.verification.passed
    assert h.cuts[0] >= 1 and h.cuts[1] == 0, h.cuts
    assert h.static_peak is not None
    assert h.cost == pytest.approx(24 * _node_per_hour(h.static_peak))
    assert h.cost <= h.static_peak.cost_per_hour * 24 * (1 + 1e-9)


def test_a_diurnal_day_costs_no_more_than_its_periods_planned_alone():
    """The diurnal profile of problems/deepseek_day.yaml at a 300 req/s peak: 3,596.40 RMB until
    2026-12-06 beside independent per-period plans of 2,916.00 (each period's own cut); now the day
    plan is what the periods cost alone, 2,818.80 (no commitment makes anything cheaper here)."""
    frac = [0.55, 0.45, 0.37, 0.32, 0.30, 0.32, 0.38, 0.48, 0.60, 0.72, 0.80, 0.85,
            0.85, 0.83, 0.82, 0.83, 0.85, 0.88, 0.92, 0.97, 1.00, 0.97, 0.85, 0.70]
    day = {**LLAMA, "workload": {**LLAMA["workload"], "qps": 300, "profile": {"period": "1h", "qps_fraction": frac}}}
    h = solve_horizon(Problem.model_validate(day))
    assert h.verification.passed
    assert h.cuts[1] == 0
    assert h.independent_cost is not None
    assert h.cost <= h.independent_cost * (1 + 1e-9)
    assert h.cost == pytest.approx(2818.80)


def test_every_plan_failing_is_exit_3_saying_so(monkeypatch):
    """With one colocated candidate the MILP has a handful of plans (its count from the demand's to
    its bound); when verification rejects every one at its routed mix, each is excluded in turn and
    the MILP is left with none: Infeasible (exit 3) naming why, not a plan nor a bare 'infeasible'."""
    from planner.errors import Infeasible
    from planner.plan import solve as S
    from planner.plan.candidates import CandidateSet, generate
    from planner.plan.resolve import resolve

    problem = Problem.model_validate({**LLAMA, "serving": {"modes": ["colocated"]}})
    cs = generate(resolve(problem))
    one = CandidateSet(tuple(c for c in cs.candidates if c.role == "colocated")[:1], ())
    verify, tried = S._verify, []

    def rejecting(problem, svcs, chosen, nodes, objective):
        v, pools = verify(problem, svcs, chosen, nodes, objective)
        tried.append(dict(chosen[""]))
        over = tuple(Check(f"tpot[{st.name}]", 1.0, 0.04, "s") for st in v.pools)
        return Verification(v.pools, v.checks + over), pools

    monkeypatch.setattr(S, "_verify", rejecting)
    with pytest.raises(Infeasible) as err:
        S.solve(problem, candidates=one)
    counts = [n for sel in tried for n in sel.values()]
    assert len(tried) >= 2 and len(set(counts)) == len(counts)   # each plan tried once: one count each
    assert str(err.value) == (f"problem: every plan within the limits breaks a colocated pool's TPOT at the mix it "
                              f"routes it ({len(tried)} plans tried and excluded); allow other GPU types or "
                              f"serving modes, or relax the TPOT limit")

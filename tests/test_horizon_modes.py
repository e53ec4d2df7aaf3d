"""Among a period's plans of equal cost, one serving mode and the fewest groups over nodes
(`horizon_modes`, the plan over a load profile's one-mode stage).

One H100 node (8 cards) per period at 10 per card-hour; synthetic candidates of 2 cards: a prefill
P (500 prompt tokens/s), a decode D (500 output tokens/s) and a colocated C (250 of each), unless a
case says otherwise. The first plan is given (`picked`), so each case is the stage's alone; the
oracle is the arithmetic in each docstring.
"""

from __future__ import annotations

import pulp
import pytest

from planner.input.problem import Problem
from planner.physics.perf import Parallelism
from planner.plan import horizon_milp as hm
from planner.plan import horizon_solve as hs
from planner.plan import milp
from planner.plan.candidates import Candidate
from planner.plan.horizon_modes import lean_period, one_mode_period, settle_modes, triggers
from planner.plan.resolve import resolve
from planner.plan.solve import LEX_INSTANCE_WEIGHT

NODE = {"h100": 8}


def cand(role: str, cards: int, pre: float = 0.0, dec: float = 0.0, pp: int = 1) -> Candidate:
    return Candidate(role, "h100", Parallelism(tp=cards // pp, pp=pp), 1, 0.0, pre, pre, dec, 0.9, 0.1, 0.5, 0.02,
                     0.0, 1e12, 1e9, "compute")


P, D, C = cand("prefill", 2, pre=500), cand("decode", 2, dec=500), cand("colocated", 2, pre=250, dec=250)


@pytest.fixture(scope="module")
def kinds():
    res = resolve(Problem.model_validate({"model": "llama-3.1-8b",
                                          "workload": {"qps": 1, "input_tokens": 100, "output_tokens": 10},
                                          "slo": {"ttft": "1s", "tpot": "50ms"},
                                          "gpus": [{"id": "h100", "price_per_gpu_hour": 10}]}))
    return (hm.GPUKinds(res.gpus[0], None, None, None, 0.0),), res.problem.limits


def run(kinds, cands, demand, picked):
    """The stage on one period of `demand` (tokens/s) with first plan `picked` (candidate → n):
    (instances by candidate, the period's cost) of its plan, or None when it keeps the first."""
    ks, limits = kinds
    per = hm.Period(0, 1.0, 1.0, milp.Demand(*demand))
    first = hm.build("t", ks, limits, cands, (per,))
    rep = milp.solve(first, gap=1e-9)
    assert rep.status == milp.SolverStatus.optimal
    cost = rep.objective
    m = one_mode_period(lambda: hm.build("t", ks, limits, cands, (per,)), cost,
                        {cands.index(c): n for c, n in picked.items()}, NODE, lambda mm: milp.solve(mm, gap=1e-9))
    if m is None:
        return None, cost
    got = {cands[i]: n for i, n in hs.counts(m)[0].items()}
    return got, pulp.value(m.cost)


def test_a_mix_is_held_to_prefill_decode_pools_at_the_same_cost(kinds):
    """Demand 1,000/1,000: P + D + 2C fill one node, as do 2P + 2D and 4C (80 per hour each). The
    first plan mixes; the stage returns 2P + 2D at 80."""
    got, cost = run(kinds, (P, D, C), (1000, 1000), {P: 1, D: 1, C: 2})
    assert got == {P: 2, D: 2} and cost == pytest.approx(80.0)


def test_colocated_when_prefill_decode_pools_cost_more(kinds):
    """P now 400 prompt tokens/s, demand 1,000/750: P + 3C (1,150/750) fill one node; prefill/decode
    pools need 3P + 2D = 10 cards (two nodes, 160); 4C (1,000/1,000) fill one: the stage returns 4C."""
    p = cand("prefill", 2, pre=400)
    got, cost = run(kinds, (p, D, C), (1000, 750), {p: 1, C: 3})
    assert got == {C: 4} and cost == pytest.approx(80.0)


def test_a_mix_neither_mode_reaches_stays(kinds):
    """Demand 1,250/750: 2P + D + C (1,250/750) fill one node; prefill/decode pools need 3P + 2D
    (10 cards) and colocated ones 5C (10 cards), two nodes each: the mix stays (None)."""
    got, cost = run(kinds, (P, D, C), (1250, 750), {P: 2, D: 1, C: 1})
    assert got is None and cost == pytest.approx(80.0)


def test_fewest_instances_over_nodes_at_the_same_cost(kinds):
    """Demand 2,000/4,000: 4P (8 cards) and either one decode instance of TP8·PP2 (16 cards over two
    nodes, 4,000) or 8 D (16 cards): three nodes, 240 per hour, either way. The stage's objective
    counts each instance over nodes once (the usual objective, a millionth, orders the rest: it
    cannot tell these two apart) and returns the 8 D."""
    wide = cand("decode", 16, dec=4000, pp=2)
    got, cost = run(kinds, (P, D, wide), (2000, 4000), {P: 4, wide: 1})
    assert got == {P: 4, D: 8} and cost == pytest.approx(240.0)
    ks, limits = kinds
    per = hm.Period(0, 1.0, 1.0, milp.Demand(2000, 4000))
    m = one_mode_period(lambda: hm.build("t", ks, limits, (P, D, wide), (per,)), 240.0, {0: 4, 2: 1}, NODE,
                        lambda mm: milp.solve(mm, gap=1e-9))
    coef = {v.name: a for v, a in m.prob.objective.items()}
    assert coef[m.x[(2, 0)].name] == pytest.approx(1.0 + LEX_INSTANCE_WEIGHT, abs=1e-5)   # the spanning instance
    assert coef[m.x[(1, 0)].name] == pytest.approx(LEX_INSTANCE_WEIGHT, abs=1e-5)         # one on one node
    assert "cost_at_optimum" in m.prob.constraints


def test_a_spanning_instance_no_plan_of_the_cost_avoids_keeps_the_first_plan(kinds):
    """Only a TP8·PP2 decode instance decodes (no D): the second solve cannot span fewer nodes, and
    its plan, however it shuffles equal-cost pools, is not taken (None: the first plan stands; a
    hunt saw 4 colocated instances become 8 of another shape at the same cost and spanning)."""
    wide = cand("decode", 16, dec=4000, pp=2)
    got, cost = run(kinds, (P, C, wide), (2000, 4000), {P: 4, wide: 1})
    assert got is None and cost == pytest.approx(240.0)


def test_instances_no_demand_row_needs_do_not_make_a_plan_mixed(kinds):
    """4C serve 1,000/1,000 (one node, 80); a prefill instance beside them serves nothing (padding,
    which `without_padding` takes out after the solve). Read lean, the first plan is in one mode:
    kept (None), where read as solved it looked mixed and was taken to 2P + 2D at 80 (a hunt:
    fleet_day's batch class and a week of Llama-70B on H800 switched modes so)."""
    ks, limits = kinds
    per = hm.Period(0, 1.0, 1.0, milp.Demand(1000, 1000))
    cands = (P, D, C)

    def model():
        return hm.build("t", ks, limits, cands, (per,))

    def solve(m):
        return milp.solve(m, gap=1e-9)
    padded = {0: 1, 2: 4}
    assert one_mode_period(model, 80.0, padded, NODE, solve, lambda c: lean_period(per, c, cands)) is None
    m = one_mode_period(model, 80.0, padded, NODE, solve)
    assert {cands[i].role for i, n in hs.counts(m)[0].items()} == {"prefill", "decode"}


def test_a_plan_in_one_mode_on_one_node_is_kept(kinds):
    """The first plan neither mixes nor spans a node: nothing to choose (None, no second solve)."""
    calls = []
    ks, limits = kinds
    per = hm.Period(0, 1.0, 1.0, milp.Demand(1000, 1000))
    assert one_mode_period(lambda: hm.build("t", ks, limits, (P, D, C), (per,)), 80.0, {0: 2, 1: 2}, NODE,
                           lambda m: calls.append(m)) is None and calls == []
    m = hm.build("t", ks, limits, (P, D, C), (per,))
    assert triggers({0: 1, 1: 1, 2: 2}, m, NODE) == ({0}, False)
    assert triggers({0: 2, 1: 2}, m, NODE) == (set(), False)


def test_settle_keeps_costs_and_solves_periods_alike_once(kinds):
    """Two periods of one load and one of another: the stage runs once per distinct period, keeps
    each period's cost and report, and replaces the plans of the mixing ones."""
    ks, limits = kinds
    periods = (hm.Period(0, 1.0, 1.0, milp.Demand(1000, 1000)), hm.Period(1, 1.0, 1.0, milp.Demand(1000, 1000)),
               hm.Period(2, 2.0, 1.0, milp.Demand(500, 500)))
    cands = (P, D, C)
    built = []

    def model_for(per, fixed):
        built.append(per.index)
        return hm.build("t", ks, limits, cands, (hs.replace_index(per),))
    rep = milp.SolverReport("highs", milp.SolverStatus.optimal, 0.0, 0.0, 80.0, 1, 1)
    best = [(80.0, {"first": 1}, {}, rep, {0: 1, 1: 1, 2: 2}), (80.0, {"first": 1}, {}, rep, {0: 1, 1: 1, 2: 2}),
            (40.0, {"first": 2}, {}, rep, {0: 1, 1: 1})]
    out = settle_modes(best, (), periods, model_for, NODE, lambda m: milp.solve(m, gap=1e-9),
                       lambda m: (dict(hs.selection(m)[0]), {}, hs.counts(m)[0], pulp.value(m.cost)))
    assert [r[0] for r in out] == [80.0, 80.0, 40.0] and all(r[3] is rep for r in out)
    assert out[0][1] == out[1][1] == {P: 2, D: 2} and out[2][1] == {"first": 2}
    assert built.count(0) >= 1 and 1 not in built   # period 1 is period 0's twin

"""The MILP against exhaustive enumeration of the same candidates.

Why the oracle is right: for fixed instance counts x, the cheapest node counts are forced —
each GPU type needs ⌈cards/N⌉ nodes, owned ones first when they are cheaper than rent — so
enumerating every x within the bounds (each candidate alone never needs more than
⌈demand/capacity⌉+1 copies) and keeping the cheapest feasible one is the exact optimum.
"""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.input.problem import Problem
from planner.physics.perf import Parallelism
from planner.plan import milp
from planner.plan.candidates import Candidate
from planner.plan.resolve import resolve

BASE = {"model": "llama-3.1-8b", "workload": {"qps": 10, "input_tokens": 1000, "output_tokens": 100},
        "slo": {"ttft": "1s", "tpot": "50ms"}}


def cand(role, gpu, cards, pre=0.0, dec=0.0) -> Candidate:
    """A synthetic candidate with given capacities (tokens/s)."""
    return Candidate(role, gpu, Parallelism(tp=cards), 1, 0.0, pre, pre, dec, 0.9, 0.1, 0.5, 0.02,
                     0.0, 1e12, 1e9, "compute")


def resolved(gpus):
    return resolve(Problem.model_validate({**BASE, "gpus": gpus}))


def oracle(res, cands, demand):
    """Cheapest feasible plan by enumeration; returns (cost, x) or (inf, None)."""
    opts = {o.id: o for o in res.gpus}
    bounds = [range(milp.upper_bound(c, demand) + 1) for c in cands]
    best = (math.inf, None)
    for x in itertools.product(*bounds):
        pre = sum(n * c.prefill_tok_s for n, c in zip(x, cands))
        dec = sum(n * c.decode_tok_s for n, c in zip(x, cands))
        if pre < demand.prefill_tok_s * (1 - 1e-9) or dec < demand.decode_tok_s * (1 - 1e-9):
            continue
        cost, ok = 0.0, True
        for g, o in opts.items():
            cards = sum(n * c.cards for n, c in zip(x, cands) if c.gpu == g)
            nodes = math.ceil(cards / o.gpu.node_cards)
            if o.max_cards is not None and nodes * o.gpu.node_cards > o.max_cards:
                ok = False
                break
            owned = min(nodes, o.owned_nodes) if o.owned_cost_per_card_hour <= o.price_per_card_hour else 0
            cost += o.gpu.node_cards * (owned * o.owned_cost_per_card_hour + (nodes - owned) * o.price_per_card_hour)
        if ok and cost < best[0] - 1e-9:
            best = (cost, x)
    return best


def test_three_candidates_by_hand():
    """Demand 10,000 prefill and 1,000 decode tokens/s; h100 nodes cost 8·10 = 80/h, h20 nodes 8·5 = 40/h.
    P (h100, 8 cards, 6,000 tok/s) needs 2 instances = 2 nodes = 160/h; D8 (h20, 8 cards, 600) needs 2 = 80/h;
    D4 (h20, 4 cards, 400) needs 3 = 12 cards = 2 nodes = 80/h too, so the optimum is 240/h."""
    res = resolved([{"id": "h100", "price_per_gpu_hour": 10}, {"id": "h20", "price_per_gpu_hour": 5}])
    cands = (cand("prefill", "h100", 8, pre=6000), cand("decode", "h20", 8, dec=600),
             cand("decode", "h20", 4, dec=400))
    m = milp.build(res, cands, milp.Demand(10_000, 1_000))
    rep = milp.solve(m)
    assert rep.status == milp.SolverStatus.optimal
    assert rep.objective == pytest.approx(240.0)
    assert milp.nodes(m) == {"h100": (2, 0), "h20": (2, 0)}


def test_heterogeneous_plan_is_found_when_strictly_cheaper():
    """h100 is the better prefill card per RMB, h20 the better decode card: the optimum mixes them."""
    res = resolved([{"id": "h100", "price_per_gpu_hour": 10}, {"id": "h20", "price_per_gpu_hour": 5}])
    cands = (cand("prefill", "h100", 8, pre=8000), cand("decode", "h100", 8, dec=900),
             cand("prefill", "h20", 8, pre=2000), cand("decode", "h20", 8, dec=1000))
    d = milp.Demand(8000, 1000)
    m = milp.build(res, cands, d)
    rep = milp.solve(m)
    chosen = {cands[i].role + ":" + cands[i].gpu for i in milp.selection(m)}
    assert chosen == {"prefill:h100", "decode:h20"}
    assert rep.objective == pytest.approx(80 + 40)
    homogeneous = min(oracle(resolved([g]), tuple(c for c in cands if c.gpu == g["id"]), d)[0]
                      for g in ({"id": "h100", "price_per_gpu_hour": 10},
                                {"id": "h20", "price_per_gpu_hour": 5}))
    assert rep.objective < homogeneous


def test_owned_nodes_are_used_before_rented():
    res = resolved([{"id": "h100", "price_per_gpu_hour": 10, "owned_nodes": 1, "owned_cost_per_gpu_hour": 3}])
    cands = (cand("colocated", "h100", 8, pre=5000, dec=500),)
    m = milp.build(res, cands, milp.Demand(10_000, 1_000))
    rep = milp.solve(m)
    assert milp.nodes(m) == {"h100": (1, 1)}
    assert rep.objective == pytest.approx(8 * 3 + 8 * 10)


def test_availability_cap_is_respected_or_infeasible():
    res = resolved([{"id": "h100", "price_per_gpu_hour": 10, "max_cards": 8}])
    cands = (cand("colocated", "h100", 8, pre=5000, dec=500),)
    rep = milp.solve(milp.build(res, cands, milp.Demand(10_000, 1_000)))
    assert rep.status == milp.SolverStatus.infeasible


def test_rows_are_named_and_normalised():
    res = resolved([{"id": "h100", "price_per_gpu_hour": 10, "max_cards": 64}])
    cands = (cand("prefill", "h100", 8, pre=5e8), cand("decode", "h100", 8, dec=2e6))
    m = milp.build(res, cands, milp.Demand(1e9, 1e7))
    names = set(m.rows)
    assert {"prefill_demand", "decode_demand", "node_cover[h100]", "availability[h100]"} <= names
    coeffs = [abs(v) for c in m.rows.values() for v in c.values()]
    assert max(coeffs) <= 64 and min(coeffs) >= 0.1   # O(1) coefficients whatever the QPS


@settings(max_examples=25, deadline=None)
@given(
    prices=st.tuples(st.integers(1, 30), st.integers(1, 30)),
    caps=st.tuples(st.sampled_from([None, 8, 16, 24]), st.sampled_from([None, 8, 16])),
    owned=st.integers(0, 1),
    caps_pre=st.lists(st.integers(1, 9), min_size=3, max_size=3),
    caps_dec=st.lists(st.integers(1, 9), min_size=3, max_size=3),
    cards=st.lists(st.sampled_from([2, 4, 8]), min_size=3, max_size=3),
)
def test_milp_equals_enumeration(prices, caps, owned, caps_pre, caps_dec, cards):
    gpus = [{"id": "h100", "price_per_gpu_hour": prices[0], "max_cards": caps[0],
             "owned_nodes": owned if (caps[0] or 8) >= 8 else 0, "owned_cost_per_gpu_hour": 1},
            {"id": "h20", "price_per_gpu_hour": prices[1], "max_cards": caps[1]}]
    res = resolved(gpus)
    cands = (cand("prefill", "h100", cards[0], pre=caps_pre[0] * 1000),
             cand("decode", "h20", cards[1], dec=caps_dec[1] * 100),
             cand("colocated", "h20", cards[2], pre=caps_pre[2] * 500, dec=caps_dec[2] * 60))
    d = milp.Demand(12_000, 1_500)
    expected, _ = oracle(res, cands, d)
    m = milp.build(res, cands, d)
    rep = milp.solve(m)
    if math.isinf(expected):
        assert rep.status == milp.SolverStatus.infeasible
    else:
        assert rep.status == milp.SolverStatus.optimal
        assert rep.objective == pytest.approx(expected, rel=1e-6)


def test_cbc_fallback_agrees_with_highs():
    res = resolved([{"id": "h100", "price_per_gpu_hour": 10}, {"id": "h20", "price_per_gpu_hour": 5}])
    cands = (cand("prefill", "h100", 8, pre=6000), cand("decode", "h20", 8, dec=600),
             cand("decode", "h20", 4, dec=400))
    d = milp.Demand(10_000, 1_000)
    a = milp.solve(milp.build(res, cands, d), "highs")
    b = milp.solve(milp.build(res, cands, d), "cbc")
    assert b.status == milp.SolverStatus.optimal and b.objective == pytest.approx(a.objective)


def test_no_candidate_may_exceed_the_instances_a_plan_file_holds():
    """The bound is min(⌈need⌉ + 1, MAX_INSTANCES): at qps 1e9 (the largest a problem takes) plan solve
    wrote pools of 1,000,001 instances, which `plan simulate` and `plan export` then refused (their
    plan reader holds at most 1,000,000 of one pool)."""
    from planner.studies.simulate.planfile import PlanPool
    c = cand("colocated", "h100", 1, pre=1000.0, dec=500.0)
    assert milp.upper_bound(c, milp.Demand(1e20, 1e20)) == milp.MAX_INSTANCES
    assert milp.upper_bound(c, milp.Demand(2500.0, 1000.0)) == 4
    limit = next(m.le for m in PlanPool.model_fields["instances"].metadata if hasattr(m, "le"))
    assert limit == milp.MAX_INSTANCES


@pytest.mark.parametrize("budget, exit_code", [(1e-12, 3), (1e-300, 3), (5e-324, 3), (97.19, 3), (97.20, 0)])
def test_a_budget_of_any_size_is_held(tmp_path, budget, exit_code):
    """Llama-3.1-8B at 20 req/s on H100 costs one node, 97.20 RMB/h. A budget of 10⁻¹² per hour or
    less left the budget row's coefficients (2·budget a node) under HiGHS's smallest matrix value,
    which it drops: the row held, the plan cost 79 RMB/h beside a 10⁻¹² budget, exit 4. Divided by
    the budget the row's coefficients are in (0, 2]: below the node's price, exit 3 naming the
    budget; at it, the plan."""
    from click.testing import CliRunner

    from cli import main
    p = tmp_path / "b.yaml"
    p.write_text("name: b\nmodel: llama-3.1-8b\nworkload: {qps: 20, input_tokens: 1000, output_tokens: 300}\n"
                 f"slo: {{ttft: 2s, tpot: 50ms}}\ngpus: [h100]\nlimits: {{budget_per_hour: {budget!r}}}\n")
    r = CliRunner().invoke(main, ["solve", str(p)])
    assert r.exit_code == exit_code, r.output
    assert ("within budget_cap" in r.output) if exit_code else ("Cost: 97.20 RMB/h" in r.output)


def test_a_highs_run_with_other_threads_before_does_not_fail_the_plan():
    """HiGHS sizes one process-wide thread pool at its first run; a notebook's own pulp.HiGHS()
    (default threads) before planner's runs (threads=1) made each of them fail, 'the highs solver
    failed; try --solver cbc' (2026-12-06). The pool is made again and the solve runs."""
    import pulp

    from planner.input.problem import Problem
    from planner.plan.solve import solve

    prob = pulp.LpProblem("theirs", pulp.LpMinimize)
    x = pulp.LpVariable("x", 0, 3, cat="Integer")
    prob += x
    prob += x >= 1
    prob.solve(pulp.HiGHS(msg=False))
    assert pulp.value(x) == 1
    plan = solve(Problem.model_validate({"model": "llama-3.1-8b", "gpus": ["h100"],
                                         "slo": {"ttft": "1s", "tpot": "40ms"},
                                         "workload": {"qps": 10, "input_tokens": 1000, "output_tokens": 200}}))
    assert plan.verification.passed and plan.nodes == {"h100": (1, 0)}

"""The fleet decomposition (`planner.plan.decompose`, `planner.plan.shells`): each piece against its
definition by enumeration, the whole against enumeration and against the MILP at a zero gap, and
where `solve()` uses it and where the MILP."""

from __future__ import annotations

import itertools
import math
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from planner.input.fleet import FleetProblem
from planner.input.problem import SolverOptions
from planner.plan import decompose, milp, shells
from planner.plan.shells import ServiceSearch, TypeFrontier, dual_vertices, only_minimal, pareto
from planner.plan.solve import solve
from tests.test_fleet import fleet_oracle, two_class_fleet
from tests.test_milp import cand, resolved


# ----------------------------------------------------------------------------- the pieces
def test_pareto_keeps_the_maximal_points_capped_at_one():
    a, b = pareto(np.array([0.5, 0.4, 1.5, 0.2, 0.5]), np.array([0.5, 0.9, 0.1, 0.1, 0.4]))
    assert list(zip(a.tolist(), b.tolist())) == [(1.0, 0.1), (0.5, 0.5), (0.4, 0.9)]


def dual_by_definition(cols):
    """Every pairwise intersection of the rows and the axes, kept where feasible (the vertices)."""
    w, a, b = (np.array(x, dtype=float) for x in zip(*cols))
    lines = [(a[i], b[i], w[i]) for i in range(len(w))] + [(1.0, 0.0, 0.0), (0.0, 1.0, 0.0)]
    pts = []
    for (a1, b1, w1), (a2, b2, w2) in itertools.combinations(lines, 2):
        det = a1 * b2 - b1 * a2
        if abs(det) > 1e-15:
            pts.append(((w1 * b2 - b1 * w2) / det, (a1 * w2 - w1 * a2) / det))
    p = np.array(pts)
    ok = (p[:, 0] >= -1e-12) & (p[:, 1] >= -1e-12) & np.all(
        a[None, :] * p[:, :1] + b[None, :] * p[:, 1:] <= w[None, :] * (1 + 1e-9) + 1e-12, axis=1)
    return p[ok]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0.1, 40), st.one_of(st.just(0.0), st.floats(1e-3, 3.0)), st.floats(0.01, 3.0)),
                min_size=1, max_size=25),
       st.floats(0, 1), st.floats(0, 1))
def test_dual_bound_equals_the_lp_over_all_vertices(cols, na, nb):
    """The 2-row LP's dual optimum max na·u + nb·v over the hull's vertices equals it over every
    vertex of the whole system (only the concave hull's columns bound it)."""
    ours = dual_vertices(cols)
    if na > 0 and not any(a > 0 for _, a, _ in cols):   # no column buys prefill: u unbounded, a vertex far out
        assert np.max(ours[:, 0]) >= 1e12
        return
    every = dual_by_definition(cols)
    assert np.max(na * ours[:, 0] + nb * ours[:, 1]) == pytest.approx(np.max(na * every[:, 0] + nb * every[:, 1]),
                                                                      rel=1e-9, abs=1e-12)


def test_only_minimal_drops_vectors_above_another_and_repeats():
    vs = [(3.0, {"a": 1}), (4.0, {"a": 1, "b": 1}), (5.0, {"b": 2}), (3.0, {"a": 1}), (6.0, {"b": 3})]
    assert only_minimal(vs, ["a", "b"]) == [(3.0, {"a": 1}), (5.0, {"b": 2})]


def vectors_by_enumeration(types, delta, start=(0.0, 0.0), most=8):
    """Every card vector up to `most` cards a type whose instances (any counts) serve, its cost, and
    the minimal ones within delta of the cheapest."""
    def serves(vec):
        combos = [[(c, a, b) for c, a, b in t.cands] for t in types]
        best = [(start[0], start[1], {g: 0 for g in vec})]
        for t, cs in zip(types, combos):
            nxt = []
            for pa, pb, used in best:
                for n in itertools.product(range(vec[t.gpu] + 1), repeat=len(cs)):
                    cards = sum(k * c for k, (c, _, _) in zip(n, cs))
                    if cards <= vec[t.gpu]:
                        nxt.append((pa + sum(k * a for k, (_, a, _) in zip(n, cs)),
                                    pb + sum(k * b for k, (_, _, b) in zip(n, cs)), used))
            best = nxt
        return any(a >= 1 - 1e-9 and b >= 1 - 1e-9 for a, b, _ in best)
    found = []
    for ks in itertools.product(range(most + 1), repeat=len(types)):
        vec = {t.gpu: k for t, k in zip(types, ks)}
        if serves(vec):
            found.append((sum(t.price * k for t, k in zip(types, ks)), {g: k for g, k in vec.items() if k}))
    m = min(c for c, _ in found)
    within = sorted((cv for cv in found if cv[0] <= m + delta + 1e-9), key=lambda cv: (cv[0], sorted(cv[1].items())))
    return m, only_minimal(within, [t.gpu for t in types])


@settings(max_examples=20, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([1, 2]), st.floats(0.0, 0.7), st.floats(0.0, 0.7)), min_size=2, max_size=3),
       st.lists(st.tuples(st.sampled_from([1, 2]), st.floats(0.0, 0.7), st.floats(0.0, 0.7)), min_size=2, max_size=3),
       st.floats(0.5, 3.0), st.sampled_from([0.0, 0.7, 2.0]))
def test_minimal_vectors_equal_enumeration(c1, c2, price2, delta):
    """A service on two GPU types: the search's cheapest cost and minimal card vectors within delta
    equal those of every vector of up to 8 cards a type (enumerated with every instance count)."""
    c1 = [*c1, (1, 0.3, 0.3)]   # each type can serve alone within the enumeration's 8 cards
    c2 = [*c2, (2, 0.45, 0.45)]

    def search():
        return ServiceSearch([TypeFrontier("x", 1.0, c1), TypeFrontier("y", price2, c2)], (0.0, 0.0))
    m_ref, ref = vectors_by_enumeration(search().types, delta)
    m, ours = search().within(delta)
    assert m == pytest.approx(m_ref)
    assert [(round(c, 9), v) for c, v in ours] == [(round(c, 9), v) for c, v in ref]


def test_a_service_without_decode_demand_starts_with_it_met():
    """Prefill only (share 0.4 a card): three cards serve, whatever decode says."""
    s = ServiceSearch([TypeFrontier("x", 2.0, [(1, 0.4, 0.0)])], (0.0, 1.0))
    assert s.within(0.0) == (6.0, [(6.0, {"x": 3})])


@settings(max_examples=30, deadline=None)
@given(st.lists(st.dictionaries(st.tuples(st.integers(0, 3), st.integers(0, 1)), st.floats(0, 10),
                                min_size=1, max_size=5), min_size=1, max_size=3),
       st.floats(0.5, 4), st.floats(0.5, 4))
def test_residue_dp_equals_enumeration(options, p0, p1):
    """One option per group at the least Σ cost + waste, against every combination."""
    opts = [{r: (c, ((i, r),)) for r, c in o.items()} for i, o in enumerate(options)]
    radix, price = [4, 2], [p0, p1]
    best, picks = decompose.residue_dp(opts, radix, price)
    brute = math.inf
    for combo in itertools.product(*[list(o.items()) for o in opts]):
        r = [sum(k[0][g] for k in combo) % radix[g] for g in range(2)]
        brute = min(brute, sum(c for _, (c, _) in combo) + sum((-r[g]) % radix[g] * price[g] for g in range(2)))
    assert best == pytest.approx(brute)
    chosen = [dict(o)[r] for o, (_, r) in zip([{k: v[0] for k, v in o.items()} for o in opts], picks)]
    r = [sum(p[1][g] for p in picks) % radix[g] for g in range(2)]
    assert sum(chosen) + sum((-r[g]) % radix[g] * price[g] for g in range(2)) == pytest.approx(brute)


def test_partitions_are_every_exact_cover_within_the_slack():
    """Classes a, b, c with services {a} {b} {c} {a,b} {a,b,c}: the covers and their costs, cheapest
    first, those within the slack only."""
    m = SimpleNamespace(services=[SimpleNamespace(classes=k) for k in
                                  (("a",), ("b",), ("c",), ("a", "b"), ("a", "b", "c"))])
    cost = [1.0, 2.0, 3.0, 2.5, 7.0]
    assert decompose.partitions(["a", "b", "c"], m, cost, 10.0) == [(5.5, (3, 2)), (6.0, (0, 1, 2)), (7.0, (4,))]
    assert decompose.partitions(["a", "b", "c"], m, cost, 0.5) == [(5.5, (3, 2)), (6.0, (0, 1, 2))]
    assert decompose.partitions(["a", "b", "c"], m, [1.0, 2.0, 3.0, math.inf, math.inf], 0.0) == [(6.0, (0, 1, 2))]


# ------------------------------------------------------------------------ the whole solve
@settings(max_examples=25, deadline=None)
@given(pre_a=st.integers(500, 3000), pre_b=st.integers(500, 3000), dec_a=st.integers(100, 600),
       dec_b=st.integers(100, 600), cap_a=st.integers(3000, 9000), cap_b=st.integers(3000, 9000),
       cap_ab=st.integers(2000, 9000), price_h20=st.sampled_from([3.0, 5.0, 8.0]))
def test_decomposition_equals_enumeration(pre_a, pre_b, dec_a, dec_b, cap_a, cap_b, cap_ab, price_h20):
    """The two-class fleet of test_fleet (own or shared pools, h100 and h20): the optimum by
    enumeration, and each class served once."""
    shared, svcs = two_class_fleet(pre_a, dec_a, pre_b, dec_b, cap_a, cap_b, cap_ab, price_h20, None)
    m = milp.build_fleet(shared, svcs, floor_rows=True)
    decompose.decompose(m, {o.id: o.gpu.node_cards for o in shared.gpus})
    assert milp.pulp.value(m.cost) == pytest.approx(fleet_oracle(shared, svcs), rel=1e-9)
    chosen = {m.service_of[i] for i in milp.selection(m)}
    assert sorted(k for s in chosen for k in svcs[s].classes) == ["a", "b"]


def test_a_plan_outside_the_first_budget_is_found_and_proven():
    """One card of h100 (10/h) serves the class; 24 cards of h20 (1/h) do too. Nodes continuous,
    h100 is cheaper (10 against 24), but its whole node costs 80: the optimum, 3 h20 nodes at 24/h,
    is 14/h above the bound, past the first budget (one h20 node-hour, 8/h): a later round finds it
    and proves it (the first round's best, 80/h, is not within its budget)."""
    res = resolved([{"id": "h100", "price_per_gpu_hour": 10}, {"id": "h20", "price_per_gpu_hour": 1}])
    svcs = [milp.Service("a", (cand("colocated", "h100", 1, pre=2400, dec=2400),
                               cand("colocated", "h20", 1, pre=100, dec=100)), milp.Demand(2400, 2400), ("a",))]
    shared = milp.Shared("t", res.gpus, res.problem.limits)
    m = milp.build_fleet(shared, svcs, floor_rows=True)
    decompose.decompose(m, {o.id: o.gpu.node_cards for o in shared.gpus})
    assert milp.pulp.value(m.cost) == pytest.approx(24.0) == fleet_oracle(shared, svcs)
    assert milp.nodes(m) == {"h100": (0, 0), "h20": (3, 0)}


def three_class_fleet(caps, prices):
    """Classes a, b, c on h100, h20 and l40s (prices given): services {a}, {b}, {c},
    {a,b}, {a,b,c}, each with prefill-only, decode-only and colocated candidates of 1, 2 and 4 cards."""
    res = resolved([{"id": g, "price_per_gpu_hour": p} for g, p in zip(("h100", "h20", "l40s"), prices)])
    demand = {"a": (3000.0, 400.0), "b": (1500.0, 900.0), "c": (800.0, 200.0)}
    svcs = []
    for j, ks in enumerate((("a",), ("b",), ("c",), ("a", "b"), ("a", "b", "c"))):
        cs = []
        for g, (pre, dec) in zip(("h100", "h20", "l40s"), caps):
            f = 1.0 - 0.1 * j   # a shared pool serves its mix a little worse
            cs += [cand("prefill", g, 2, pre=pre * f), cand("decode", g, 4, dec=dec * f),
                   cand("colocated", g, 1, pre=pre * f / 3, dec=dec * f / 5)]
        d = [sum(demand[k][r] for k in ks) for r in (0, 1)]
        svcs.append(milp.Service("+".join(ks), tuple(cs), milp.Demand(*d), ks))
    return milp.Shared("t", res.gpus, res.problem.limits), svcs


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.floats(200, 3000), st.floats(50, 600)), min_size=3, max_size=3),
       st.tuples(st.sampled_from([10.0, 12.0]), st.floats(2, 9), st.floats(1, 6)))
@example([(200.0, 50.0)] * 3, (10.0, 6.0, 6.0))   # the decomposition gives up: the MILP
def test_decomposition_equals_the_milp_at_a_zero_gap(caps, prices):
    """Three classes, three GPU types, three roles: the decomposition's cost is the MILP's proven
    optimum (HiGHS to a zero gap), and its objective (with the fewest-nodes tie-break) no higher. Where
    it gives up within its budget (`TooLarge`: the example Hypothesis found on 2026-12-07, every class's
    capacities alike and two GPU types at one price), `decompose.solve` runs the MILP to the same cost."""
    shared, svcs = three_class_fleet(caps, prices)
    m = milp.build_fleet(shared, svcs, floor_rows=True)
    rep = milp.solve(m, gap=0.0, gap_abs=1e-9)
    assert rep.status == milp.SolverStatus.optimal
    d = milp.build_fleet(shared, svcs, floor_rows=True)
    try:
        objective = decompose.decompose(d, {o.id: o.gpu.node_cards for o in shared.gpus})
    except shells.TooLarge:
        again = milp.build_fleet(shared, svcs, floor_rows=True)
        fallback = decompose.solve(again, shared.gpus, shared.limits, SolverOptions(mip_gap=0.0), False)
        assert fallback.method != "decomposition" and fallback.status == milp.SolverStatus.optimal
        assert milp.pulp.value(again.cost) == pytest.approx(rep.objective, rel=1e-9)
        return
    assert milp.pulp.value(d.cost) == pytest.approx(rep.objective, rel=1e-9)
    assert objective <= rep.objective_value + 1e-9
    assert all(c.valid(1e-7) for c in d.prob.constraints.values())


def klass(name: str, model: str, qps: float, prompt: int, output: int, ttft: str, tpot: str) -> dict:
    """A request class as a fleet file writes it."""
    return {"name": name, "model": model, "workload": {"qps": qps, "input_tokens": prompt, "output_tokens": output},
            "slo": {"ttft": ttft, "tpot": tpot}}


def small_fleet(**limits) -> FleetProblem:
    return FleetProblem.model_validate({
        "name": "two", "gpus": ["h100", "h20", "l40s"], "limits": limits, "classes": [
            klass("chat", "llama-3.1-8b", 40, 1000, 300, "1s", "50ms"),
            klass("rag", "llama-3.1-8b", 10, 6000, 200, "2s", "60ms"),
            klass("big", "llama-3.1-70b", 5, 2000, 400, "2s", "80ms")]})


def test_solve_uses_the_decomposition_and_finds_the_milps_optimum():
    """A fleet of three classes of two models on three GPU types: `solve()` decomposes, proves a zero
    gap, and costs what the MILP at a zero gap costs; its plan verifies as the MILP's does."""
    f = small_fleet()
    ours = solve(f, "fleet")
    exact = f.model_copy(update={"solver": f.solver.model_copy(update={"method": "milp", "mip_gap": 0.0})})
    ref = solve(exact, "fleet")
    assert (ours.solver.method, ours.solver.gap, ref.solver.method) == ("decomposition", 0.0, "milp")
    assert ours.cost_per_hour == pytest.approx(ref.cost_per_hour, rel=1e-9)
    assert ours.verification.passed and ours.cost_per_hour > 0


@pytest.mark.parametrize("limits", [{"power": "200kW"}, {"max_gpu_types": 2}, {"max_pool_shapes": 6},
                                    {"budget_per_hour": 10_000}])
def test_a_fleet_limit_keeps_the_milp(limits):
    """A limit couples the services beyond whole nodes: the MILP plans the fleet."""
    assert solve(small_fleet(**limits), "fleet").solver.method == "milp"


def test_an_excluded_plan_is_avoided_at_the_optimums_cost():
    """The decomposition's plan of one service excluded (as verification does with a failing
    colocated pool): another plan of the same cost, or the MILP at the decomposition's bound, with
    the same optimum the MILP finds without the decomposition."""
    from planner.plan.cuts import add_no_goods
    shared, svcs = three_class_fleet([(1200.0, 300.0), (700.0, 150.0), (400.0, 90.0)], (10.0, 4.0, 3.0))
    m = milp.build_fleet(shared, svcs, floor_rows=True)
    decompose.decompose(m, {o.id: o.gpu.node_cards for o in shared.gpus})
    picked = milp.selection(m)
    s = m.service_of[next(iter(picked))]
    point = {(svcs[s].key, m.candidates[i]): n for i, n in picked.items() if m.service_of[i] == s}
    opts = SolverOptions()
    ref = milp.build_fleet(shared, svcs, floor_rows=True)
    add_no_goods(ref, [point])
    want = milp.solve(ref, gap=0.0, gap_abs=1e-9)
    again = milp.build_fleet(shared, svcs, floor_rows=True)
    add_no_goods(again, [point])
    rep = decompose.solve(again, shared.gpus, shared.limits, opts, False, [point])
    assert rep.status == milp.SolverStatus.optimal
    assert rep.objective == pytest.approx(want.objective, rel=1e-9)
    now = {(svcs[s].key, again.candidates[i]): n for i, n in milp.selection(again).items() if again.service_of[i] == s}
    assert now != point


def test_the_same_fleet_built_again_reuses_its_optimum(monkeypatch):
    """A plan that fails verification is excluded and the same services built again: the optimum's
    card vectors are taken from the last search (no search runs), and the plan is the same."""
    shared, svcs = three_class_fleet([(1200.0, 300.0), (700.0, 150.0), (400.0, 90.0)], (10.0, 4.0, 3.0))
    node = {o.id: o.gpu.node_cards for o in shared.gpus}
    first = milp.build_fleet(shared, svcs, floor_rows=True)
    decompose.decompose(first, node)
    monkeypatch.setattr(decompose, "searches", lambda *a: pytest.fail("searched again"))
    again = milp.build_fleet(shared, svcs, floor_rows=True)
    decompose.decompose(again, node)
    assert milp.selection(again) == milp.selection(first) and milp.nodes(again) == milp.nodes(first)
    other = milp.build_fleet(shared, [svcs[0], svcs[1], svcs[2]], floor_rows=True)   # other services: a search
    with pytest.raises(pytest.fail.Exception):
        decompose.decompose(other, node)


def test_cli_says_which_method_solved_the_fleet(tmp_path):
    """`plan solve` of a fleet without limits: the JSON's solver.method is 'decomposition' at gap 0, and
    the text says '(exact decomposition)'; with `solver.method: milp` both say the MILP."""
    import yaml
    from click.testing import CliRunner

    import cli
    spec = small_fleet().model_dump(mode="json", exclude_defaults=True)
    for method, word in (("auto", "decomposition"), ("milp", "milp")):
        path = tmp_path / f"{method}.yaml"
        path.write_text(yaml.safe_dump({**spec, "solver": {"method": method}}))
        r = CliRunner().invoke(cli.main, ["solve", str(path), "--out", str(tmp_path / f"{method}.json")])
        assert r.exit_code == 0, r.output
        d = __import__("json").loads((tmp_path / f"{method}.json").read_text())
        assert d["solver"]["method"] == word and d["verification"]["passed"]
        assert ("solver: highs optimal (exact decomposition)" in r.output) == (word == "decomposition")
        assert d["solver"]["gap"] == 0.0 or word == "milp"


def test_a_class_ttft_failure_in_a_shared_service_excludes_that_services_plan():
    """A TTFT check of a service of several classes names the class before the service
    ('ttft[a:a+b/colocated[…]]'): the failing service's plan is the point to exclude (exactly), as
    for 'tpot[a+b/…]'; until 2026-12-07 it matched no service and went straight to the candidate cut."""
    from planner.plan.cuts import points_of
    c1, c2 = cand("colocated", "h100", 8, pre=1000, dec=100), cand("colocated", "h20", 4, pre=500, dec=50)
    chosen = {"a+b": {c1: 2}, "c": {c2: 1}}
    for name in ("ttft[a:a+b/colocated[x]]", "tpot[a+b/colocated[x]]"):
        v = SimpleNamespace(failed=[SimpleNamespace(name=name)])
        assert points_of(chosen, v) == [{("a+b", c1): 2}]
    assert points_of(chosen, SimpleNamespace(failed=[SimpleNamespace(name="ttft[c:c/colocated[x]]")])) == \
        [{("c", c2): 1}]


def test_a_fleet_whose_tied_plans_fail_a_class_ttft_is_planned_as_the_milp_plans_it():
    """gpt-oss-120b, five classes on B200, Ascend 910B and MI300X: the decomposition's first plans
    (41.20 RMB/h) put an 8k-token, 300 ms class beside a long-answer one, whose colocated pool misses
    that class's TTFT at its routed mix. Those plans are excluded and one of the same cost verifies, as
    the MILP at a zero gap finds; until 2026-12-07 the candidate cut ran out of retries (exit 4)."""
    def cls(name, qps, s_in, s_out, ttft, tpot):
        return {"name": name, "model": "gpt-oss-120b", "workload": {"qps": qps, "input_tokens": s_in,
                                                                     "output_tokens": s_out},
                "slo": {"ttft": ttft, "tpot": tpot}}
    f = FleetProblem.model_validate({
        "name": "f22", "gpus": [{"id": "b200", "price_per_gpu_hour": 28.8}, "ascend-910b", "mi300x"],
        "prune_dominated": False, "classes": [
            cls("m0c0", 0.04867, 8000, 1, "300ms", "40ms"), cls("m0c1", 1.0, 500, 1000, "30s", "80ms"),
            cls("m0c2", 0.01888, 1, 1000, "1s", "40ms"), cls("m0c3", 0.1069, 50, 1000, "5s", "200ms"),
            cls("m0c4", 0.725, 8000, 10, "300ms", "80ms")]})
    ours = solve(f, "fleet")
    exact = f.model_copy(update={"solver": f.solver.model_copy(update={"method": "milp", "mip_gap": 0.0})})
    assert ours.verification.passed and ours.cuts[0] > 0 and ours.cuts[1] == 0   # exact exclusions, no candidate cut
    assert ours.cost_per_hour == pytest.approx(solve(exact, "fleet").cost_per_hour, rel=1e-9)
    assert ours.cost_per_hour == pytest.approx(41.2)


def test_a_service_whose_cheapest_vector_passes_the_card_cap_falls_back(monkeypatch):
    """The cheap type serves with 10 cards (cost 5), past a cap of 8; the dear one with 1 (cost 10).
    The search may not return the dear vector as the cheapest (the fleet's plan would be dearer than
    the MILP's, reported exact): it gives up, and the MILP plans the fleet. Until 2026-12-07 the last
    type's cards were cut at the cap without a word."""
    from planner.plan import shells
    monkeypatch.setattr(shells, "MAX_CARDS", 8)
    s = ServiceSearch([TypeFrontier("x", 10.0, [(1, 1.0, 1.0)]), TypeFrontier("y", 0.5, [(1, 0.1, 0.1)])], (0.0, 0.0))
    with pytest.raises(shells.TooLarge):
        s.within(0.0)
    ok = ServiceSearch([TypeFrontier("x", 10.0, [(1, 1.0, 1.0)]), TypeFrontier("y", 0.5, [(1, 0.2, 0.2)])], (0.0, 0.0))
    assert ok.within(0.0) == (2.5, [(2.5, {"y": 5})])


def test_a_service_no_vector_within_the_cap_serves_gives_up_before_building_frontiers(monkeypatch):
    """Decode shares of 0.05 and 0.03 a card, a cap of 8 cards a type: 0.64 at most, short of the
    demand, so no frontier is built (a Qwen3-235B class at 1,535 req/s on GB200, MI300X-class and H20
    built three to 2,048 cards, 90 s, before the MILP solved the fleet in 1.5 s)."""
    from planner.plan import shells
    monkeypatch.setattr(shells, "MAX_CARDS", 8)
    types = [TypeFrontier("x", 2.0, [(1, 0.5, 0.05)]), TypeFrontier("y", 1.0, [(2, 0.5, 0.06)])]
    with pytest.raises(shells.TooLarge):
        ServiceSearch(types, (0.0, 0.0)).within(0.0)
    assert [len(t.F) for t in types] == [1, 1]


def test_a_fleet_whose_cheapest_service_passes_the_card_cap_costs_the_milps():
    """Llama-3.1-8B, a 100k-token class at 53 req/s: ~2,100 A100 cards at 0.31/h are its cheapest plan,
    past the search's 2,048. The decomposition returned 932.13/h as exact where the MILP finds 663.77."""
    f = FleetProblem.model_validate({
        "name": "cap", "gpus": [{"id": "a100-80g", "price_per_gpu_hour": 0.3131}, "ascend-910b"], "sharing": "none",
        "classes": [klass("chat", "llama-3.1-8b", 40.78, 2000, 200, "2s", "30ms"),
                    klass("long", "llama-3.1-8b", 53.45, 100000, 1, "10s", "30ms")]})
    ours = solve(f, "fleet")
    exact = f.model_copy(update={"solver": f.solver.model_copy(update={"method": "milp", "mip_gap": 0.0})})
    assert ours.cost_per_hour == pytest.approx(solve(exact, "fleet").cost_per_hour, rel=1e-9)
    assert ours.verification.passed


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([1, 2, 4, 8]), st.floats(0.0, 1.5), st.floats(0.0, 1.5)), min_size=1,
                max_size=12), st.integers(1, 20))
def test_a_frontier_is_the_pareto_set_of_every_sum_of_candidates(cands, k):
    """F[k] against its definition: every sum of candidates within k cards (each candidate's sums
    added one card count at a time, dominated candidates too), shares capped at 1, Pareto-maximal."""
    ours = TypeFrontier("x", 1.0, cands)
    ref = [(np.zeros(1), np.zeros(1))]
    for n in range(1, k + 1):
        a_s, b_s = [ref[n - 1][0]], [ref[n - 1][1]]
        for cards, a, b in cands:
            if cards <= n:
                a_s.append(ref[n - cards][0] + a)
                b_s.append(ref[n - cards][1] + b)
        ref.append(pareto(np.concatenate(a_s), np.concatenate(b_s)))
    a, b = ours.upto(k)
    assert np.array_equal(a, ref[k][0]) and np.array_equal(b, ref[k][1])


def test_a_decomposition_past_its_work_budget_hands_over():
    """The frontiers' work counts against one budget for the fleet: past it, `TooLarge` (the MILP)."""
    from planner.plan.shells import Budget, TooLarge
    t = TypeFrontier("x", 1.0, [(1, 0.01, 0.02), (1, 0.02, 0.01)], Budget(points=50))
    with pytest.raises(TooLarge, match="more than 50 frontier points"):
        t.upto(40)


def test_the_work_budget_grows_with_the_milp():
    """1,000 points a MILP column within 250,000 … 10 million: a fleet of 90 columns (the hunt's 100004,
    whose search summed 4.9 million points in 0.58 s where HiGHS took 0.02 s) hands over after 250,000;
    the benchmark's 4 × 12 fleets (2,086 and 5,625 columns, 1.1 and 4.4 million points) keep theirs."""
    from planner.plan.shells import frontier_budget
    assert [frontier_budget(n) for n in (0, 90, 250, 2_086, 5_625, 10_000, 50_000)] == \
        [250_000, 250_000, 250_000, 2_086_000, 5_625_000, 10_000_000, 10_000_000]


@pytest.mark.parametrize("caps, prices, found", [
    ([(2000.0, 500.0), (900.0, 200.0), (300.0, 60.0)], (12.0, 6.0, 2.0), True),
    ([(800.0, 250.0), (1500.0, 120.0), (600.0, 300.0)], (10.0, 4.0, 3.0), True),
    ([(1200.0, 300.0), (700.0, 150.0), (400.0, 90.0)], (10.0, 4.0, 3.0), False),
])
def test_a_card_vector_whose_every_plan_is_excluded_is_left_out(monkeypatch, caps, prices, found):
    """Verification excluded every selection of a chosen service within its card vector (`instances`
    finds none): the vector is left out and the search runs again. A plan it finds at the first
    optimum's cost is the optimum (the exclusions never lower it): here as the MILP's proven optimum,
    without that vector. A dearer one proves nothing (a plan at the optimum's cost may need a larger
    vector): `NoPlanAtOptimum`, whose bound is the first optimum, and the MILP."""
    shared, svcs = three_class_fleet(caps, prices)
    node = {o.id: o.gpu.node_cards for o in shared.gpus}
    first = milp.build_fleet(shared, svcs, floor_rows=True)
    decompose._LAST.clear()
    objective = decompose.decompose(first, node)
    j, vec = decompose._LAST[2][frozenset()][1][0]
    real = decompose.instances

    def none_within(m, jj, v, excluded=()):
        if (jj, v) == (j, vec):
            raise decompose.NoInstances(jj, v, svcs[jj].key)
        return real(m, jj, v, excluded)
    monkeypatch.setattr(decompose, "instances", none_within)
    again = milp.build_fleet(shared, svcs, floor_rows=True)
    if not found:
        with pytest.raises(decompose.NoPlanAtOptimum) as e:
            decompose.decompose(again, node)
        assert e.value.bound == pytest.approx(objective, rel=1e-9)
        return
    assert decompose.decompose(again, node) == pytest.approx(objective, rel=1e-9)
    cards: dict[str, int] = {}
    for i, n in milp.selection(again).items():
        if again.service_of[i] == j:
            cards[again.candidates[i].gpu] = cards.get(again.candidates[i].gpu, 0) + n * again.candidates[i].cards
    assert cards != vec and all(c.valid(1e-7) for c in again.prob.constraints.values())
    ref = milp.build_fleet(shared, svcs, floor_rows=True)
    assert milp.pulp.value(again.cost) == pytest.approx(milp.solve(ref, gap=0.0, gap_abs=1e-9).objective, rel=1e-9)

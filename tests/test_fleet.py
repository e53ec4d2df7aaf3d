"""Fleets: several request classes on one fleet.

The MILP is checked against exhaustive enumeration of the same candidates (with the choice of
shared or separate pools), pruning against the unpruned optimum, and the physics path end to
end: sharing found when cheaper, a cap forcing a second GPU type, per-class costs adding up,
every plan verified, and the command line.
"""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.errors import BadInput, Infeasible
from planner.input.fleet import FleetProblem
from planner.input.problem import Problem
from planner.plan import milp
from planner.plan.candidates import prune_dominated
from planner.plan.model import attribute_costs
from planner.plan.solve import solve
from planner.report.json import plan_json
from tests.test_milp import cand, oracle, resolved

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent


# ----------------------------------------------------------------- MILP vs enumeration
def fleet_oracle(shared: milp.Shared, svcs: list[milp.Service]) -> float:
    """Cheapest plan by enumeration: every way to serve each class by exactly one service,
    every instance-count vector within the MILP's bounds, nodes forced by ⌈cards/N⌉."""
    opts = {o.id: o for o in shared.gpus}
    classes = sorted({k for s in svcs for k in s.classes})
    best = math.inf
    for used in itertools.product((0, 1), repeat=len(svcs)):
        if any(sum(u for u, s in zip(used, svcs) if k in s.classes) != 1 for k in classes):
            continue
        chosen = [s for u, s in zip(used, svcs) if u]
        flat = [(s, c) for s in chosen for c in s.candidates]
        bounds = [range(milp.upper_bound(c, s.demand) + 1) for s, c in flat]
        for x in itertools.product(*bounds):
            ok = True
            for s in chosen:
                pre = sum(n * c.prefill_tok_s for n, (t, c) in zip(x, flat) if t is s)
                dec = sum(n * c.decode_tok_s for n, (t, c) in zip(x, flat) if t is s)
                if pre < s.demand.prefill_tok_s * (1 - 1e-9) or dec < s.demand.decode_tok_s * (1 - 1e-9):
                    ok = False
                    break
            if not ok:
                continue
            cost = 0.0
            for g, o in opts.items():
                cards = sum(n * c.cards for n, (_, c) in zip(x, flat) if c.gpu == g)
                nodes = math.ceil(cards / o.gpu.node_cards)
                if o.max_cards is not None and nodes * o.gpu.node_cards > o.max_cards:
                    ok = False
                    break
                cost += nodes * o.gpu.node_cards * o.price_per_card_hour
            if ok:
                best = min(best, cost)
    return best


def two_class_fleet(pre_a, dec_a, pre_b, dec_b, cap_a, cap_b, cap_ab, price_h20, cap_nodes):
    """Classes a and b: each alone (one colocated candidate each on h100 and h20) or together."""
    res = resolved([{"id": "h100", "price_per_gpu_hour": 10},
                    {"id": "h20", "price_per_gpu_hour": price_h20,
                     **({"max_nodes": cap_nodes} if cap_nodes is not None else {})}])

    def cands(cap):
        return (cand("colocated", "h100", 8, pre=cap, dec=cap / 4),
                cand("colocated", "h20", 4, pre=cap / 3, dec=cap / 10))
    svcs = [milp.Service("a", cands(cap_a), milp.Demand(pre_a, dec_a), ("a",)),
            milp.Service("b", cands(cap_b), milp.Demand(pre_b, dec_b), ("b",)),
            milp.Service("a+b", cands(cap_ab), milp.Demand(pre_a + pre_b, dec_a + dec_b), ("a", "b"))]
    return milp.Shared("t", res.gpus, res.problem.limits), svcs


@settings(max_examples=25, deadline=None)
@given(pre_a=st.integers(500, 3000), pre_b=st.integers(500, 3000), dec_a=st.integers(100, 600),
       dec_b=st.integers(100, 600), cap_a=st.integers(3000, 9000), cap_b=st.integers(3000, 9000),
       cap_ab=st.integers(2000, 9000), price_h20=st.sampled_from([3.0, 5.0, 8.0]),
       cap_nodes=st.sampled_from([None, 1, 2]))
def test_fleet_milp_equals_enumeration(pre_a, pre_b, dec_a, dec_b, cap_a, cap_b, cap_ab, price_h20, cap_nodes):
    shared, svcs = two_class_fleet(pre_a, dec_a, pre_b, dec_b, cap_a, cap_b, cap_ab, price_h20, cap_nodes)
    best = fleet_oracle(shared, svcs)
    for floor in (False, True):
        m = milp.build_fleet(shared, svcs, floor_rows=floor)
        rep = milp.solve(m)
        if math.isinf(best):
            assert rep.status == milp.SolverStatus.infeasible
            continue
        assert rep.status == milp.SolverStatus.optimal
        assert rep.objective == pytest.approx(best, rel=1e-6)
        chosen = {m.service_of[i] for i in milp.selection(m)}
        served = [k for s in chosen for k in svcs[s].classes]
        assert sorted(served) == ["a", "b"]           # each class exactly once, by a service in use


def test_sharing_is_chosen_when_one_pool_serves_both():
    """a and b each need a fraction of an h100 node (80/h); alone they pay two nodes, together one."""
    shared, svcs = two_class_fleet(2000, 300, 2000, 300, 8000, 8000, 8000, 50.0, None)
    m = milp.build_fleet(shared, svcs)
    rep = milp.solve(m)
    assert rep.objective == pytest.approx(80.0)
    assert {m.services[m.service_of[i]].key for i in milp.selection(m)} == {"a+b"}


# --------------------------------------------------------------------------- pruning
def test_prune_dominated_by_hand():
    """Two 4-card instances of P4 (2×3,000 prefill) replace one P8 (5,000): P8 goes; D8 with more
    decode per card than two D4 stays; equal candidates keep the first."""
    p4, p8 = cand("prefill", "h100", 4, pre=3000), cand("prefill", "h100", 8, pre=5000)
    d4, d8 = cand("decode", "h100", 4, dec=100), cand("decode", "h100", 8, dec=250)
    twin = cand("decode", "h100", 4, dec=100)
    other_gpu = cand("prefill", "h20", 8, pre=1000)
    assert prune_dominated((p4, p8, d4, d8, twin, other_gpu)) == (p4, d4, d8, other_gpu)


def pairwise_scan(cands, node_cards=None):
    """The definition, one candidate at a time: c goes when a candidate o not dropped before
    replaces it (k = cards_c/cards_o whole, k·capacity_o ≥ capacity_c, strictly or k > 1 or o first,
    and with node loss o's node takes no more of either role than c's)."""
    from planner.plan.redundancy import unit_loss_of

    def loses_no_more(o, c):
        if node_cards is None:
            return True
        n = node_cards[c.gpu]
        return all(unit_loss_of(o, getattr(o, a), "node", n) <= unit_loss_of(c, getattr(c, a), "node", n)
                   for a in ("prefill_tok_s", "decode_tok_s"))

    dropped = set()
    for i, c in enumerate(cands):
        for j, o in enumerate(cands):
            if j == i or j in dropped or (o.gpu, o.role) != (c.gpu, c.role) or c.cards % o.cards:
                continue
            k = c.cards // o.cards
            p, d = k * o.prefill_tok_s, k * o.decode_tok_s
            if p >= c.prefill_tok_s and d >= c.decode_tok_s and loses_no_more(o, c) and \
                    (p > c.prefill_tok_s or d > c.decode_tok_s or k > 1 or j < i):
                dropped.add(i)
                break
    return tuple(c for i, c in enumerate(cands) if i not in dropped)


def test_prune_dominated_keeps_shapes_apart_under_a_pool_shape_cap():
    """With limits.max_pool_shapes, two TP4 prefill instances replacing a TP8 one would add a pool
    shape: only a candidate of the same parallelism may replace another; and a fleet with the cap
    keeps its TP8 candidate."""
    from dataclasses import replace
    p4, p8 = cand("prefill", "h100", 4, pre=3000), cand("prefill", "h100", 8, pre=5000)
    p8_slow = replace(p8, prefill_tok_s=4000.0)
    assert prune_dominated((p4, p8, p8_slow)) == (p4,)
    assert prune_dominated((p4, p8, p8_slow), same_shape=True) == (p4, p8)
    from planner.plan.services import needed
    capped = resolved([{"id": "h100", "price_per_gpu_hour": 10}])
    capped = replace(capped, problem=capped.problem.model_copy(update={"limits": capped.problem.limits.model_copy(
        update={"max_pool_shapes": 2})}))
    assert needed((p4, p8, p8_slow), capped) == (p4, p8)


@pytest.mark.parametrize("node", [False, True])
@pytest.mark.parametrize("name", ["llama70b_chat.yaml", "deepseek_qps.yaml"])
def test_prune_dominated_equals_the_pairwise_scan_on_real_candidates(node, name):
    """The array version keeps exactly what the scan keeps, on the candidates of real problems
    (llama70b_chat: 190, 72 kept; with node redundancy, the node-loss condition too); and it does prune."""
    from planner.input.load import load_problem
    from planner.plan.candidates import generate
    from planner.plan.resolve import resolve
    res = resolve(load_problem(ROOT / "problems" / name), name)
    cands = generate(res).candidates
    node_cards = {o.id: o.gpu.node_cards for o in res.gpus} if node else None
    kept = prune_dominated(cands, node_cards)
    assert kept == pairwise_scan(cands, node_cards)
    assert 0 < len(kept) < len(cands)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["prefill", "decode", "colocated"]), st.sampled_from(["h100", "h20"]),
                          st.sampled_from([1, 2, 4, 8]), st.integers(1500, 4000), st.integers(200, 800)),
                min_size=2, max_size=5))
def test_pruning_keeps_the_optimum(spec):
    cands = tuple(cand(r, g, n, pre=p if r != "decode" else 0, dec=d if r != "prefill" else 0)
                  for r, g, n, p, d in spec)
    res = resolved([{"id": "h100", "price_per_gpu_hour": 10}, {"id": "h20", "price_per_gpu_hour": 4}])
    demand = milp.Demand(5000, 600)
    full = oracle(res, cands, demand)[0]
    pruned = oracle(res, prune_dominated(cands), demand)[0]
    assert (math.isinf(full) and math.isinf(pruned)) or pruned == pytest.approx(full)


# ------------------------------------------------------------------- physics, end to end
def small(name, qps, s_in=1000, s_out=200, ttft="1s", tpot="50ms", model="llama-3.1-8b"):
    return {"name": name, "model": model, "workload": {"qps": qps, "input_tokens": s_in, "output_tokens": s_out},
            "slo": {"ttft": ttft, "tpot": tpot}}


def fleet(classes, gpus=("h20",), **kw) -> FleetProblem:
    return FleetProblem.model_validate({"name": "t", "classes": classes, "gpus": list(gpus), **kw})


def test_one_class_fleet_equals_the_single_problem():
    k = small("chat", 20)
    plan = solve(fleet([k], ("h20", "l40s")))
    single = solve(Problem.model_validate({**{x: k[x] for x in ("model", "workload", "slo")},
                                                   "gpus": ["h20", "l40s"]}))
    assert plan.cost_per_hour == pytest.approx(single.cost_per_hour)


def test_two_small_classes_share_a_pool_and_it_is_cheaper():
    """Two small Llama-70B classes on whole-node (TP8) H100 instances: apart, each needs an
    instance of its own (2 nodes, 194.40 RMB/h); one pool serves both (1 node, 97.20 RMB/h)."""
    classes = [small("a", 1, 2000, 300, model="llama-3.1-70b"),
               small("b", 1, 1000, 500, ttft="2s", model="llama-3.1-70b")]
    tp8 = {"serving": {"parallelism": {"tp": [8], "pp": [1]}}}
    shared = solve(fleet(classes, ("h100",), **tp8))
    apart = solve(fleet(classes, ("h100",), sharing="none", **tp8))
    assert (shared.cost_per_hour, apart.cost_per_hour) == pytest.approx((97.2, 194.4))
    d = plan_json(shared)
    assert shared.cost_per_hour < apart.cost_per_hour
    assert {c["service"] for c in d["classes"]} == {"a+b"}
    assert d["classes"][0]["shares_pools_with"] == ["b"]
    names = [c["name"] for c in d["verification"]["checks"]]
    assert any(n.startswith("ttft[a:a+b/") for n in names) and any(n.startswith("ttft[b:a+b/") for n in names)
    assert d["verification"]["passed"]


def test_a_cap_forces_a_second_gpu_type():
    """Three H100 and three H20 nodes (471.60 RMB/h) serve both classes; with H100 capped at one
    node the rest moves to H20, which costs more (twelve H20 nodes beside the H100 one, 817.20
    RMB/h). Two H20 nodes (411.60 RMB/h) from the twenty-fourth session put the bulk class's
    colocated H100 pool at 160 of its 170 slots, its TTFT 1.86 s with 1.45 s of slot wait; since
    the slots' peakedness (`queueing.slot_peakedness`) the wait there reads over the 3 s limit and
    the pool runs at 154. (That pool simulated at 0.82–0.97 s over two seeds of 10⁵ requests: so
    near its slots the wait was already over-planned; left for later.) Since 2026-12-05's physics
    the free plan is three H100 and two H20 nodes again (411.60 RMB/h; the bulk class's colocated
    H100 pool at 158.2 of 159 slots, TTFT 2.47 s planned, 0.93–1.40 s simulated over two seeds of
    10⁵ requests, every SLO met), and the capped one eleven H20 nodes beside the H100 (757.20)."""
    classes = [small("chat", 300), small("bulk", 300, 2000, 500, ttft="3s")]
    free = solve(fleet(classes, ("h100", "h20")))
    assert plan_json(free)["totals"]["nodes"] == {"h100": 3, "h20": 2}
    capped = solve(fleet(classes, ({"id": "h100", "max_nodes": 1}, "h20")))
    d = plan_json(capped)
    assert d["totals"]["nodes"]["h100"] == 1 and d["totals"]["nodes"]["h20"] > 2
    assert "availability[h100]" in d["binding"]
    assert capped.cost_per_hour > free.cost_per_hour == pytest.approx(411.6)
    assert d["verification"]["passed"]


def test_per_class_costs_add_up_to_the_total():
    plan = solve(fleet([small("a", 10), small("b", 3, 4000, 100, ttft="2s"),
                              small("c", 2, 500, 1000, model="qwen3-32b", ttft="2s")], ("h20", "l40s")))
    d = plan_json(plan)
    per_class, per_pool = attribute_costs(plan)
    assert sum(per_class.values()) == pytest.approx(plan.cost_per_hour, rel=1e-12)
    assert sum(per_pool) == pytest.approx(plan.cost_per_hour, rel=1e-12)
    assert sum(c["cost_per_hour"] for c in d["classes"]) == pytest.approx(d["cost_per_hour"])
    assert sum(c["cost_share"] for c in d["classes"]) == pytest.approx(1.0)
    for c in d["classes"]:    # cost per million output tokens is the class cost over its tokens
        assert c["cost_per_million_output_tokens"] == pytest.approx(
            c["cost_per_hour"] / (c["qps"] * 3600 * c["output_tokens"] / 1e6))


def test_fleet_is_no_dearer_than_its_classes_apart():
    """Separate problems cannot share nodes; the fleet can, so it costs at most their sum."""
    classes = [small("a", 4), small("b", 2, 2000, 400, ttft="2s"), small("c", 1, 500, 100, model="qwen3-32b")]
    plan = solve(fleet(classes, ("h20", "l40s")))
    apart = sum(solve(Problem.model_validate({**{x: k[x] for x in ("model", "workload", "slo")},
                                                      "gpus": ["h20", "l40s"]})).cost_per_hour for k in classes)
    assert plan.cost_per_hour <= apart + 1e-9


def test_infeasible_fleet_names_the_binding_cap():
    with pytest.raises(Infeasible, match=r"power_cap.*at most"):
        solve(fleet([small("a", 40), small("b", 40, model="qwen3-32b")], ("h20",),
                          limits={"power": "3kW"}))


def test_class_that_no_gpu_can_serve_is_named():
    with pytest.raises(Infeasible, match="class 'fast'.*TPOT"):
        solve(fleet([small("ok", 1), small("fast", 1, tpot="0.1ms")], ("h20",)))


def test_bad_class_model_names_its_field():
    with pytest.raises(BadInput, match=r"classes\[1\]\.model: unknown model 'llama-9b'"):
        solve(fleet([small("a", 1), small("b", 1, model="llama-9b")]), "f.yaml")


# ---------------------------------------------------------------------------- CLI
def plan(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-c", "import cli; cli.main()", *args], cwd=cwd,
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def worked_example(tmp_path_factory):
    """`plan solve problems/fleet_mix.yaml --out FILE`, run once: (exit code, stdout, stderr, the
    JSON plan written to FILE — the same data as --json prints)."""
    out = tmp_path_factory.mktemp("fleet_mix") / "plan.json"
    r = plan("solve", "problems/fleet_mix.yaml", "--out", str(out))
    return r.returncode, r.stdout, r.stderr, (json.loads(out.read_text()) if out.exists() else None)


def test_cli_solves_the_worked_example(worked_example):
    code, out, err, d = worked_example
    assert code == 0, err
    assert "Fleet plan for fleet-mix: 6 request classes, 3 models" in out
    assert "Verification: PASSED" in out
    assert d["kind"] == "fleet" and d["status"] == "optimal" and d["verification"]["passed"]
    shared = [s for s in d["services"] if len(s["classes"]) > 1]   # which classes share moves with the model
    assert shared and all(s["key"] in out for s in shared)
    assert {s["model"] for s in shared} <= {"deepseek-r1", "llama-3.1-8b", "qwen3-235b-a22b"}
    assert [c["name"] for c in d["classes"]] == ["chat", "reasoning", "coding", "rag", "router", "summarise"]
    assert sum(c["cost_per_hour"] for c in d["classes"]) == pytest.approx(d["cost_per_hour"])
    assert d["solver"]["candidates"] < d["solver"]["candidates_before_pruning"]
    assert d["totals"]["power_kw"] <= 150


def test_cli_fleet_errors(tmp_path):
    r = plan("sweep", "problems/fleet_mix.yaml", "--tpot", "20ms:50ms", "--out", str(tmp_path / "s.csv"))
    assert r.returncode == 2 and "describes a fleet" in r.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("classes:\n  - {name: a, model: llama-3.1-8b, workload: {qps: 1, input_tokens: 10,"
                   " output_tokens: 10}, slo: {ttft: 1s, tpot: 50ms}, qos: 3}\ngpus: [h20]\nsharing: maybe\n")
    r = plan("solve", str(bad))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "classes[0].qos: unknown key" in r.stderr and "sharing:" in r.stderr
    bad.write_text("classes:\n  - {name: a+b, model: llama-3.1-8b, workload: {qps: 1, input_tokens: 10,"
                   " output_tokens: 10}, slo: {ttft: 1s, tpot: 50ms}}\ngpus: [h20, H20]\n")
    r = plan("solve", str(bad))
    assert r.returncode == 2 and "classes[0].name: a class name is" in r.stderr
    assert "gpus: GPU 'H20' is listed twice" in r.stderr


def test_worked_example_meets_every_class_slo(worked_example):
    """problems/fleet_mix.yaml: every pool's TPOT within the SLO of each class it serves, and a
    TTFT check for each class in each prefill-capable pool, all passing (the CLI's JSON plan)."""
    from planner.input.load import load_fleet
    f = load_fleet(ROOT / "problems" / "fleet_mix.yaml")
    code, _, err, d = worked_example
    assert code == 0, err
    slo = {k.name: k.slo for k in f.classes}
    checks = {c["name"]: c for c in d["verification"]["checks"]}
    for p in d["pools"]:
        for k in p["classes"]:
            if p["tpot_s"] is not None:
                assert p["tpot_s"] <= slo[k].tpot * (1 + 1e-9)
            if p["role"] != "decode":
                label = f"{k}:" if len(p["classes"]) > 1 else ""
                c = checks[f"ttft[{label}{p['service']}/{p['name']}]"]
                assert c["ok"] and c["limit"] == slo[k].ttft
    assert d["verification"]["passed"] and all(c["ok"] for c in checks.values())


def test_owned_nodes_and_budget_are_shared_by_the_fleet():
    """One owned H100 node at 2 RMB/GPU-hour is used before renting (both classes' pools may sit
    on it), one rented H20 node (8 × 7.50) does the rest; a budget below the cheapest fleet is
    infeasible and names budget_cap."""
    classes = [small("chat", 100), small("bulk", 100, 2000, 500, ttft="3s")]
    d = plan_json(solve(fleet(classes, ({"id": "h100", "owned_nodes": 1, "owned_cost_per_gpu_hour": 2}, "h20"))))
    assert d["totals"]["owned_nodes"] == {"h100": 1}
    assert d["cost_per_hour"] == pytest.approx(8 * 2 + 8 * 7.5)     # one owned H100 node + one rented H20
    assert d["verification"]["passed"]
    with pytest.raises(Infeasible, match="budget_cap"):
        solve(fleet(classes, ("h100", "h20"), limits={"budget_per_hour": 150}))


def test_simulated_shared_pool_holds_each_class_to_its_slo():
    """Two classes share Llama-70B pools: the simulator draws each request's class by QPS (2:1)
    and its lengths from that class; longer prompts wait as long but take longer to prefill."""
    from planner.studies.simulate import simulate_services
    classes = [small("long", 2, 4000, 200, ttft="3s", model="llama-3.1-70b"),
               small("short", 1, 500, 200, ttft="2s", model="llama-3.1-70b")]
    d = plan_json(solve(fleet(classes, ("h100",), serving={"parallelism": {"tp": [8], "pp": [1]}})))
    assert [s["key"] for s in d["services"]] == ["long+short"]
    sim = simulate_services(d, "t", requests=20_000)["long+short"]
    by = {c.name: c for c in sim.classes}
    assert by["long"].requests / by["short"].requests == pytest.approx(2.0, rel=0.05)
    assert by["long"].ttft.mean > by["short"].ttft.mean
    assert by["long"].slo.ttft_s == 3.0 and by["short"].slo.ttft_s == 2.0
    assert sim.passed == (not sim.violations)
    assert all(v.scope.startswith("class ") for v in sim.violations)
    assert sim.as_dict()["classes"][0]["name"] == "long"


def test_decode_headroom_caps_decode_utilisation():
    """max_decode_utilization_percent: 80 keeps every decode-capable pool at most 80 % busy (a
    verification check), and costs no less than no headroom."""
    classes = [small("chat", 60), small("bulk", 20, 2000, 500, ttft="3s")]
    free = solve(fleet(classes, ("h20",)))
    capped = solve(fleet(classes, ("h20",), serving={"max_decode_utilization_percent": 80}))
    checks = [c for c in plan_json(capped)["verification"]["checks"] if c["name"].startswith("decode_utilization[")]
    assert checks and all(c["value"] <= 0.8 + 1e-9 for c in checks)
    assert capped.cost_per_hour >= free.cost_per_hour - 1e-9 * free.cost_per_hour   # sums of prices: rounding
    assert not any(c["name"].startswith("decode_utilization[") for c in plan_json(free)["verification"]["checks"])


def test_many_classes_of_one_model_grow_the_services_linearly():
    """Beyond 16 classes of one model only their union may share pools besides each class alone:
    200 classes give 201 services (not 19,901 pairs), and the fleet still solves; more than 256
    classes is bad input."""
    from planner.input.fleet import MAX_CLASSES
    from planner.plan.services import sharing_subsets
    assert len(sharing_subsets(200)) == 1 and len(sharing_subsets(16)) == 16 * 15 // 2 + 1
    plan = solve(fleet([small(f"c{i}", 1 + i % 3) for i in range(200)], ("h20",)))
    assert len(plan.services) <= 201 and plan.verification.passed
    with pytest.raises(ValueError, match=str(MAX_CLASSES)):
        fleet([small(f"c{i}", 1) for i in range(MAX_CLASSES + 1)])


def test_fleets_run_highs_without_primal_heuristics_single_problems_with_them(monkeypatch):
    """The large MILPs (fleets; plans over periods likewise) run HiGHS with its primal heuristics
    off — the options reach highspy — while a single problem keeps them but for feasibility jump,
    RINS and RENS (`LIGHT_SEARCH`)."""
    from planner.plan import solver
    off = solver._solver("highs", 10.0, 1e-4, False, heuristics=False).optionsDict
    on = solver._solver("highs", 10.0, 1e-4, False).optionsDict
    rules = {"presolve_rule_off": solver.PRESOLVE_RULES_OFF}   # in every solve (plan.solver)
    assert off == {"mip_heuristic_effort": 0.0, "mip_heuristic_run_feasibility_jump": False, **rules}
    assert on == {"mip_heuristic_run_feasibility_jump": False, "mip_heuristic_run_rins": False,
                  "mip_heuristic_run_rens": False, **rules}
    seen: list[bool] = []
    real = milp.solve

    def spy(*a, heuristics=True, **kw):
        seen.append(heuristics)
        return real(*a, heuristics=heuristics, **kw)
    monkeypatch.setattr(milp, "solve", spy)
    f = fleet([small("a", 5), small("b", 3)])
    assert solve(f, "f").verification.passed and not seen   # the exact decomposition: no MILP (test_decompose)
    f = f.model_copy(update={"solver": f.solver.model_copy(update={"method": "milp"})})
    assert solve(f, "f").verification.passed and seen[0] is False
    seen.clear()
    assert solve(f.model_copy(update={"classes": f.classes[:1]}), "f").verification.passed and seen[0] is False
    seen.clear()
    p = Problem.model_validate({"name": "one", "model": "llama-3.1-8b", "gpus": ["h20"],
                                "workload": {"qps": 5, "input_tokens": 1000, "output_tokens": 200},
                                "slo": {"ttft": "1s", "tpot": "50ms"}})
    assert solve(p, "p").verification.passed and seen[0] is True
    seen.clear()
    from planner.input.problem import Profile
    from planner.plan.horizon import solve_horizon
    day = p.model_copy(update={"workload": p.workload.model_copy(update={
        "profile": Profile.model_validate({"qps_fraction": [0.5] * 12 + [1.0] * 12})})})
    # first the static plan for the peak (a single problem: defaults), then the period MILPs (off),
    # then the independent per-period plans of the comparison, whose cost alone is read (off)
    h = solve_horizon(day, "d", compare=True)
    assert h.cost > 0 and h.independent_cost >= h.cost - 1e-6
    assert len(seen) >= 4 and seen[0] is True and not any(seen[1:]), seen


LLAMA8_CFG = ('{"hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8, '
              '"intermediate_size": 14336, "vocab_size": 128256}')
LLAMA70_CFG = ('{"hidden_size": 8192, "num_hidden_layers": 80, "num_attention_heads": 64, "num_key_value_heads": 8, '
               '"intermediate_size": 28672, "vocab_size": 128256}')


@pytest.mark.parametrize("day", [False, True])
def test_two_models_under_one_name_are_refused_not_merged(tmp_path, day):
    """Two config.json files in folders of one name (an 8B and a 70B, both 'm'), or a folder named
    like a catalog model: the fleet counted '1 model', shared pools sized for the first between
    the classes, and exported the first checkpoint for both. Refused, naming both classes (over a
    day too), and a class's precision error names the class."""
    for d, cfg in (("p/m", LLAMA8_CFG), ("q/m", LLAMA70_CFG), ("llama-3.1-8b", LLAMA70_CFG)):
        (tmp_path / d).mkdir(parents=True)
        (tmp_path / d / "config.json").write_text(cfg)
    wl = {"qps": 5, "input_tokens": 1000, "output_tokens": 200}
    if day:
        wl["profile"] = {"qps_fraction": [0.5] * 12 + [1.0] * 12}

    def fleet(*models, precision=None):
        classes = [{"name": f"c{i}", "model": str(tmp_path / m) if "/" in m else m, "workload": wl,
                    "slo": {"ttft": "2s", "tpot": "50ms"}} for i, m in enumerate(models)]
        if precision:
            classes[-1]["precision"] = precision
        return FleetProblem.model_validate({"name": "f", "classes": classes, "gpus": ["h100"]})
    from planner.plan.horizon_fleet import solve_fleet_horizon

    def plan_of(f, source):   # a fleet over a day goes through its own solve
        return solve_fleet_horizon(f, source, compare=False) if day else solve(f, source)
    for models, name in ((("p/m/config.json", "q/m/config.json"), "'m'"),
                         (("llama-3.1-8b", "llama-3.1-8b/config.json"), "'llama-3.1-8b'")):
        with pytest.raises(BadInput, match=rf"f.yaml: classes\[1\].model: .* is another model than classes\[0\]'s "
                                           rf".*under the same name {name}"):
            plan_of(fleet(*models), "f.yaml")
    with pytest.raises(BadInput, match=r"f.yaml: classes\[1\].precision.experts: llama-3.1-8b has no routed experts"):
        plan_of(fleet("llama-3.1-8b", "llama-3.1-8b", precision={"experts": "fp4"}), "f.yaml")
    plan = plan_of(fleet("p/m/config.json", "p/m/config.json"), "f.yaml")   # one model under one name: fine
    assert (plan.cost if day else plan.cost_per_hour) > 0
    # a folder and its config.json are one model (refused as two until a hunt of 2026-12-04)
    plan = plan_of(fleet("p/m", "p/m/config.json"), "f.yaml")
    assert (plan.cost if day else plan.cost_per_hour) > 0


def test_a_fleet_over_a_day_with_an_unreachable_slo_says_which_limit():
    """A class's TPOT no candidate reaches: the fleet over a day exited 2 with 'no candidate can
    decode for a: the decode demand row of period 0 would be empty'; it is infeasible (exit 3)
    and says the limit and the best any candidate reaches, as the fleet at one QPS does."""
    from planner.plan.horizon_fleet import solve_fleet_horizon
    wl = {"qps": 5, "input_tokens": 1000, "output_tokens": 200, "profile": {"qps_fraction": [0.5] * 12 + [1.0] * 12}}
    f = FleetProblem.model_validate({"name": "f", "gpus": ["h100"], "classes": [
        {"name": "a", "model": "llama-3.1-8b", "workload": wl, "slo": {"ttft": "2s", "tpot": "1ms"}},
        {"name": "b", "model": "llama-3.1-8b", "workload": wl, "slo": {"ttft": "2s", "tpot": "50ms"}}]})
    with pytest.raises(Infeasible, match=r"f.yaml: class 'a': TPOT 1 ms unreachable: the fastest candidate reaches"):
        solve_fleet_horizon(f, "f.yaml", compare=False)


def test_the_independent_comparison_of_a_fleet_over_a_day_keeps_to_the_time_limit(monkeypatch):
    """Its per-period solves had no bound: 256 classes over a day took 154 s under a 20 s limit. Past
    the problem's time limit the comparison is left out (None), the plan itself is kept."""
    from planner.plan import horizon_fleet
    from planner.plan.horizon_fleet import solve_fleet_horizon
    wl = {"qps": 5, "input_tokens": 1000, "output_tokens": 200, "profile": {"qps_fraction": [0.5] * 12 + [1.0] * 12}}
    f = FleetProblem.model_validate({"name": "f", "gpus": ["h100"], "solver": {"time_limit": "5s"}, "classes": [
        {"name": "a", "model": "llama-3.1-8b", "workload": wl, "slo": {"ttft": "2s", "tpot": "50ms"}}]})
    assert solve_fleet_horizon(f, "f.yaml").independent_cost is not None
    clock = itertools.count(0.0, 1e6)   # every reading a million seconds after the one before
    monkeypatch.setattr(horizon_fleet.time, "perf_counter", lambda: next(clock))
    h = solve_fleet_horizon(f, "f.yaml")
    assert h.independent_cost is None and h.verification.passed


def test_a_fleet_over_a_day_says_which_class_reads_a_trace(tmp_path):
    """A fleet class reading a trace: JSON trace null and no 'load from trace' line, as if its
    profile had been written. class_traces names it, and the text has its line."""
    import shutil

    from planner.input.load import load_any
    from planner.plan.horizon_fleet import solve_fleet_horizon
    from planner.report.horizon import horizon_json, render_horizon
    shutil.copy(ROOT / "problems" / "traces" / "chat_day_sample.csv", tmp_path / "chat.csv")
    f = tmp_path / "f.yaml"
    f.write_text(json.dumps({"name": "f", "gpus": ["h100", "h20"], "classes": [
        {"name": "chat", "model": "llama-3.1-8b", "slo": {"ttft": "2s", "tpot": "50ms"},
         "workload": {"trace": {"file": "chat.csv", "period": "1h", "scale": 1}}},
        {"name": "batch", "model": "llama-3.1-8b", "workload": {"qps": 1, "input_tokens": 2000, "output_tokens": 200,
                                                               "profile": {"qps_fraction": [1.0] * 24}},
         "slo": {"ttft": "10s", "tpot": "100ms"}}]}))
    h = solve_fleet_horizon(load_any(f), str(f), compare=False)
    d = horizon_json(h)
    assert d["trace"] is None and list(d["class_traces"]) == ["chat"]
    assert d["class_traces"]["chat"]["requests"] == 5396
    text = render_horizon(h)
    assert f"class chat: load from trace {tmp_path / 'chat.csv'}: 5,396 requests over 24.0 h" in text, text[:600]


def test_a_fleet_static_fleet_that_cannot_serve_a_class_period_of_other_lengths_is_named():
    """As for a single problem over a day: a class's hour of 95 % of its peak requests with twice
    its outputs asks more decode of its static pools than its peak; the comparison names it."""
    from planner.plan.horizon_fleet import solve_fleet_horizon
    from planner.report.horizon import horizon_json
    longer = [300] * 24
    longer[0] = 600
    wl = {"qps": 300, "input_tokens": 2000, "output_tokens": 300,
          "profile": {"qps_fraction": [0.95] + [1.0] * 23, "output_tokens": longer}}
    flat = {"qps": 1, "input_tokens": 1000, "output_tokens": 200, "profile": {"qps_fraction": [1.0] * 24}}
    f = FleetProblem.model_validate({"name": "f", "gpus": [{"id": "h100", "price_per_gpu_hour": 10}],
                                     "serving": {"modes": ["disaggregated"]}, "classes": [
        {"name": "a", "model": "llama-3.1-8b", "workload": wl, "slo": {"ttft": "1s", "tpot": "30ms"}},
        {"name": "b", "model": "llama-3.1-8b", "workload": flat, "slo": {"ttft": "2s", "tpot": "50ms"}}]})
    h = solve_fleet_horizon(f, "f.yaml")
    assert h.static_short is not None and h.static_short[0] == 0 and h.static_short[1].startswith("a: "), h.static_short
    assert horizon_json(h)["comparison"]["static_peak_serves_every_period"] is False


def test_a_fleet_plan_carries_the_error_band_of_its_profile():
    """A fleet's JSON has `error_band` as a single plan's does (it had none, and printed no *Model
    error* line): every pool, each at its own point estimate times the profile's p10 and p90 factor."""
    from pathlib import Path
    d = json.loads((Path(__file__).parent / "golden" / "solve" / "fleet_mix.json").read_text())
    band = d["error_band"]
    assert band["confidence"] is None and [p["name"] for p in band["pools"]] == [p["name"] for p in d["pools"]]
    for pool, b in zip(d["pools"], band["pools"]):
        for key, factor in (("tpot_s", band["tpot_factor"]), ("ttft_s", band["ttft_factor"])):
            if b[key] is not None:
                # rel 1e-11: the JSON keeps 12 significant digits of each
                assert b[key] == pytest.approx([pool[key] * factor["p10"], pool[key] * factor["p90"]], rel=1e-11)
    assert any(b["tpot_s"] for b in band["pools"]) and any(b["ttft_s"] for b in band["pools"])


@pytest.mark.parametrize("profile", [None, {"qps_fraction": [0.5] * 12 + [1.0] * 12}])
def test_classes_whose_names_differ_in_dash_and_underscore_are_planned(tmp_path, profile):
    """Classes 'a_b' and 'a-b' are both valid names; PuLP writes '-' as '_' in a row's name and
    refuses a name twice, so the fleet stopped with exit 5 ('the MILP solver library failed:
    PulpError: overlapping constraint names: assign_a_b_', or prefill_demand_a_b_0 over a day)
    and advised the other solver, which failed alike."""
    import yaml
    from click.testing import CliRunner

    import cli
    k = {"workload": {"qps": 3, "input_tokens": 500, "output_tokens": 100}, "slo": {"ttft": "2s", "tpot": "50ms"}}
    if profile:
        k["workload"]["profile"] = profile
    # the solves take ~0.2 s alone; in full runs on a loaded machine a 10 s limit (shared by a day's
    # MILPs, each then at least 0.5 s) was reached and the status read "feasible" (both parameters
    # seen): the names are under test here, not the limit
    fleet = {"name": "twins", "gpus": ["h100"], "solver": {"time_limit": "120s"},
             "classes": [{"name": "a_b", "model": "llama-3.1-8b", **k}, {"name": "a-b", "model": "llama-3.1-8b", **k}]}
    (tmp_path / "f.yaml").write_text(yaml.safe_dump(fleet))
    for solver in ("highs", "cbc"):
        r = CliRunner().invoke(cli.main, ["solve", str(tmp_path / "f.yaml"), "--solver", solver, "--json"])
        assert r.exit_code == 0, r.output
        d = json.loads(r.stdout)
        assert d["status"] == "optimal" and d["verification"]["passed"] is True
        pools, key = (d["periods"][0]["pools"], "class") if profile else (d["pools"], "service")
        served = {c for p in pools for c in p[key].split("+")}
        assert served == {"a_b", "a-b"}, served


def test_services_generated_in_worker_processes_equal_those_of_one_process():
    """Seven services (three classes of one model and their subsets, at least `PARALLEL_FROM`) in two
    forked workers and in this process: the same candidates, rejections and kept candidates, float
    for float, each kept one an object of its service's set."""
    from planner.plan import services

    f = fleet([small("a", 2, 2000, 300), small("b", 1, 1000, 500, ttft="2s"), small("c", 3, 500, 200)],
              ("h20", "l40s"))
    singles = services.resolve_classes(f, "t")
    assert len(services.service_plans(f, singles)) == 7 >= services.PARALLEL_FROM
    apart = services.fleet_services(f, singles, workers=2)
    one = services.fleet_services(f, singles, workers=1)
    assert [s.key for s in apart] == [s.key for s in one]
    for a, b in zip(apart, one):
        assert (a.cs, a.candidates) == (b.cs, b.candidates)
        assert all(any(k is c for c in a.cs.candidates) for k in a.candidates)
    assert sum(len(s.candidates) for s in one) > 20 and any(len(s.candidates) < len(s.cs.candidates) for s in one)
    assert services._inherited == []   # this process never held the workers' list


def _model_id_in_worker(i: int) -> int:
    from planner.plan import services
    return id(services._inherited[i].model)


def test_a_forked_worker_holds_the_parents_services_unpickled():
    """`services._inherit` hands a forked worker the parent's list itself: its Resolved and catalog
    objects are the parent's (the same addresses), so the services a worker generates share
    deployments as they do in one process; pickled, each came back with a model of its own."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from planner.plan import services

    f = fleet([small("a", 2), small("b", 1, 1000, 500)], ("h20",))
    resolved = [r for _, r in services.service_plans(f, services.resolve_classes(f, "t"))]
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"), initializer=services._inherit,
                             initargs=(resolved,)) as pool:
        ids = list(pool.map(_model_id_in_worker, range(len(resolved))))
    assert ids == [id(r.model) for r in resolved] and len(set(ids)) == 1


def test_work_chunks_keep_a_models_services_together_and_end_small():
    """The workers' tasks: every service once, each task one model's services (which share its
    deployments in the worker), halved until none is estimated above 1/(3·workers) of the whole
    unless it is a single service, largest first."""
    from planner.plan import services
    from planner.plan.shapes import shapes_for

    classes = [small(n, 1 + k, model=m) for k, (n, m) in enumerate(
        [("a", "llama-3.1-8b"), ("b", "llama-3.1-8b"), ("c", "llama-3.1-8b"), ("d", "llama-3.1-70b"),
         ("e", "llama-3.1-70b")])]
    f = fleet(classes, ("h20", "l40s", "h100"))
    resolved = [r for _, r in services.service_plans(f, services.resolve_classes(f, "t"))]
    assert len(resolved) == 7 + 3   # 8B: three classes and their four groups; 70B: two and their pair
    chunks = services.work_chunks(resolved, 2)
    assert sorted(i for c in chunks for i in c) == list(range(len(resolved)))
    each = {r.model.id: sum(len(shapes_for(r, o)) for o in r.gpus) for r in resolved}
    size = [each[resolved[c[0]].model.id] * len(c) for c in chunks]
    assert all(len({resolved[i].model.id for i in c}) == 1 for c in chunks)
    assert all(s <= sum(size) / 6 or len(c) == 1 for s, c in zip(size, chunks))
    assert size == sorted(size, reverse=True) and len(chunks) > 2
    assert services.work_chunks(resolved[:1], 2) == [[0]]

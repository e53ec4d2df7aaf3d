"""Among plans of equal cost, the one engines deploy most simply (`solve.one_mode_at_cost`): the
seed's MILP returns a colocated H20 instance beside its prefill and decode pools at the cost of a
plan with a decode instance on the same cards (1,675.28 RMB/h either way); SGLang, TensorRT-LLM
and Dynamo cannot deploy the mix, so the second stage takes prefill/decode pools. Held to those,
HiGHS returns the H20 decode instance as TP8·PP2, a 16-card group over two nodes (vLLM would need
Ray), where TP1·DP8·PP2 (2-card groups) does as much at the same cost: the stage takes that."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from planner.input.load import load_any, load_problem
from planner.plan import milp
from planner.plan import solve as S
from planner.plan.dominance import without_dominated_types
from planner.report.json import plan_json

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def seed_first_stage():
    """The seed's services, their first-stage MILP and its report (HiGHS as `plan solve` runs it)."""
    path = ROOT / "problems" / "deepseek_qps.yaml"
    problem = load_problem(path)
    usable, _ = without_dominated_types(problem, [s for s in S._services(problem, str(path), None) if s.candidates])
    opts = S.solver_options(problem, None, None)
    m = S.build(problem, usable)
    rep = milp.solve(m, opts.name, opts.time_limit, opts.mip_gap, gap_abs=opts.node_gap, heuristics=True)
    return problem, usable, m, rep, opts


def _model_roles(m) -> set[str]:
    return {m.candidates[i].role for i in milp.selection(m)}


def test_the_seeds_first_stage_mixes_modes_and_the_second_takes_one_at_the_same_cost(seed_first_stage):
    problem, usable, m, rep, opts = seed_first_stage
    assert _model_roles(m) == {"colocated", "prefill", "decode"}        # what HiGHS returns first
    assert rep.objective == pytest.approx(1675.28)
    held, m2, rep2 = S.one_mode_at_cost(problem, usable, m, rep, opts, False, True)
    assert _model_roles(m2) == {"prefill", "decode"}
    per_node = {o.id: o.gpu.node_cards for o in usable[0].res.gpus}
    assert not any(S.spans_nodes(m2.candidates[i], per_node) for i in milp.selection(m2))
    assert rep2.objective == pytest.approx(1675.28, abs=1e-6)
    assert not any(c.role == "colocated" for s in held for c in s.candidates)
    assert len(held[0].candidates) < len(usable[0].candidates)


def test_no_second_stage_when_one_mode_alone_costs_more(seed_first_stage):
    """Held to a cost just below the optimum, neither mode alone reaches it: the first plan stands."""
    problem, usable, m, rep, opts = seed_first_stage
    lower = replace(rep, objective=rep.objective * (1 - 1e-4))
    assert S.one_mode_at_cost(problem, usable, m, lower, opts, False, True) is None


def test_a_one_mode_plan_with_a_group_over_two_nodes_gets_the_stage_too(seed_first_stage):
    """Held to prefill/decode pools by hand, the seed's MILP returns the H20 decode instance as
    TP8·PP2 (its group spans two 8-card nodes); the stage keeps the cost and takes TP1·DP8·PP2."""
    problem, usable, _, rep, opts = seed_first_stage
    pd = [replace(s, candidates=tuple(c for c in s.candidates if c.role != "colocated")) for s in usable]
    m = S.build(problem, pd)
    first = milp.solve(m, opts.name, opts.time_limit, opts.mip_gap, gap_abs=opts.node_gap)
    per_node = {o.id: o.gpu.node_cards for o in usable[0].res.gpus}
    wide = {m.candidates[i].par.label() for i in milp.selection(m) if S.spans_nodes(m.candidates[i], per_node)}
    assert wide == {"TP8·PP2"} and first.objective == pytest.approx(1675.28)
    _, m2, rep2 = S.one_mode_at_cost(problem, pd, m, first, opts, False, True)
    assert rep2.objective == pytest.approx(1675.28, abs=1e-6)
    h20 = {m2.candidates[i].par.label() for i in milp.selection(m2) if m2.candidates[i].gpu == "h20"}
    assert h20 == {"TP1·DP8·PP2"}
    assert not any(S.spans_nodes(m2.candidates[i], per_node) for i in milp.selection(m2))


def test_no_second_stage_for_a_plan_in_one_mode_within_nodes(seed_first_stage):
    problem, usable, m, rep, opts = seed_first_stage
    _, m2, rep2 = S.one_mode_at_cost(problem, usable, m, rep, opts, False, True)
    assert S.one_mode_at_cost(problem, usable, m2, rep2, opts, False, True) is None


def test_plan_solve_gives_the_seed_in_one_mode_and_says_nothing_of_the_cost_row():
    path = ROOT / "problems" / "deepseek_qps.yaml"
    plan = S.solve(load_problem(path), str(path))
    assert plan.cost_per_hour == pytest.approx(1675.28)
    assert {p["role"] for p in plan_json(plan)["pools"]} == {"prefill", "decode"}
    assert plan.binding and S.COST_CAP_ROW not in plan.binding


def test_fleets_keep_the_first_plan(monkeypatch):
    """The stage runs on single problems only (on the 4 × 12 fleet benchmark its MILP took 20 s)."""
    calls = []
    monkeypatch.setattr(S, "one_mode_at_cost", lambda *a, **k: calls.append(a) or None)
    path = ROOT / "problems" / "fleet_mix.yaml"
    plan = S.solve(load_any(path), str(path))
    assert plan.cost_per_hour == pytest.approx(1651.92) and calls == []
    single = ROOT / "problems" / "deepseek_qps.yaml"
    S.solve(load_problem(single), str(single))
    assert len(calls) == 1


def _spanning(plan) -> int:
    per_node = {o.id: o.gpu.node_cards for o in plan.services[0].res.gpus}
    return sum(n for c, n in plan.chosen.items() if S.spans_nodes(c, per_node))


def _roles(plan) -> set[str]:
    return {c.role for c in plan.chosen}


def _first_plan(path: Path):
    """The plan without the stage (its first MILP's, then fewest_nodes where capacity is free)."""
    keep = S.one_mode_at_cost
    S.one_mode_at_cost = lambda *a, **k: None
    try:
        return S.solve(load_any(path), str(path))
    finally:
        S.one_mode_at_cost = keep


def test_a_plan_in_one_mode_is_not_made_to_mix_when_its_spanning_groups_go(earlier_ties):
    """Llama-3.1-70B on L40S with TP16 allowed (a hunt, 2026-12-05): the first plan is prefill/decode
    with two TP16 instances over two 8-card nodes; the stage took a colocated TP8 pool in beside them
    ("serving: mixed") to drop one. A service in one mode keeps it: prefill/decode, one TP16 group."""
    path = ROOT / "tests" / "data" / "one_mode" / "llama_l40s_tp16.yaml"
    first, plan = _first_plan(path), S.solve(load_any(path), str(path))
    assert _roles(first) == {"prefill", "decode"} and _spanning(first) == 2
    assert _roles(plan) == {"prefill", "decode"}
    assert _spanning(plan) == 1 and plan.cost_per_hour == pytest.approx(first.cost_per_hour) == pytest.approx(1268.48)


def test_the_stage_solves_without_the_node_gap_and_reports_the_first_solves_gap():
    """With `solver.node_gap: 2` the stage's MILP (whose unit is one spanning instance, not a
    node-hour) stopped within two of them and returned three where the first plan had two, and the
    plan printed that MILP's gap ("optimal within 66.67 %"). Now one, and the cost's own gap."""
    path = ROOT / "tests" / "data" / "one_mode" / "l40s_tp16_node_gap.yaml"
    first, plan = _first_plan(path), S.solve(load_any(path), str(path))
    assert _spanning(first) == 2 and _spanning(plan) == 1
    assert plan.cost_per_hour == pytest.approx(first.cost_per_hour) == pytest.approx(840.0)
    assert plan.solver.gap == pytest.approx(first.solver.gap) and plan.solver.gap < 0.1


def test_the_free_capacity_stage_does_not_take_back_a_group_over_two_nodes():
    """The seed with two owned H20 nodes (capacity already paid for, so `fewest_nodes_at_cost`
    runs after this stage): it put a TP8·PP2 H20 decode instance back where this stage had none
    (1,555.28 RMB/h either way). It counts a spanning instance as a tenth of a node now."""
    path = ROOT / "tests" / "data" / "one_mode" / "owned_h20.yaml"
    plan = S.solve(load_any(path), str(path))
    assert plan.cost_per_hour == pytest.approx(1555.28) and _spanning(plan) == 0
    assert plan.nodes["h20"] == (0, 2)

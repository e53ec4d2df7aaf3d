"""Fewer pools at the optimum's cost (`planner.plan.consolidate`): one candidate per role and GPU
where the MILP chose several and one of them alone costs no more."""

from __future__ import annotations

from types import SimpleNamespace as NS

import pytest

from planner.input.problem import Problem
from planner.plan import consolidate
from planner.plan import solve as solve_module
from planner.plan.solve import solve

TIGHT = {"name": "tight", "model": "deepseek-r1", "precision": {"weights": "fp8", "kv": "bf16"},
         "workload": {"qps": 0.05, "input_tokens": 20000, "output_tokens": 2000},
         "slo": {"ttft": "60s", "tpot": "100ms"}, "gpus": ["h20"],
         "serving": {"modes": ["colocated"], "parallelism": {"max_cards_per_instance": 8}}}


def _cand(role, gpu, cards, pre=0.0, dec=0.0):
    return NS(role=role, gpu=gpu, cards=cards, prefill_tok_s=pre, decode_tok_s=dec)


def _model():
    """Prefill P (H100, 1,000 tok/s) and decode pools A (8 H20 cards, 300 tok/s) ×2 and B (16 cards,
    500 tok/s) ×1 for a decode demand of 1,000 tok/s and a prefill demand of 900."""
    cands = (_cand("prefill", "h100", 8, pre=1000.0), _cand("decode", "h20", 8, dec=300.0),
             _cand("decode", "h20", 16, dec=500.0), _cand("decode", "h100", 8, dec=400.0))
    return NS(candidates=cands, service_of=(0, 0, 0, 0),
              services=(NS(demand=NS(prefill_tok_s=900.0, decode_tok_s=1000.0)),))


def test_fragmented_groups_pools_by_service_role_and_gpu():
    m = _model()
    assert consolidate.fragmented(m, {0: 1, 1: 2, 2: 1}) == [[1, 2]]
    assert consolidate.fragmented(m, {0: 1, 1: 2, 3: 1}) == []          # decode on two GPU types: no group
    m.service_of = (0, 0, 1, 0)
    assert consolidate.fragmented(m, {0: 1, 1: 2, 2: 1}) == []          # two services' pools stay apart


def test_replacement_count_by_hand():
    """A alone: ⌈1000/300⌉ = 4 instances, 32 cards; B alone: ⌈1000/500⌉ = 2, 32 cards. The plan's
    4 H20 nodes hold 32 cards: both fit; in 3 nodes (24 cards) neither does."""
    m, picked, per_node = _model(), {0: 1, 1: 2, 2: 1}, {"h20": 8, "h100": 8}
    four = {"h20": (4, 0), "h100": (1, 0)}
    assert consolidate.replacement_count(m, picked, [1, 2], 1, per_node, four) == 4
    assert consolidate.replacement_count(m, picked, [1, 2], 2, per_node, four) == 2
    three = {"h20": (2, 1), "h100": (1, 0)}                              # owned nodes count as well
    assert consolidate.replacement_count(m, picked, [1, 2], 1, per_node, three) is None
    assert consolidate.replacement_count(m, picked, [1, 2], 2, per_node, three) is None
    # capacity outside the group counts: another decode pool on H100 (400 tok/s) leaves 600 to the group
    picked = {0: 1, 1: 2, 2: 1, 3: 1}
    assert consolidate.replacement_count(m, picked, [1, 2], 1, per_node, three) == 2     # ⌈600/300⌉, 16 cards
    assert consolidate.replacement_count(m, picked, [1, 2], 0, per_node, four) is None   # prefill has no decode


def test_two_operating_points_of_one_shape_become_one_pool_at_the_same_cost(monkeypatch):
    """DeepSeek-R1 on H20 at 22k-token contexts, colocated: HiGHS's search returned two pools of
    colocated[h20-TP8-b1-c16384] (two operating points of one shape, printed as two identical
    rows) at 120 RMB/h, where one pool of two instances costs the same; the pass gives that."""
    p = Problem.model_validate(TIGHT)
    plan = solve(p, "tight.yaml")
    ((c, n),) = plan.chosen.items()
    assert (c.name, n, plan.cost_per_hour) == ("colocated[h20-TP8-b1-c16384]", 2, 120.0)
    assert plan.verification.passed
    monkeypatch.setattr(solve_module, "fewer_pools_at_cost", lambda *a, **k: None)
    first = solve(p, "tight.yaml")
    assert len(first.chosen) == 2 and sum(first.chosen.values()) == 2 and first.cost_per_hour == 120.0
    assert {c.name for c in first.chosen} == {"colocated[h20-TP8-b1-c16384]"}


def test_fewer_pools_that_fail_verification_give_way_to_the_first_plan(monkeypatch):
    """Verification recomputes the pools at their loads; where the consolidated plan breaks a limit
    there, the MILP's own plan is verified and returned instead."""
    real = solve_module._verify

    def one_pool_fails(problem, svcs, chosen, nodes, objective):
        v, pools = real(problem, svcs, chosen, nodes, objective)
        if sum(len(sel) for sel in chosen.values()) == 1:
            bad = solve_module.Check("injected", 2.0, 1.0, "", "<=")
            v = solve_module.Verification(v.pools, v.checks + (bad,))
        return v, pools
    monkeypatch.setattr(solve_module, "_verify", one_pool_fails)
    plan = solve(Problem.model_validate(TIGHT), "tight.yaml")
    assert plan.verification.passed and len(plan.chosen) == 2 and plan.cost_per_hour == 120.0


@pytest.mark.parametrize("name", ["small_model_cheap_card", "llama70b_chat", "deepseek_qps", "deepseek_mtp"])
def test_the_pass_keeps_every_example_s_cost(name, monkeypatch):
    """The pass chooses among optima: with and without it each example costs the same."""
    from pathlib import Path

    from planner.input.load import load_problem
    path = Path(__file__).resolve().parent.parent / "problems" / f"{name}.yaml"
    with_pass = solve(load_problem(path), name)
    monkeypatch.setattr(solve_module, "fewer_pools_at_cost", lambda *a, **k: None)
    without = solve(load_problem(path), name)
    assert with_pass.cost_per_hour == pytest.approx(without.cost_per_hour, rel=1e-9)
    assert len(with_pass.chosen) <= len(without.chosen)


def test_a_pool_over_two_nodes_is_not_made_the_one_pool_beside_others_that_are_not(monkeypatch):
    """The serving-mode stage left the fewest instances whose group spans nodes; this stage does not
    take one back: in a group where not every pool spans, a spanning candidate is not tried. Here
    the candidate the stage keeps is made to 'span': the other one is kept instead, alone."""
    p = Problem.model_validate(TIGHT)
    ((kept, _),) = solve(p, "tight.yaml").chosen.items()
    real = consolidate.fewer_pools_at_cost
    monkeypatch.setattr(solve_module, "fewer_pools_at_cost",
                        lambda m, build, run, per_node, spans: real(m, build, run, per_node, lambda c: c == kept))
    plan = solve(p, "tight.yaml")
    ((other, n),) = plan.chosen.items()
    assert other != kept and other.name == kept.name and n == 2 and plan.cost_per_hour == 120.0

"""GPU types another listed type replaces at no extra cost (`planner.plan.dominance`): left out
before the MILP, the optimum's cost unchanged (checked against enumeration, `test_milp.oracle`)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.input.problem import Problem
from planner.plan import milp
from planner.plan.dominance import dominated_types
from planner.plan.resolve import resolve
from tests.test_milp import BASE, cand, oracle


def resolved(gpus, **extra):
    return resolve(Problem.model_validate({**BASE, "gpus": gpus, **extra}))


def dropped(res, cands, redundancy="none"):
    return dominated_types([cands], res.gpus, res.problem.limits, redundancy)


DEMAND = milp.Demand(10_000, 1_000)


def test_a_type_matched_candidate_by_candidate_at_the_same_price_is_left_out():
    """h800's prefill (8 cards, 5,000 tok/s) is matched by two h100 4-card ones of 2,600 each, its
    decode (8 cards, 500) by an h100 8-card one of 600: h800 goes, and the optimum over h100 alone
    is the optimum over both (enumerated: 2 prefill + 2 decode instances, 4 nodes, 320/h)."""
    res = resolved([{"id": "h100", "price_per_gpu_hour": 10}, {"id": "h800", "price_per_gpu_hour": 10}])
    a = (cand("prefill", "h100", 4, pre=2600), cand("decode", "h100", 8, dec=600))
    b = (cand("prefill", "h800", 8, pre=5000), cand("decode", "h800", 8, dec=500))
    assert dropped(res, a + b) == {"h800": "h100"}
    assert oracle(res, a + b, DEMAND)[0] == oracle(res, a, DEMAND)[0] == pytest.approx(320.0)


@pytest.mark.parametrize("why, gpus, extra, b", [
    ("dearer", [{"id": "h100", "price_per_gpu_hour": 10.5}, {"id": "h800", "price_per_gpu_hour": 10}], {}, None),
    ("capped", [{"id": "h100", "price_per_gpu_hour": 10, "max_cards": 64}, {"id": "h800", "price_per_gpu_hour": 10}],
     {}, None),
    ("owned", [{"id": "h100", "price_per_gpu_hour": 10},
               {"id": "h800", "price_per_gpu_hour": 10, "owned_nodes": 1, "owned_cost_per_gpu_hour": 2}], {}, None),
    ("a decode the h100 does not match", [{"id": "h100", "price_per_gpu_hour": 10},
                                          {"id": "h800", "price_per_gpu_hour": 10}], {},
     (cand("prefill", "h800", 8, pre=5000), cand("decode", "h800", 8, dec=700))),
    ("a colocated candidate that no h100 colocated one matches (a prefill one does not)",
     [{"id": "h100", "price_per_gpu_hour": 10}, {"id": "h800", "price_per_gpu_hour": 10}], {},
     (cand("colocated", "h800", 4, pre=1000, dec=100),)),
    ("4 cards cannot be replaced by 8", [{"id": "h100", "price_per_gpu_hour": 10},
                                         {"id": "h800", "price_per_gpu_hour": 10}], {},
     (cand("decode", "h800", 4, dec=100),)),
])
def test_a_type_stays_when(why, gpus, extra, b):
    res = resolved(gpus, **extra)
    a = (cand("prefill", "h100", 4, pre=2600), cand("decode", "h100", 8, dec=600))
    b = b or (cand("prefill", "h800", 8, pre=5000), cand("decode", "h800", 8, dec=500))
    assert dropped(res, a + b) == {}, why


def test_under_a_power_cap_a_hungrier_card_replaces_nothing():
    """An h100 (700 W) does as much as an h20 (400 W) here and costs less, but under a power cap
    moving the h20's instances onto it could break the cap."""
    gpus = [{"id": "h100", "price_per_gpu_hour": 5}, {"id": "h20", "price_per_gpu_hour": 5}]
    a = (cand("decode", "h100", 8, dec=600),)
    b = (cand("decode", "h20", 8, dec=500),)
    assert dropped(resolved(gpus), a + b) == {"h20": "h100"}
    assert dropped(resolved(gpus, limits={"power": "100kW"}), a + b) == {}


def test_of_two_types_that_replace_each_other_the_first_listed_stays():
    a = (cand("decode", "h100", 8, dec=600),)
    b = (cand("decode", "h800", 8, dec=600),)
    first_h100 = resolved([{"id": "h100", "price_per_gpu_hour": 10}, {"id": "h800", "price_per_gpu_hour": 10}])
    first_h800 = resolved([{"id": "h800", "price_per_gpu_hour": 10}, {"id": "h100", "price_per_gpu_hour": 10}])
    assert dropped(first_h100, a + b) == {"h800": "h100"}
    assert dropped(first_h800, a + b) == {"h100": "h800"}


def test_a_chain_leaves_the_best_type():
    """h200 replaces h100 and h800 (tried first: listed first): both go."""
    res = resolved([{"id": "h200", "price_per_gpu_hour": 10}, {"id": "h100", "price_per_gpu_hour": 10},
                    {"id": "h800", "price_per_gpu_hour": 10}])
    cands = (cand("decode", "h200", 8, dec=700), cand("decode", "h100", 8, dec=600),
             cand("decode", "h800", 8, dec=500))
    assert dropped(res, cands) == {"h800": "h200", "h100": "h200"}


caps = st.floats(min_value=2000, max_value=6000, allow_nan=False)   # ≤ 5 of one candidate: a small enumeration


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["prefill", "decode"]), st.sampled_from([4, 8]), caps),
                min_size=1, max_size=3),
       st.lists(st.floats(min_value=1.0, max_value=1.5), min_size=3, max_size=3),
       st.sampled_from([10.0, 9.0]))
def test_leaving_a_dominated_type_out_keeps_the_optimum(b_specs, gains, a_price):
    """Random h800 candidates, each matched by an h100 one of the same role and cards with 1–1.5×
    its capacity, the h100 at the same or a lower price: h800 is left out and the enumerated
    optimum over h100 alone costs what the optimum over both does."""
    res = resolved([{"id": "h100", "price_per_gpu_hour": a_price}, {"id": "h800", "price_per_gpu_hour": 10}])
    b = tuple(cand(r, "h800", n, **({"pre": x} if r == "prefill" else {"dec": x / 5})) for r, n, x in b_specs)
    a = tuple(cand(c.role, "h100", c.cards, pre=c.prefill_tok_s * g, dec=c.decode_tok_s * g)
              for c, g in zip(b, gains))
    demand = milp.Demand(8000 if any(c.prefill_tok_s for c in b) else 0.0,
                         900 if any(c.decode_tok_s for c in b) else 0.0)
    assert dropped(res, a + b) == {"h800": "h100"}
    assert oracle(res, a, demand)[0] == pytest.approx(oracle(res, a + b, demand)[0])


def test_the_seed_leaves_the_h800_out_at_the_same_cost(monkeypatch):
    """problems/deepseek_qps.yaml lists the H800 beside the H100 at the same price: left out, said
    so in the text and the JSON, and the plan costs what the MILP over every type finds."""
    from click.testing import CliRunner

    import planner.plan.solve as solve_mod
    from cli import main
    from planner.input.load import load_problem
    r = CliRunner().invoke(main, ["solve", "problems/deepseek_qps.yaml", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["solver"]["dominated_gpus"] == {"h800": "h100"}
    text = CliRunner().invoke(main, ["solve", "problems/deepseek_qps.yaml"]).output
    assert "h800 left out: h100 does as much at no higher price" in text
    monkeypatch.setattr(solve_mod, "without_dominated_types", lambda problem, svcs: (svcs, {}))
    every = solve_mod.solve(load_problem("problems/deepseek_qps.yaml"), "deepseek_qps.yaml")
    assert every.dominated_gpus == {}
    assert every.cost_per_hour == pytest.approx(d["cost_per_hour"], rel=1e-9)

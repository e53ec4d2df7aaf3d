"""Operational simplicity: `limits.max_gpu_types` and `limits.max_pool_shapes` against enumeration.

Why the oracle is right: for fixed instance counts x the cheapest nodes are forced (⌈cards/N⌉ per
GPU type, as in tests/test_milp.py), and the GPU types used and the pool shapes used are read off
x directly (a type with cards, a (role, GPU, parallelism) with instances); enumerating every x
within the MILP's own bounds and keeping the cheapest that meets demand and both limits is the
exact optimum of the same problem.
"""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.errors import Infeasible
from planner.input.problem import Limits, Problem
from planner.plan import milp
from planner.plan.solve import solve
from planner.plan.verify import fleet_checks
from tests.test_milp import BASE, cand


def resolved(gpus, limits):
    from planner.plan.resolve import resolve
    return resolve(Problem.model_validate({**BASE, "gpus": gpus, "limits": limits}))


def oracle(res, cands, demand, max_types, max_shapes):
    """Cheapest plan meeting demand, caps and both simplicity limits, by enumeration."""
    opts = {o.id: o for o in res.gpus}
    best = math.inf
    for x in itertools.product(*[range(milp.upper_bound(c, demand) + 1) for c in cands]):
        if sum(n * c.prefill_tok_s for n, c in zip(x, cands)) < demand.prefill_tok_s * (1 - 1e-9):
            continue
        if sum(n * c.decode_tok_s for n, c in zip(x, cands)) < demand.decode_tok_s * (1 - 1e-9):
            continue
        types = {c.gpu for n, c in zip(x, cands) if n}
        shapes = {(c.role, c.gpu, c.par.label()) for n, c in zip(x, cands) if n}
        if (max_types and len(types) > max_types) or (max_shapes and len(shapes) > max_shapes):
            continue
        cost = 0.0
        for g, o in opts.items():
            nodes = math.ceil(sum(n * c.cards for n, c in zip(x, cands) if c.gpu == g) / o.gpu.node_cards)
            cost += o.gpu.node_cards * nodes * o.price_per_card_hour
        best = min(best, cost)
    return best


# h100 is cheap for prefill, h20 for decode; the colocated h200 shape does both on one type
CANDS = (cand("prefill", "h100", 4, pre=4000), cand("prefill", "h100", 4, pre=3000),
         cand("decode", "h20", 8, dec=500), cand("decode", "h20", 4, dec=220),
         cand("colocated", "h200", 8, pre=3000, dec=350), cand("decode", "h100", 8, dec=400))


@settings(max_examples=25, deadline=None)
@given(prices=st.tuples(st.integers(1, 30), st.integers(1, 30), st.integers(1, 30)),
       max_types=st.sampled_from([None, 1, 2]), max_shapes=st.sampled_from([None, 1, 2, 3]),
       demand=st.tuples(st.integers(1, 9), st.integers(1, 9)))
def test_limits_equal_enumeration(prices, max_types, max_shapes, demand):
    limits = {k: v for k, v in (("max_gpu_types", max_types), ("max_pool_shapes", max_shapes)) if v}
    res = resolved([{"id": g, "price_per_gpu_hour": p} for g, p in zip(("h100", "h20", "h200"), prices)], limits)
    d = milp.Demand(demand[0] * 1000, demand[1] * 100)
    expected = oracle(res, CANDS, d, max_types, max_shapes)
    m = milp.build(res, CANDS, d)
    rep = milp.solve(m)
    if math.isinf(expected):
        assert rep.status == milp.SolverStatus.infeasible
        return
    assert rep.status == milp.SolverStatus.optimal
    assert rep.objective == pytest.approx(expected, rel=1e-6)
    chosen = {CANDS[i]: n for i, n in milp.selection(m).items()}
    checks = fleet_checks(res.gpus, res.problem.limits, chosen, milp.nodes(m), rep.objective)
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]


def test_rows_exist_only_when_asked():
    """Without the limits the model has no indicator variables (plans and golden outputs unchanged)."""
    d = milp.Demand(5000, 500)
    plain = milp.build(resolved(["h100", "h20", "h200"], {}), CANDS, d)
    assert not plain.rows_of(("gpu_type_used", "gpu_types_cap", "pool_shape_used", "pool_shapes_cap"))
    m = milp.build(resolved(["h100", "h20", "h200"], {"max_gpu_types": 2, "max_pool_shapes": 3}), CANDS, d)
    assert m.rows_of(("gpu_types_cap", "pool_shapes_cap")) == ["gpu_types_cap", "pool_shapes_cap"]
    # two prefill candidates of one shape share one indicator: 5 shapes for 6 candidates
    assert len(m.rows_of(("pool_shape_used",))) == 5
    assert "pool_shape_used[prefill-h100-TP4]" in m.rows


def test_verification_counts_types_and_shapes():
    limits = Limits(max_gpu_types=1, max_pool_shapes=1)
    res = resolved(["h100", "h20"], {})
    chosen = {CANDS[0]: 1, CANDS[1]: 2, CANDS[2]: 1}
    checks = {c.name: c for c in fleet_checks(res.gpus, limits, chosen, {"h100": (2, 0), "h20": (1, 0)}, None)}
    assert (checks["gpu_types_cap"].value, checks["gpu_types_cap"].ok) == (2, False)
    assert (checks["pool_shapes_cap"].value, checks["pool_shapes_cap"].ok) == (2, False)


def test_infeasible_names_the_limit():
    """Eight H100 cards alone cannot carry the load and H20 is capped too: only both types together
    can, so max_gpu_types: 1 is what makes it infeasible, and the diagnosis says so."""
    p = Problem.model_validate({**BASE, "workload": {"qps": 360, "input_tokens": 1000, "output_tokens": 100},
                                "gpus": [{"id": "h100", "max_cards": 8}, {"id": "h20", "max_cards": 8}],
                                "limits": {"max_gpu_types": 1}})
    solve(p.model_copy(update={"limits": Limits()}), "both")   # feasible with both types
    with pytest.raises(Infeasible, match=r"p.yaml: demand cannot be met within .*gpu_types_cap: at most"):
        solve(p, "p.yaml")


def test_solve_simulate_warns_when_the_slo_statistic_is_missed(monkeypatch):
    """A simulated statistic above its limit gives one stderr line naming the metric, the statistic,
    the simulated value and the limit (report.simulate.slo_warnings): checked on a real simulation
    of the llama70b_chat plan with its TPOT limit set 20 % below the plan's TPOT; and `plan solve
    --simulate` prints those lines on stderr, exit code and JSON on stdout unchanged."""
    import json
    from pathlib import Path

    from click.testing import CliRunner

    import cli
    from planner.input.load import load_problem
    from planner.plan.solve import solve
    from planner.report import simulate as report_sim
    from planner.report.json import plan_json
    from planner.studies.simulate import simulate_services
    path = Path(__file__).resolve().parents[1] / "problems" / "llama70b_chat.yaml"
    d = plan_json(solve(load_problem(path), str(path)))
    tpot = max(p["tpot_s"] for p in d["pools"] if p["tpot_s"] is not None)
    d["slo"]["tpot_s"] = 0.8 * tpot
    res = simulate_services(d, "tight", requests=20_000)[""]
    lines = report_sim.slo_warnings(res)
    assert lines and any(x.startswith("warning: simulation of llama70b-chat: TPOT mean (") for x in lines)
    assert any(f"above the TPOT limit of {0.8 * tpot * 1e3:.1f} ms" in x for x in lines)
    monkeypatch.setattr(report_sim, "slo_warnings", lambda r: ["warning: simulation of x: TPOT mean is 2 s"])
    r = CliRunner().invoke(cli.main, ["solve", str(path), "--simulate", "--json"])
    assert r.exit_code == 0, r.output
    assert "simulation" in json.loads(r.stdout)
    assert r.stderr.splitlines() == ["warning: simulation of x: TPOT mean is 2 s"]

"""serving.redundancy: n_plus_1 — capacity survives the loss of the largest used instance per role;
node — the loss of any one node with every instance on it.

The MILP (milp.add_redundancy) against exhaustive enumeration under the rule itself; the two
examples solved with and without it, every single instance removed in turn and the capacity
recomputed from the chosen candidates; verification failing a plan without spare capacity;
bad values, fleets and load profiles refused with exit 2.

Why the oracle's bounds are enough: a candidate with x ≥ ⌈d/cap⌉+2 instances (for each role it
serves) keeps ≥ ⌈d/cap⌉·cap ≥ d of that role even after losing one of its own and one more
instance, so dropping an instance stays feasible and costs no more: no optimum exceeds
milp.upper_bound, with or without the redundancy rule.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import cli
from planner.errors import VerificationFailed
from planner.input.load import load_problem
from planner.input.problem import Problem
from planner.physics.perf import Parallelism
from planner.plan import milp
from planner.plan.candidates import Candidate
from planner.plan.diagnose import raise_unless_verified
from planner.plan.redundancy import largest_node_loss, unit_loss_of
from planner.plan.resolve import resolve
from planner.plan.solve import solve
from planner.plan.verify import node_loss_checks, pack_nodes, verify

ROOT = Path(__file__).resolve().parents[1]
BASE = {"model": "llama-3.1-8b", "workload": {"qps": 10, "input_tokens": 1000, "output_tokens": 100},
        "slo": {"ttft": "1s", "tpot": "50ms"}, "serving": {"redundancy": "n_plus_1"}}


def run(*args):
    r = CliRunner().invoke(cli.main, list(map(str, args)))
    return r.exit_code, r.output


def cand(role, gpu, cards, pre=0.0, dec=0.0) -> Candidate:
    """A synthetic candidate with given capacities (tokens/s)."""
    return Candidate(role, gpu, Parallelism(tp=cards), 1, 0.0, pre, pre, dec, 0.9, 0.1, 0.5, 0.02,
                     0.0, 1e12, 1e9, "compute")


def survives_loss(x, cands, demand, loss=lambda c, cap: cap) -> bool:
    """The rule: for each role with demand, total capacity minus the largest loss of a unit
    running a used candidate (default: the instance itself) ≥ demand."""
    for attr, need in (("prefill_tok_s", demand.prefill_tok_s), ("decode_tok_s", demand.decode_tok_s)):
        used = [loss(c, getattr(c, attr)) for n, c in zip(x, cands) if n > 0 and getattr(c, attr) > 0]
        total = sum(n * getattr(c, attr) for n, c in zip(x, cands))
        if need > 0 and total - max(used, default=0.0) < need * (1 - 1e-9):
            return False
    return True


def oracle(res, cands, demand, loss=lambda c, cap: cap, spare=None):
    """Cheapest plan surviving the loss of the largest unit per role, by enumerating every x up
    to milp.upper_bound (with `spare` for node loss)."""
    opts = {o.id: o for o in res.gpus}
    best = math.inf
    for x in itertools.product(*[range(milp.upper_bound(c, demand, spare) + 1) for c in cands]):
        if not survives_loss(x, cands, demand, loss):
            continue
        cost = 0.0
        for g, o in opts.items():
            nodes = math.ceil(sum(n * c.cards for n, c in zip(x, cands) if c.gpu == g) / o.gpu.node_cards)
            if o.max_cards is not None and nodes * o.gpu.node_cards > o.max_cards:
                break
            cost += o.gpu.node_cards * nodes * o.price_per_card_hour
        else:
            best = min(best, cost)
    return best


def test_by_hand_one_spare_instance_of_the_largest():
    """Demand 10,000 prefill / 1,000 decode; one 8-card h100 prefill instance (6,000) and 8-card h20
    decode ones (600). Without redundancy 2 + 2 instances (160 + 80 = 240/h); N+1 needs 3 + 3
    (3 h100 nodes 240/h, 3 h20 nodes 120/h = 360/h)."""
    res = resolve(Problem.model_validate({**BASE, "gpus": [{"id": "h100", "price_per_gpu_hour": 10},
                                                           {"id": "h20", "price_per_gpu_hour": 5}]}))
    cands = (cand("prefill", "h100", 8, pre=6000), cand("decode", "h20", 8, dec=600))
    m = milp.build(res, cands, milp.Demand(10_000, 1_000))
    rep = milp.solve(m)
    assert rep.status == milp.SolverStatus.optimal
    assert rep.objective == pytest.approx(360.0)
    assert sorted(milp.selection(m).values()) == [3, 3]
    assert {m.family[n] for n in m.rows_of(("redundancy",))} == {"redundancy"}
    assert len(m.rows_of(("redundancy",))) == 2   # one row per (role, candidate with that capacity)


@settings(max_examples=25, deadline=None)
@given(
    prices=st.tuples(st.integers(1, 30), st.integers(1, 30)),
    caps=st.tuples(st.sampled_from([None, 16, 24, 32]), st.sampled_from([None, 16, 24])),
    caps_pre=st.lists(st.integers(2, 9), min_size=3, max_size=3),
    caps_dec=st.lists(st.integers(2, 9), min_size=3, max_size=3),
    cards=st.lists(st.sampled_from([2, 4, 8]), min_size=3, max_size=3),
)
def test_milp_equals_enumeration_under_n_plus_1(prices, caps, caps_pre, caps_dec, cards):
    res = resolve(Problem.model_validate({**BASE, "gpus": [
        {"id": "h100", "price_per_gpu_hour": prices[0], "max_cards": caps[0]},
        {"id": "h20", "price_per_gpu_hour": prices[1], "max_cards": caps[1]}]}))
    cands = (cand("prefill", "h100", cards[0], pre=caps_pre[0] * 1000),
             cand("decode", "h20", cards[1], dec=caps_dec[1] * 100),
             cand("colocated", "h20", cards[2], pre=caps_pre[2] * 500, dec=caps_dec[2] * 60))
    d = milp.Demand(9_000, 1_200)
    expected = oracle(res, cands, d)
    m = milp.build(res, cands, d)
    rep = milp.solve(m)
    if math.isinf(expected):
        assert rep.status == milp.SolverStatus.infeasible
    else:
        assert rep.status == milp.SolverStatus.optimal
        assert rep.objective == pytest.approx(expected, rel=1e-6)
        x = [milp.selection(m).get(i, 0) for i in range(len(cands))]
        assert survives_loss(x, cands, d)


def with_redundancy(path: Path, tmp_path: Path, value="n_plus_1", **changes) -> Path:
    d = yaml.safe_load(path.read_text())
    d.setdefault("serving", {})["redundancy"] = value
    d.update(changes)
    out = tmp_path / path.name
    out.write_text(yaml.safe_dump(d))
    return out


@pytest.mark.parametrize("name", ["llama70b_chat", "deepseek_qps"])
def test_examples_survive_the_loss_of_any_instance(name, tmp_path):
    path = ROOT / "problems" / f"{name}.yaml"
    base = solve(load_problem(path))
    plan = solve(load_problem(with_redundancy(path, tmp_path)))
    assert plan.cost_per_hour >= base.cost_per_hour - 1e-9
    assert plan.verification.passed
    checks = {c.name: c for c in plan.verification.checks}
    assert checks["n_plus_1[prefill]"].ok and checks["n_plus_1[decode]"].ok
    res = plan.resolved
    need = {"prefill_tok_s": res.qps * res.uncached_mean,
            "decode_tok_s": res.qps * res.output_mean / res.problem.serving.max_decode_utilization}
    for lost in plan.chosen:          # remove one instance of each pool in turn
        for attr, d in need.items():
            left = sum(n * getattr(c, attr) for c, n in plan.chosen.items()) - getattr(lost, attr)
            assert left >= d * (1 - 1e-9), (lost.name, attr, left, d)


def test_a_plan_without_spare_capacity_fails_verification(tmp_path):
    """The plan without redundancy (two colocated instances, each needed) verified as an N+1 plan:
    the n_plus_1 checks fail and the plan is refused (VerificationFailed, exit 4)."""
    path = ROOT / "problems/llama70b_chat.yaml"
    plan = solve(load_problem(path))
    res = resolve(load_problem(with_redundancy(path, tmp_path)))
    v = verify(res, plan.chosen, plan.nodes, None)
    failed = {c.name for c in v.failed}
    assert "n_plus_1[prefill]" in failed or "n_plus_1[decode]" in failed
    with pytest.raises(VerificationFailed) as e:
        raise_unless_verified(v, "plan")
    assert e.value.exit_code == 4


def test_cli_header_json_and_default(tmp_path):
    path = with_redundancy(ROOT / "problems/llama70b_chat.yaml", tmp_path)
    code, out = run("solve", path)
    assert code == 0, out
    assert "redundancy: N+1" in out.splitlines()[1]
    code, out = run("solve", path, "--json")
    assert code == 0 and json.loads(out)["redundancy"] == "n_plus_1"
    code, out = run("solve", ROOT / "problems/llama70b_chat.yaml", "--json")
    assert code == 0 and "redundancy" not in json.loads(out)


def test_infeasible_redundancy_is_named(tmp_path):
    """One 8-card h100 node serves the example, but not with a spare instance of each role."""
    path = with_redundancy(ROOT / "problems/llama70b_chat.yaml", tmp_path, gpus=[{"id": "h100", "max_cards": 8}])
    code, out = run("solve", path)
    assert code == 3, out
    assert "serving.redundancy n_plus_1" in out


@pytest.mark.parametrize("problem,value,message", [
    ("llama70b_chat", "n+2", "serving.redundancy"),
    ("fleet_mix", "n_plus_1", "serving.redundancy: n_plus_1 is not yet supported on fleets"),
])
def test_refused_with_exit_2(problem, value, message, tmp_path):
    code, out = run("solve", with_redundancy(ROOT / "problems" / f"{problem}.yaml", tmp_path, value))
    assert code == 2, out
    assert message in out


# ------------------------------------------------------------------------------ node loss
def node_loss(c, cap, node_cards=8):
    return unit_loss_of(c, cap, "node", node_cards)


def test_unit_loss_by_hand():
    """An instance of 2 cards on 8-card nodes: a node holds 4 of them, so a node's loss is 4×;
    an instance of a node or more dies alone; n_plus_1 always loses one instance."""
    small, whole, wide = cand("prefill", "h100", 2, pre=1000), cand("prefill", "h100", 8, pre=5000), \
        cand("prefill", "h100", 16, pre=9000)
    assert unit_loss_of(small, 1000, "node", 8) == 4000
    assert unit_loss_of(whole, 5000, "node", 8) == 5000
    assert unit_loss_of(wide, 9000, "node", 8) == 9000
    assert unit_loss_of(small, 1000, "n_plus_1", 8) == 1000


def test_node_loss_by_hand():
    """Prefill demand 3,000 tok/s of 2-card instances of 1,000: three instances on one node without
    redundancy; surviving a node needs 3,000 after losing a node's 4,000: 7 instances on 2 nodes
    (4 + 3; either node lost leaves ≥ 3 instances)."""
    res = resolve(Problem.model_validate({**BASE, "serving": {"redundancy": "node"},
                                          "gpus": [{"id": "h100", "price_per_gpu_hour": 10}]}))
    cands = (cand("prefill", "h100", 2, pre=1000), cand("decode", "h100", 8, dec=10_000))
    d = milp.Demand(3_000, 1_000)
    m = milp.build(res, cands, d)
    assert milp.solve(m).status == milp.SolverStatus.optimal
    assert milp.selection(m) == {0: 7, 1: 2}
    assert milp.nodes(m)["h100"] == (4, 0)
    chosen = {cands[0]: 7, cands[1]: 2}
    packed = pack_nodes(chosen, {"h100": 8})
    assert sorted(len(n) for n in packed) == [1, 1, 3, 4]
    checks = {c.name: c for c in node_loss_checks(chosen, {"h100": 8}, 3_000, 1_000)}
    assert checks["node_loss[prefill]"].value == pytest.approx(1.0)     # 7,000 − 4,000 = 3,000
    assert checks["node_loss[decode]"].value == pytest.approx(10.0)     # 20,000 − 10,000 over 1,000
    assert not node_loss_checks({cands[0]: 6, cands[1]: 2}, {"h100": 8}, 3_000, 1_000)[0].ok


def test_pack_nodes_keeps_wide_instances_whole():
    """A 16-card instance takes two 8-card nodes of its own (losing either kills it); 4-card ones
    pair up on a node."""
    wide, half = cand("decode", "h100", 16, dec=900), cand("decode", "h100", 4, dec=200)
    packed = pack_nodes({wide: 1, half: 3}, {"h100": 8})
    assert sorted([c.cards for c in n] for n in packed) == [[4], [4, 4], [16], [16]]
    (check,) = node_loss_checks({wide: 1, half: 3}, {"h100": 8}, 0.0, 500)
    assert check.value == pytest.approx((1500 - 900) / 500)


@settings(max_examples=20, deadline=None)
@given(
    price=st.integers(1, 30),
    caps_pre=st.lists(st.integers(2, 9), min_size=2, max_size=2),
    caps_dec=st.lists(st.integers(2, 9), min_size=2, max_size=2),
    cards=st.lists(st.sampled_from([1, 2, 4, 8, 16]), min_size=2, max_size=2),
)
def test_milp_equals_enumeration_under_node_loss(price, caps_pre, caps_dec, cards):
    """The MILP's node rows against enumeration under the same rule (the loss bound of
    `unit_loss_of`), x up to upper_bound with the largest node loss as spare (why that is
    enough: milp.upper_bound)."""
    res = resolve(Problem.model_validate({**BASE, "serving": {"redundancy": "node"},
                                          "gpus": [{"id": "h100", "price_per_gpu_hour": price}]}))
    cands = (cand("prefill", "h100", cards[0], pre=caps_pre[0] * 1000),
             cand("colocated", "h100", cards[1], pre=caps_pre[1] * 500, dec=caps_dec[1] * 60))
    d = milp.Demand(5_000, 600)
    m = milp.build(res, cands, d)
    rep = milp.solve(m)
    expected = oracle(res, cands, d, node_loss, milp.Demand(*largest_node_loss(cands, {"h100": 8})))
    assert rep.status == milp.SolverStatus.optimal
    assert rep.objective == pytest.approx(expected, rel=1e-6)
    x = [milp.selection(m).get(i, 0) for i in range(len(cands))]
    assert survives_loss(x, cands, d, node_loss)


def test_example_survives_the_loss_of_any_node(tmp_path):
    """llama70b_chat with redundancy node: verified, no cheaper than N+1 nor than no redundancy,
    and with its instances packed on nodes, every node removed in turn leaves the demand."""
    path = ROOT / "problems/llama70b_chat.yaml"
    base = solve(load_problem(path))
    n1 = solve(load_problem(with_redundancy(path, tmp_path)))
    plan = solve(load_problem(with_redundancy(path, tmp_path, "node")))
    assert plan.verification.passed
    assert plan.cost_per_hour >= n1.cost_per_hour - 1e-9 >= base.cost_per_hour - 2e-9
    res = plan.resolved
    need = {"prefill_tok_s": res.qps * res.uncached_mean,
            "decode_tok_s": res.qps * res.output_mean / res.problem.serving.max_decode_utilization}
    packed = pack_nodes(plan.chosen, {o.id: o.gpu.node_cards for o in res.gpus})
    assert len(packed) <= sum(r + o for r, o in plan.nodes.values())
    for node in packed:
        for attr, dem in need.items():
            left = sum(n * getattr(c, attr) for c, n in plan.chosen.items()) - sum(getattr(c, attr) for c in node)
            assert left >= dem * (1 - 1e-9)
    code, out = run("solve", with_redundancy(path, tmp_path, "node"))
    assert code == 0 and "redundancy: any one node" in out.splitlines()[1]


def test_a_free_gpu_under_n_plus_1_is_a_verified_plan_of_cost_0(tmp_path):
    """A free L40S (price 0) with N+1: HiGHS proved the plan of cost 0 with a relative gap of 1 (its
    tie-break terms against a bound of 0), which the optimality check read as a gap, exit 4 (a
    hostile-input hunt, third round). A plan of cost 0 has nothing cheaper: verified, gap 0."""
    from planner.input.load import load_problem
    from planner.plan.solve import solve
    p = tmp_path / "free.yaml"
    p.write_text("name: free-nplus1\nmodel: llama-3.1-8b\nworkload: {qps: 3, input_tokens: 1000, output_tokens: 200}\n"
                 "slo: {ttft: 200ms, tpot: 30ms}\ngpus: [{id: l40s, price_per_gpu_hour: 0}, h100]\n"
                 "serving: {redundancy: n_plus_1}\n")
    plan = solve(load_problem(p), str(p))
    assert plan.verification.passed and plan.cost_per_hour == 0.0 and plan.solver.gap == 0.0
    assert {c.gpu for c in plan.chosen} == {"l40s"}

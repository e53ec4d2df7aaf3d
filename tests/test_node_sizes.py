"""Instance sizes on nodes whose card count is not a power of two (a catalog entry of one's own:
RTX 4090 servers of 10 cards, 6-card nodes); `planner.plan.shapes`.

Oracles: the divisors of a node by hand; the layouts 'auto' makes on them (TP within the domain
dividing the heads, PP for the rest); Llama-3.1-70B on 6-card H100 nodes costs what one node of it
costs (6 cards at the H100's price: one TP2·PP3 instance holds the load), where 2-card instances
cost twelve times that; and on 10-card RTX 4090 nodes it fits (TP2·PP5), where it was refused."""

from __future__ import annotations

import pytest

import planner.plan.resolve as resolve_mod
from planner.catalog.schemas import load_gpus
from planner.input.problem import Problem
from planner.plan.shapes import instance_sizes, shapes_for
from planner.plan.solve import solve


@pytest.mark.parametrize("node, max_cards, sizes", [
    (8, 64, [1, 2, 4, 8, 16, 32, 64]),   # as before: the powers of two
    (6, 64, [1, 2, 3, 6, 12, 24, 48]),
    (10, 40, [1, 2, 5, 10, 20, 40]),
    (6, 4, [1, 2, 3]),
])
def test_instances_fill_nodes_exactly(node, max_cards, sizes):
    assert instance_sizes(node, max_cards) == sizes


def _with(gpu_id: str, like: str, cards: int, monkeypatch) -> None:
    """A catalog with `gpu_id`: `like` with nodes (and scale-up domains) of `cards` cards."""
    base = load_gpus()
    g = base[like]
    new = g.model_copy(update={
        "id": gpu_id,
        "cards_per_node": g.cards_per_node.model_copy(update={"value": cards}),
        "scale_up": g.scale_up.model_copy(update={
            "domain_cards": g.scale_up.domain_cards.model_copy(update={"value": cards})})})
    monkeypatch.setattr(resolve_mod, "load_gpus", lambda: {**base, gpu_id: new})


def _llama70b(gpu: str, tpot: str = "50ms") -> Problem:
    return Problem.model_validate({"name": "n", "model": "llama-3.1-70b", "precision": {"weights": "fp8"},
                                   "workload": {"qps": 20, "input_tokens": 2000, "output_tokens": 300},
                                   "slo": {"ttft": "2s", "tpot": tpot},
                                   "gpus": [{"id": gpu, "price_per_gpu_hour": 10}]})


def test_six_card_nodes_get_layouts_that_fill_them(monkeypatch):
    """Llama-3.1-70B (64 heads) on 6-card nodes: TP2, TP1·PP3 and TP2·PP3 within a node (TP6 does
    not divide the heads), and until 2026-12-07 only 1 and 2 cards within one: 2,405.70 RMB/h at the
    H100's price on 94 two-card instances, against 194.40 on 8-card nodes (a hostile-input hunt)."""
    _with("x6", "h100", 6, monkeypatch)
    p = _llama70b("x6")
    res = resolve_mod.resolve(p)
    shapes = {(s.tp, s.pp, s.dp) for s in shapes_for(res, res.gpus[0])}
    assert {(1, 1, 1), (2, 1, 1), (1, 3, 1), (2, 3, 1), (2, 6, 1)} <= shapes
    assert not any(tp in (3, 6) for tp, _, _ in shapes)   # 64 heads
    plan = solve(p)
    assert plan.verification.passed
    cards = sum(n * c.cards for c, n in plan.chosen.items())
    assert cards % 6 == 0 and plan.cost_per_hour == pytest.approx(10 * cards)
    assert plan.cost_per_hour <= 120.0   # two nodes at most (one 6-card instance at 20 req/s)


def test_ten_card_nodes_fit_a_model_two_cards_cannot_hold(monkeypatch):
    """Llama-3.1-70B fp8 (~70 GB) on 24 GB RTX 4090s in 10-card servers: it needs more than two
    cards, and until 2026-12-07 the next size was 20 (TP10 does not divide 64 heads, so none): exit
    3 'does not fit' advising more cards per instance, which did not help. Now TP2·PP5 on one node."""
    _with("x4090x10", "rtx4090", 10, monkeypatch)
    plan = solve(_llama70b("x4090x10", "100ms"))   # 50 ms: 51.3 at best, on RTX 4090s
    assert plan.verification.passed
    assert {(c.par.tp, c.par.pp) for c in plan.chosen} <= {(2, 5), (1, 5), (1, 10), (2, 10)}
    assert all(c.cards in (5, 10, 20, 40) for c in plan.chosen)

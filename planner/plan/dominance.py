"""GPU types another listed type replaces at no extra cost, dropped before the MILP.

A problem that lists the H800 beside the H100 at the same price (the seed's four types) gives
the solver two copies of nearly every plan: the H800 is the H100 with less NVLink bandwidth, so
each of its candidates is matched or beaten by an H100 one of the same cards. Branch and bound
then proves the optimum over both copies. Dropping the dominated type first halves the HiGHS
time of the seed's 50-point sweep at the same cost on every point (docs/fleet_bench.md,
twenty-seventh session), and resolves ties between the two types in favour of the better card.

Type B is dominated by type A when every plan using B maps to one as cheap on A alone:
- A's servers hold as many cards (N_A = N_B) and A's card-hour costs no more;
- A has no availability cap, B no owned nodes (whose price is not a rental's), and under a power
  cap an A card draws no more;
- every candidate c of B, in every service, is replaced by k whole copies of a candidate o of A of
  the same role and service: k·cards_o = cards_c and k·capacity_o ≥ capacity_c for prefill and
  decode (under node redundancy o also loses no more with a node; under `max_pool_shapes` o has
  c's parallelism, so the swap adds no pool shape).
Moving all of B's instances onto A keeps every demand row, takes ⌈(a + b)/N⌉ ≤ ⌈a/N⌉ + ⌈b/N⌉
nodes and no more types or shapes, so the optimum's cost is unchanged. Only whole types go:
dropping some of B's candidates and not others could split a node of B that two of them share.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from planner.input.problem import Limits
from planner.plan.candidate import Candidate
from planner.plan.redundancy import unit_loss_of
from planner.plan.resolve import GPUOption

if TYPE_CHECKING:
    from planner.input.fleet import FleetProblem
    from planner.input.problem import Problem
    from planner.plan.services import Service


def _may_replace(a: GPUOption, b: GPUOption, limits: Limits) -> bool:
    """Whether A's terms allow moving every instance of B onto A (module docstring)."""
    return (a.id != b.id and a.gpu.node_cards == b.gpu.node_cards
            and a.price_per_card_hour <= b.price_per_card_hour
            and a.max_cards is None and b.owned_nodes == 0
            and (limits.power is None or a.gpu.power_w <= b.gpu.power_w))


class _Table:
    """One GPU type's candidates in one service as arrays: cards, prefill and decode capacity, role
    and parallelism as integer codes, and (node redundancy) what each loses with a node."""

    def __init__(self, cands: Sequence[Candidate], codes: dict, node_cards: int | None):
        self.n = len(cands)
        self.cards = np.array([c.cards for c in cands], dtype=np.int64)
        self.p = np.array([c.prefill_tok_s for c in cands], dtype=float)
        self.d = np.array([c.decode_tok_s for c in cands], dtype=float)
        self.role = np.array([codes.setdefault(("role", c.role), len(codes)) for c in cands], dtype=np.int64)
        self.par = np.array([codes.setdefault(("par", c.par), len(codes)) for c in cands], dtype=np.int64)
        if node_cards is not None:
            self.lp = np.array([unit_loss_of(c, c.prefill_tok_s, "node", node_cards) for c in cands], dtype=float)
            self.ld = np.array([unit_loss_of(c, c.decode_tok_s, "node", node_cards) for c in cands], dtype=float)


def _covers(ours: _Table, theirs: _Table, node: bool, same_shape: bool) -> bool:
    """Every candidate of `theirs` is replaced by whole copies of one of `ours` (same role, as
    much capacity; `node`: losing no more with a node; `same_shape`: same parallelism): one
    comparison of every pair, [their candidate, our candidate]."""
    if theirs.n == 0:
        return True
    if ours.n == 0:
        return False
    whole = theirs.cards[:, None] % ours.cards[None, :] == 0
    k = np.where(whole, theirs.cards[:, None] // ours.cards[None, :], 0)
    ok = (whole & (theirs.role[:, None] == ours.role[None, :])
          & (k * ours.p[None, :] >= theirs.p[:, None]) & (k * ours.d[None, :] >= theirs.d[:, None]))
    if same_shape:
        ok &= theirs.par[:, None] == ours.par[None, :]
    if node:
        ok &= (ours.lp[None, :] <= theirs.lp[:, None]) & (ours.ld[None, :] <= theirs.ld[:, None])
    return bool(ok.any(axis=1).all())


def dominated_types(services: Sequence[Sequence[Candidate]], gpus: Sequence[GPUOption], limits: Limits,
                    redundancy: str) -> dict[str, str]:
    """{B: A}: each GPU type B whose candidates, service by service (`services`: each service's
    candidates), type A replaces at no extra cost (module docstring), A itself kept. Types are
    tried from the last listed to the first, so of two that replace each other the first listed
    stays; dominance is transitive, so a type dropped for one that is dropped later is still
    replaced by the one that stays."""
    present = [o for o in gpus if any(c.gpu == o.id for cs in services for c in cs)]
    if len(present) < 2:
        return {}
    node = redundancy == "node"
    codes: dict = {}
    tables = {o.id: [_Table([c for c in cs if c.gpu == o.id], codes, o.gpu.node_cards if node else None)
                     for cs in services] for o in present}
    same_shape = limits.max_pool_shapes is not None
    dropped: dict[str, str] = {}
    for b in reversed(present):
        for a in present:
            if a.id == b.id or a.id in dropped or not _may_replace(a, b, limits):
                continue
            if all(_covers(ours, theirs, node, same_shape) for ours, theirs in zip(tables[a.id], tables[b.id])):
                dropped[b.id] = a.id
                break
    return dropped


def without_dominated_types(problem: Problem | FleetProblem,
                            svcs: list[Service]) -> tuple[list[Service], dict[str, str]]:
    """The services without the candidates of the GPU types another replaces at no extra cost
    (`dominated_types`), and {dropped type: the type that replaces it}."""
    r0 = svcs[0].res
    dropped = dominated_types([s.candidates for s in svcs], r0.gpus, problem.limits, problem.serving.redundancy)
    if not dropped:
        return svcs, {}
    return [replace(s, candidates=tuple(c for c in s.candidates if c.gpu not in dropped)) for s in svcs], dropped

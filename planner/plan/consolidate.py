"""Fewer pools at the optimum's cost: where the MILP chose two or more candidates of one role on
one GPU type for a service (e.g. decode `1×16 H800 TP1·DP16` beside `5×32 H800 TP1·DP32`), one of
them alone in their place, when it costs no more and meets every row.

Which of several plans of equal cost HiGHS returns depends on its search, not on what a person
deploys more easily; one engine configuration per role and GPU is simpler to run, scale and debug.
This is a choice among optima, not a change of the optimum: the cost is held at the first solve's
(`build_at_cost`), every other pool keeps its count, and only the group's one candidate's count is
free. A necessary condition read off the plan (the capacity the group must keep, in the cards its
GPU type's nodes hold) skips the candidates that cannot do it without building a MILP, so the
pass costs nothing where no group is fragmented and a few milliseconds a try where one is.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from planner.plan import milp
from planner.plan.lp import pulp

ROLE_CAPACITY = ("prefill_tok_s", "decode_tok_s")


def fragmented(m: milp.Model, picked: dict[int, int]) -> list[list[int]]:
    """Candidate indices of the chosen pools grouped by (service, role, GPU), the groups of two or
    more pools, in the order of their first candidate (deterministic: the MILP's column order)."""
    groups: dict[tuple[int, str, str], list[int]] = {}
    for i in sorted(picked):
        c = m.candidates[i]
        groups.setdefault((m.service_of[i], c.role, c.gpu), []).append(i)
    return [g for g in groups.values() if len(g) > 1]


def replacement_count(m: milp.Model, picked: dict[int, int], group: list[int], i: int,
                      cards_per_node: dict[str, int], nodes: dict[str, tuple[int, int]]) -> int | None:
    """The fewest instances of candidate i that give its service the capacity of each role the
    group gave beyond what its other pools give (the demand rows), or None when they do not fit in
    the cards of the nodes the plan already pays for on i's GPU type (so no plan of that cost
    has them). A necessary condition only: other rows (redundancy, caps) may still refuse it."""
    c = m.candidates[i]
    s = m.service_of[i]
    demand = m.services[s].demand
    n = 1
    for attr in ROLE_CAPACITY:
        need = getattr(demand, attr)
        if need <= 0:
            continue
        others = sum(k * getattr(m.candidates[j], attr) for j, k in picked.items()
                     if j not in group and m.service_of[j] == s)
        rest = need - others
        if rest <= 0:
            continue
        cap = getattr(c, attr)
        if cap <= 0:
            return None
        n = max(n, math.ceil(rest / cap * (1 - 1e-12)))
    used = sum(k * m.candidates[j].cards for j, k in picked.items() if j not in group and m.candidates[j].gpu == c.gpu)
    rent, own = nodes.get(c.gpu, (0, 0))
    return n if used + n * c.cards <= (rent + own) * cards_per_node[c.gpu] else None


def fewer_pools_at_cost(m: milp.Model, build_at_cost: Callable[[], milp.Model],
                        solve: Callable[[milp.Model], milp.SolverReport],
                        cards_per_node: dict[str, int], spans: Callable[[object], bool]) -> milp.Model | None:
    """The solved model of the plan with each fragmented group (`fragmented`) replaced by one of its
    candidates, tried largest pool first (cards, then column order), where `replacement_count`
    allows it and the MILP at the first solve's cost, every other count fixed, finds a plan (its
    objective then the fewest instances and nodes: the cost is held by the row); None when no
    group could be replaced (the first plan stands). A candidate whose group spans nodes (`spans`)
    is tried only where every pool of its group does: the serving-mode stage made them fewest."""
    picked, nodes = milp.selection(m), milp.nodes(m)
    out = None
    for group in fragmented(m, picked):
        wide = all(spans(m.candidates[j]) for j in group)
        for i in sorted(group, key=lambda j: (-picked[j] * m.candidates[j].cards, j)):
            if (spans(m.candidates[i]) and not wide) or \
                    replacement_count(m, picked, group, i, cards_per_node, nodes) is None:
                continue
            trial = build_at_cost()
            for j, x in trial.x.items():
                if j == i:
                    continue
                x.lowBound = x.upBound = 0 if j in group else picked.get(j, 0)
            trial.prob.setObjective(trial.x[i] + pulp.lpSum([*trial.rent.values(), *trial.own.values()]))
            rep = solve(trial)
            if rep.status in (milp.SolverStatus.optimal, milp.SolverStatus.feasible_time_limit):
                out, picked, nodes = trial, milp.selection(trial), milp.nodes(trial)
                break
    return out

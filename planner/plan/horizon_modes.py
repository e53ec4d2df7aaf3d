"""Among plans of a period of equal cost, the one engines deploy: the one-mode stage of a plan over
a load profile (`solve.one_mode_at_cost` is the single problem's).

After the enumeration of commitments (`horizon_solve.solve_by_commitment`) has fixed the reserved
and owned counts and each period's cost, each period whose plan runs colocated pools beside
prefill/decode pools of one service (a fleet's class), or an instance whose tensor·pipeline group
spans nodes, is solved once more with its cost held (Σ cost ≤ C*_p, within float round-off): a
mixing service held to prefill/decode pools, else to colocated pools (a service in one mode keeps
it), and, within that, the fewest instances spanning nodes, then the fewest instances. A period
none of whose held modes reaches the cost keeps its mix with the fewest spanning instances; a
period whose second plan neither takes one mode nor spans fewer nodes keeps its first plan (a
re-solve that only reshuffled equal-cost pools, 4 instances into 8, was churn). The first plan is
read as `without_padding` leaves it (instances no demand row needs, on nodes paid anyway, made a
period of colocated pools look mixed and took it to prefill/decode pools; a hunt, 2026-12-05).
Status and gaps are the first solve's; the plan of each period is the second's, and so is its cost:
the same when the first was proven optimal, lower when the first stopped at its time limit and the
second found a cheaper plan within the cap (the day's cost was the first's, verification then
failed on `cost_matches_solver`, exit 4: fleet_day on a loaded machine, 2026-12-06).
"""

from __future__ import annotations

from collections.abc import Callable

import pulp

from planner.plan import milp
from planner.plan.candidates import Candidate
from planner.plan.horizon_milp import HorizonModel, Nodes, Period
from planner.plan.solve import COST_CAP_ROW, LEX_INSTANCE_WEIGHT, SPAN_OBJECTIVE_WEIGHT, below, cost_cap, spans_nodes


def lean_period(per: Period, cnt: dict[int, int], cands: tuple[Candidate, ...],
                sets: tuple[tuple[int, ...], ...] = ()) -> dict[int, int]:
    """A period's instances (by candidate index) without those no demand row needs: taken out, most
    cards first, while every load's prefill and decode rows (Σ x·capacity / demand ≥ 1, normalised
    as the MILP's `add_demand`) still hold (`horizon_solve.without_padding`)."""
    cnt = dict(cnt)
    rows = []   # (coefficient by candidate index) of each demand row of the period
    for ld in per.all_loads():
        idx = sets[ld.group] if sets else range(len(cands))
        for kind in ("prefill", "decode"):
            if (need := getattr(ld.demand, f"{kind}_tok_s")) > 0:
                rows.append({i: milp.demand_coef(cap, need) for i in idx
                             if (cap := getattr(cands[i], f"{kind}_tok_s")) > 0})
    for i in sorted(cnt, key=lambda i: (-cands[i].cards, i)):
        while cnt[i] > 0 and all(sum(n * row.get(j, 0.0) for j, n in cnt.items()) - row.get(i, 0.0)
                                 >= 1.0 - 1e-9 for row in rows if i in row):
            cnt[i] -= 1
    return {i: n for i, n in cnt.items() if n > 0}


def _loads(m: HorizonModel) -> list[list[int]]:
    """The candidate indices of each of period 0's loads (a fleet's classes; one for a problem)."""
    return [[i for i, _ in m.of_load(ld)] for ld in m.periods[0].all_loads()]


def triggers(picked: dict[int, int], m: HorizonModel, node_cards: dict[str, int]) -> tuple[set[int], bool]:
    """(the loads whose picks mix colocated with prefill/decode pools, whether a pick spans nodes)."""
    mixed = set()
    for k, idx in enumerate(_loads(m)):
        roles = {m.candidates[i].role for i in idx if picked.get(i)}
        if "colocated" in roles and roles & {"prefill", "decode"}:
            mixed.add(k)
    return mixed, any(spans_nodes(m.candidates[i], node_cards) for i, n in picked.items() if n)


def one_mode_period(model: Callable[[], HorizonModel], cost: float, picked: dict[int, int],
                    node_cards: dict[str, int], solve: Callable[[HorizonModel], milp.SolverReport],
                    lean: Callable[[dict[int, int]], dict[int, int]] | None = None) -> HorizonModel | None:
    """The period's model solved at the first solve's `cost` with its plan held to one mode per
    load and the fewest spanning instances (module docstring); None when the first plan (`picked`,
    instances by candidate index, as `lean` leaves it) neither mixes nor spans, when no held plan
    reaches the cost, or when the second plan is no better (one mode, or fewer spanning instances).
    `model()` builds the period's model with its commitment fixed; `solve` runs the solver."""
    picked = lean(picked) if lean is not None else picked
    first = model()
    mixed, spanned = triggers(picked, first, node_cards)
    if not mixed and not spanned:
        return None
    loads = _loads(first)
    own = {k: any(first.candidates[i].role == "colocated" and picked.get(i) for i in idx)
           for k, idx in enumerate(loads)}
    attempts: list[bool | None] = ([False, True] if mixed else []) + ([None] if spanned else [])
    for n, colocated in enumerate(attempts):   # False: prefill/decode pools, True: colocated, None: the mix stays
        m = first if n == 0 else model()
        for k, idx in enumerate(loads):
            # a mixing load takes the attempt's mode; one in a single mode keeps it (no mix comes in)
            keep = colocated if k in mixed else own[k] if any(picked.get(i) for i in idx) else None
            if keep is None:
                continue
            for i in idx:
                if (m.candidates[i].role == "colocated") != keep:
                    m.x[(i, 0)].upBound = 0
        m.prob += m.cost <= cost_cap(cost), COST_CAP_ROW
        wide = [x for (i, _), x in m.x.items() if spans_nodes(m.candidates[i], node_cards)]
        m.prob.setObjective(pulp.lpSum(wide) + LEX_INSTANCE_WEIGHT * pulp.lpSum(m.x.values())
                            + SPAN_OBJECTIVE_WEIGHT * m.prob.objective)
        rep = solve(m)
        if rep.status in (milp.SolverStatus.optimal, milp.SolverStatus.feasible_time_limit):
            got = {i: int(round(x.varValue or 0)) for (i, _), x in m.x.items() if round(x.varValue or 0)}
            got = lean(got) if lean is not None else got
            better = colocated is not None or _spanning(got, m, node_cards) < _spanning(picked, m, node_cards)
            return m if better else None
    return None


def _spanning(picked: dict[int, int], m: HorizonModel, node_cards: dict[str, int]) -> int:
    return sum(n for i, n in picked.items() if spans_nodes(m.candidates[i], node_cards))


def settle_modes(best: list[tuple], fixed: tuple, periods: tuple[Period, ...],
                 model_for: Callable[[Period, tuple], HorizonModel], node_cards: dict[str, int],
                 solve: Callable[[HorizonModel], milp.SolverReport],
                 read: Callable[[HorizonModel], tuple[dict, dict[str, Nodes], dict[int, int], float]],
                 lean: Callable[[Period, dict[int, int]], dict[int, int]] | None = None) -> list[tuple]:
    """`best` (per period: cost, selection, nodes, report, counts by candidate index) with each
    period's plan and cost replaced by `one_mode_period`'s where it runs one (periods alike solved
    once; `read`: a solved model's selection, nodes, counts and cost);
    `lean(period, counts)`: the counts as `without_padding` leaves them (None: as solved)."""
    out, memo = [], {}
    for per, r in zip(periods, best):
        key = (per.qps, per.hours, per.caps, per.group, per.loads, per.excluded)
        if key not in memo:
            m = one_mode_period(lambda per=per: model_for(per, fixed), r[0], r[4], node_cards, solve,
                                None if lean is None else (lambda c, per=per: lean(per, c)))
            memo[key] = None if m is None else read(m)
        got = memo[key]
        cost = got[3] if got is not None and below(got[3], r[0]) else r[0]   # within round-off, the first's
        out.append(r if got is None else (cost, got[0], got[1], r[3], got[2]))
    return out

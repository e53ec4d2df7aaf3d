"""What a horizon plan is compared with, and how: the static fleet for the peak (whether it serves
and can be held in every period: `static_shortfall`, `static_over_caps`) and the independent
single-QPS plans of the periods (`independent_cost`, with the owned nodes they keep idle)."""

from __future__ import annotations

import math
import time
from dataclasses import replace

from planner.errors import Infeasible, plural
from planner.input.problem import Problem
from planner.plan import horizon_milp as hm
from planner.plan import horizon_solve as hs
from planner.plan.candidates import Candidate
from planner.plan.model import Plan
from planner.plan.periods import at_qps, period_problem, single_qps_problem
from planner.plan.resolve import Resolved
from planner.plan.services import needed
from planner.plan.solve import solve
from planner.plan.verify import verify_service


def static_shortfall(static: Plan, res_g: list[Resolved | None], group_of: list[int],
                     qps: list[float]) -> tuple[int, str] | None:
    """The first period (and the check it fails) that the static fleet's pools cannot serve, or None.
    Every period's load is verified on the static pools (once per length group and QPS): a period
    of other lengths (a trace, per-period lengths) can ask more than the peak (an hour of 55 req/s
    × 2,000 output tokens more decode than the peak's 60 × 1,000), and one of the peak's lengths
    can too, for a colocated pool whose steps carry fewer prompts at a lower load (decodes pile up
    behind bursts of chunks: Llama-3.1-8B's static H100 pools at 24.1 ms TPOT at 300 req/s, 30.3 ms
    against 30 at 255; only the other lengths' busiest periods were checked before 2026-12-05)."""
    top = qps.index(max(qps))
    seen = set()
    for p in range(len(qps)):
        g = group_of[p]
        if qps[p] <= 0 or res_g[g] is None or (g, qps[p]) in seen or (g == group_of[top] and qps[p] == qps[top]):
            continue
        seen.add((g, qps[p]))
        if (failed := first_failed_check(at_qps(res_g[g], qps[p]), static.chosen)) is not None:
            return p, failed
    return None


def static_over_caps(static: Plan, kinds: tuple[hm.GPUKinds, ...],
                     periods: tuple[hm.Period, ...]) -> tuple[int, str] | None:
    """The first period whose own caps (`max_cards_per_period`, and `on_demand_max_cards_per_period`
    for a type the static fleet rents on demand) the static fleet's nodes exceed, with the cap as a
    check, or None. It is sized within the busiest period's caps and held every period, so a
    period capped lower cannot hold it (it was reported as serving every period, and a day plan
    that worked around an hour at 0 H100 cards read 'saving −244.7 %')."""
    for per in periods:
        for cap in per.caps:
            k = next((k for k in kinds if k.id == cap.gpu), None)
            if k is None:
                continue
            rented, owned = static.nodes.get(k.id, (0, 0))
            on_demand = not k.reserved_cheaper
            for what, cards, limit in (("availability_period", (rented + owned) * k.node_cards, cap.max_cards),
                                       ("on_demand_availability", rented * k.node_cards,
                                        cap.on_demand_max_cards if on_demand else None)):
                if limit is not None and cards > limit:
                    return per.index, f"{what}[{k.id}]: {plural(cards, 'card')} held, at most {limit} in that period"
    return None


def first_failed_check(res: Resolved, chosen: dict[Candidate, int]) -> str | None:
    """The name of the first check the pools `chosen` fail at the workload `res`, or None."""
    _, checks = verify_service(res, chosen)
    return next((c.name for c in checks if not c.ok), None)


def independent_key(per: hm.Period) -> tuple:
    """What a period's own single-QPS plan depends on: its QPS, cards caps and lengths (it rents
    no spot, so spot prices and caps do not matter)."""
    return per.qps, tuple((c.gpu, c.max_cards, c.on_demand_max_cards) for c in per.caps), per.group


def independent_cost(problem: Problem, peak: Resolved, periods: tuple[hm.Period, ...], cs_g,
                     solver: str | None, time_limit: float | None,
                     start_cost: dict[hm.Shape, float] | None = None, deadline: float = math.inf) -> float | None:
    """Σ_p h_p·(cost per hour of period p's own single-QPS plan: on demand, its lengths, within its
    own caps, and the owned nodes it leaves idle, paid as the horizon plan pays them), plus the
    starts from one period's plan to the next when instance starts are priced;
    None when a period has no single-QPS plan (e.g. a budget it cannot meet alone). One solve per
    distinct QPS, caps and lengths; None too once the solves pass `deadline` (the problem's time
    limit, from when the comparison starts). Only the cost is compared, so without start costs (which count
    the plans' instances) each solve drops dominated candidates first (`services.needed`: the
    optimum's cost is unchanged, and with redundancy rows per candidate the MILP shrinks most)."""
    plans: dict[tuple, Plan] = {}
    if not start_cost:   # peak carries the problem's redundancy and limits: its pruning rules
        cs_g = [c if c is None else replace(c, candidates=needed(c.candidates, peak)) for c in cs_g]
    for per in periods:
        key = independent_key(per)
        if per.qps <= 0 or key in plans:
            continue
        if time.perf_counter() > deadline:
            return None
        single = single_qps_problem(period_problem(problem, per.index), peak, per.qps, False, per.caps)
        try:
            plans[key] = solve(single, peak.source, solver=solver, time_limit=time_limit, candidates=cs_g[per.group],
                               heuristics=bool(start_cost))   # only the cost is read without starts
        except Infeasible:
            return None
    keys = [independent_key(per) for per in periods]
    hourly = [(plans[k].cost_per_hour, plans[k].nodes) if k in plans else None for k in keys]
    if own_plans_break_caps(peak, periods, hourly, problem.limits.budget_per_hour):
        return None
    cost = sum(h[0] * per.hours for h, per in zip(hourly, periods) if h is not None)
    cost += idle_owned_cost(peak.gpus, [(per.hours, h[1] if h else {}) for per, h in zip(periods, hourly)])
    if start_cost:
        started = hs.starts_of([plans[k].chosen if k in plans else {} for k in keys])
        cost += sum(n * start_cost[s] for st in started for s, n in st.items())
    return cost


def own_plans_break_caps(peak: Resolved, periods: tuple[hm.Period, ...],
                         hourly: list[tuple[float, dict[str, tuple[int, int]]] | None], budget: float | None) -> bool:
    """Whether the periods' own plans (`hourly`: cost per hour and GPU type → (rented, owned) nodes,
    None for a period without load) break what the horizon plan is held to: an hour's plan and the
    owned nodes it leaves idle, paid, above the budget; or more rented cards than the period's
    on-demand cap — its single-QPS problem caps rented and owned cards together, so where an owned
    node costs more than renting, it rented in its place (a day of one owned H100 node at 20 a
    card-hour with 0 on-demand cards an hour was compared with 1,920 of rented ones, "saving
    −100 %", a hunt)."""
    nodes = [h[1] if h else {} for h in hourly]
    cards = {k.id: k.node_cards for k in hm.gpu_kinds(peak)}
    for per, h in zip(periods, hourly):
        if h is None:
            continue
        if budget is not None and h[0] + idle_owned_cost(peak.gpus, [(1.0, h[1])], nodes) > budget * (1 + 1e-9):
            return True
        if any(c.on_demand_max_cards is not None and h[1].get(c.gpu, (0, 0))[0] * cards[c.gpu] > c.on_demand_max_cards
               for c in per.caps if c.gpu in cards):
            return True
    return False


def idle_owned_cost(gpus, periods: list[tuple[float, dict[str, tuple[int, int]]]],
                    over: list[dict[str, tuple[int, int]]] | None = None) -> float:
    """What the owned nodes the periods' own plans keep but leave idle cost over the horizon
    (`periods`: (hours, GPU type → (rented, owned) nodes in use) each). The horizon plan keeps its
    owned nodes all horizon (a count chosen once, paid every hour); so do these plans: the most any
    period uses, paid in every period, of which each period's own cost holds those it used. (They
    paid only the hours they used, and a day with two busy hours on one owned node read "saving
    −1,093.6 %"; then every owned node every hour, also those no plan used, and a day whose plan
    kept none of three owned nodes read "saving 83.2 %".) `over`: the periods the kept count is
    the most of (default `periods`'), to price one period's idle nodes alone."""
    total = 0.0
    for o in gpus:
        if not o.owned_nodes:
            continue
        most = max((nodes.get(o.id, (0, 0))[1] for nodes in (over if over is not None else
                                                              [n for _, n in periods])), default=0)
        total += sum(h * (most - nodes.get(o.id, (0, 0))[1]) for h, nodes in periods) \
            * o.gpu.node_cards * o.owned_cost_per_card_hour
    return total

"""Solving the multi-period MILP of a load profile (horizon_milp builds it): exactly by
decomposing over the committed counts, or as one joint MILP (many commitments, or instance
starts that couple the periods).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, replace

from planner.input.problem import Limits
from planner.plan import milp
from planner.plan.candidates import Candidate
from planner.plan.diagnose import PERIOD_CHECK
from planner.plan.horizon_milp import (
    GPUKinds,
    HorizonModel,
    Nodes,
    Period,
    Shape,
    build,
    running,
    shape_of,
)
from planner.plan.horizon_modes import lean_period, settle_modes
from planner.plan.lp import pulp

MIN_MILP_SECONDS = 0.5  # a single-period MILP's time limit once the enumeration's is spent
MAX_COMMITMENTS = 400   # reserved/owned count vectors tried before falling back to the joint MILP
HEURISTICS = False      # the MILPs of a plan over periods run HiGHS without primal heuristics
                        # (milp.solve; docs/optimisation.md: same costs, shorter proofs) when they
                        # start from a plan (warm) or are one commitment's periods; the cold joint
                        # MILP keeps them: with nothing to start from, finding a plan is its time
                        # (the node-redundancy day of tests/test_horizon.py: 149 s CPU without,
                        # 6.7 s with, same optimum)


@dataclass(frozen=True)
class Solved:
    """A horizon solution: instances and nodes per period, the cost, and the solver's report."""

    selection: list[dict[Candidate, int]]
    nodes: list[dict[str, Nodes]]
    report: milp.SolverReport
    method: str                 # 'commitment' (exact decomposition) or 'joint' (one MILP)
    subproblems: int = 0
    counts: list[dict[int, int]] | None = None   # instances by candidate index, per period
    start: str | None = None    # a joint MILP's start: plan_without_start_costs, static_fleet, plan_without_commitments
    padded: Solved | None = None   # the solution as solved, before `without_padding` took instances out


# ------------------------------------------------------------------------ a solved model read
def _int(v) -> int:
    return int(round(v.varValue or 0)) if isinstance(v, pulp.LpVariable) else int(v)


def selection(m: HorizonModel) -> list[dict[Candidate, int]]:
    """Chosen instances by candidate, per period (equal candidates of two fleet classes added)."""
    return by_candidate(counts(m), m.candidates)


def by_candidate(by_index: list[dict[int, int]], cands) -> list[dict[Candidate, int]]:
    """Instances by candidate index, per period → by candidate (indices of one candidate added)."""
    out: list[dict[Candidate, int]] = [{} for _ in by_index]
    for p, cnt in enumerate(by_index):
        for i, n in sorted(cnt.items()):
            out[p][cands[i]] = out[p].get(cands[i], 0) + n
    return out


def counts(m: HorizonModel) -> list[dict[int, int]]:
    """Chosen instances by candidate index, per period (what tells a fleet's classes apart)."""
    out: list[dict[int, int]] = [{} for _ in m.periods]
    for (i, p), v in sorted(m.x.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        n = _int(v)
        if n > 0:
            out[p][i] = n
    return out


def node_counts(m: HorizonModel) -> list[dict[str, Nodes]]:
    """Nodes by GPU type and kind, per period; idle the fewest the period's cap and the power limit
    need (a solve stopped by its time limit could leave held nodes idle: more in service is free)."""
    out = []
    for p, per in enumerate(m.periods):
        caps = {c.gpu: c.max_cards for c in per.caps if c.max_cards is not None}
        row = {}
        for k in m.kinds:
            n = Nodes(_int(m.reserved[k.id]), _int(m.owned[k.id]), _int(m.on_demand[(k.id, p)]),
                      _int(m.spot[(k.id, p)]))
            row[k.id] = replace(n, idle=min(n.reserved + n.owned, _int(m.idle[(k.id, p)])))
        out.append(fewest_idle(m, row, caps))
    return out


def node_kw(k: GPUKinds) -> float:
    """What one node of the type draws in service, kW (its cards' power, as the power row counts)."""
    return k.node_cards * k.opt.gpu.power_w / 1e3


def fewest_idle(m: HorizonModel, row: dict[str, Nodes], caps: dict[str, int]) -> dict[str, Nodes]:
    """The solved period's nodes with idle ones put back in service while the period's card cap of
    their type and the power limit (shared by the types, in the order of m.kinds) still hold."""
    slack = None if m.power_kw is None else m.power_kw - sum(node_kw(k) * row[k.id].in_service for k in m.kinds)
    out = dict(row)
    for k in m.kinds:
        n = row[k.id]
        back = n.idle - (max(n.total - caps[k.id] // k.node_cards, 0) if k.id in caps else 0)
        if slack is not None and node_kw(k) > 0:
            back = min(back, int((slack + 1e-9) // node_kw(k)))
        if back > 0:
            out[k.id] = replace(n, idle=n.idle - back)
            if slack is not None:
                slack -= back * node_kw(k)
    return out


def commitment_ranges(kinds: tuple[GPUKinds, ...], hours: float, bound: float) -> dict[str, range]:
    """Reserved and owned node counts worth trying per GPU type: a commitment whose own cost over
    the horizon reaches `bound` (a feasible plan's cost) cannot be optimal; owned nodes up to the
    inventory, and, where they cost anything, up to that bound too (until 2026-12-06 an inventory
    of 1,000 cheap owned nodes made 1,001 vectors, too many to enumerate, and the joint MILP stopped
    at its time limit on a node-redundant day 50 % dearer than the 3-node optimum)."""
    out = {}
    for k in kinds:
        if k.reserved_price is not None:
            per_node = hours * k.node_cards * k.reserved_price
            out[f"res:{k.id}"] = range(int(bound / per_node) + 1 if per_node > 0 else 1)
        if k.opt.owned_nodes:
            per_node = hours * k.node_cards * k.opt.owned_cost_per_card_hour
            top = k.opt.owned_nodes if per_node <= 0 else min(k.opt.owned_nodes, int(bound / per_node))
            out[f"own:{k.id}"] = range(top + 1)
    return out


def solve_by_commitment(name: str, kinds: tuple[GPUKinds, ...], limits: Limits, cands: tuple[Candidate, ...],
                        periods: tuple[Period, ...], solver: str, time_limit: float, gap: float,
                        verbose: bool = False, redundancy: str = "none",
                        sets: tuple[tuple[int, ...], ...] = (), spot_confidence: float | None = None,
                        starts: list | None = None, hints: tuple[dict[str, int], ...] = (), settle: bool = True
                        ) -> Solved | None:
    """Exact decomposition: once the reserved and owned counts are fixed the periods no longer
    share anything, so the horizon's optimum is min over those counts of Σ_p (period p's own
    optimum with them fixed; each period pays h_p·its commitment). Periods of equal QPS share one
    solve. None when there are more than MAX_COMMITMENTS count vectors (use the joint MILP).
    `time_limit` holds for the whole enumeration (each MILP gets what is left, at least
    MIN_MILP_SECONDS): past it the best commitment so far stands, not proven optimal (it held each
    of 108 MILPs alone, and a 5 s limit ran 76 s). Given too many vectors, the plan of no
    commitment (each period's own optimum on demand, which the enumeration solves first) is put in
    `starts` as (selection, nodes) for the joint MILP: cold, under a 10 s limit, it returned a day
    16 times its optimum with hundreds of idle on-demand nodes. `hints`: count vectors ('res:g' /
    'own:g' → n) tried right after the likeliest, e.g. the static fleet's (a 10 s limit stopped a
    node-redundant day at 4,427.92 beside a static fleet of 2,323.20 that serves every period).
    `settle`: each period's plan then held to one serving mode at its cost (`horizon_modes`)."""
    t0 = time.perf_counter()
    hours = sum(per.hours for per in periods)
    if any(k.reserved_price is not None and k.reserved_price * k.node_cards * hours <= 0 for k in kinds):
        return None   # a free reservation: no cost bounds its count, the joint MILP chooses it
    memo: dict[tuple, tuple[float, dict, dict, milp.SolverReport] | None] = {}
    runs: list[milp.SolverReport] = []   # every MILP solved

    def model_for(per: Period, fixed: tuple[tuple[str, int], ...]) -> HorizonModel:
        m = build(name, kinds, limits, cands, (replace_index(per),), redundancy, sets, spot_confidence=spot_confidence)
        for var, n in fixed:   # 'res:g' / 'own:g'
            v = (m.reserved if var.startswith("res:") else m.owned)[var.split(":", 1)[1]]
            v.lowBound = v.upBound = n
        return m

    def run(m: HorizonModel) -> milp.SolverReport:
        rep = milp.solve(m, solver, max(time_limit - (time.perf_counter() - t0), MIN_MILP_SECONDS), gap, verbose,
                         heuristics=HEURISTICS)
        runs.append(rep)
        return rep

    def period_cost(per: Period, fixed: tuple[tuple[str, int], ...]):
        key = (per.qps, per.hours, per.caps, per.group, per.loads, per.excluded, fixed)
        if key not in memo:
            rep = run(m := model_for(per, fixed))
            ok = rep.status in (milp.SolverStatus.optimal, milp.SolverStatus.feasible_time_limit)
            memo[key] = (rep.objective or 0.0, selection(m)[0], node_counts(m)[0], rep, counts(m)[0]) if ok else None
        return memo[key]

    def total(fixed):
        out = []
        for per in periods:
            r = period_cost(per, fixed)
            if r is None:
                return None
            out.append(r)
        return out

    zero = tuple((v, 0) for v in commitment_ranges(kinds, hours, 0.0))
    first = total(zero)
    if first is None:
        return None   # some period cannot be served: the joint MILP says why
    best_cost, best, best_fixed = sum(r[0] for r in first), first, zero
    ranges = commitment_ranges(kinds, hours, best_cost)
    names = tuple(ranges)

    def commit(counts) -> float:
        """The commitment's cost over the horizon."""
        return hours * per_hour_commitment(kinds, tuple(zip(names, counts)))

    combos = 1
    for r in ranges.values():
        combos *= len(r)
    if combos > MAX_COMMITMENTS:
        if starts is not None:
            starts.append(([r[1] for r in first], [r[2] for r in first]))
        return None
    stopped = False
    hinted = [tuple(h.get(v, 0) for v in names) for h in hints]
    hinted = [c for c in hinted if all(n in ranges[v] for v, n in zip(names, c))]
    for i, combo in enumerate(_likely_first(itertools.product(*ranges.values()), names, ranges, first, kinds,
                                            hinted)):
        if commit(combo) >= best_cost:
            continue
        if i > len(hinted) and time.perf_counter() - t0 > time_limit:   # the likeliest and the hints always
            stopped = True
            break
        res = total(tuple(zip(names, combo)))
        if res is not None and sum(r[0] for r in res) < best_cost * (1 - 1e-12):
            best_cost, best, best_fixed = sum(r[0] for r in res), res, tuple(zip(names, combo))
    if settle:   # among each period's plans of its cost, one serving mode, fewest groups over nodes
        best = settle_modes(best, best_fixed, periods, model_for, {k.id: k.node_cards for k in kinds}, run,
                            lambda m: (selection(m)[0], node_counts(m)[0], counts(m)[0], pulp.value(m.cost)),
                            (lambda per, cnt: lean_period(per, cnt, cands, sets)) if redundancy == "none" else None)
        best_cost = sum(r[0] for r in best)   # lower where a time-limited period's second plan was cheaper
    reps = [r[3] for r in best]
    status = (milp.SolverStatus.optimal if not stopped and all(r.status == milp.SolverStatus.optimal for r in reps)
              else milp.SolverStatus.feasible_time_limit)
    gaps = [r.gap for r in reps if r.gap is not None] if not stopped else []   # stopped: no gap proven
    report = milp.SolverReport(reps[0].name, status, sum(r.seconds for r in runs),
                               max(gaps) if gaps else None, best_cost, sum(r.variables for r in reps),
                               sum(r.constraints for r in reps))
    return Solved([r[1] for r in best], [r[2] for r in best], report, "commitment", len(runs),
                  [r[4] for r in best])


def _likely_first(combos, names: tuple[str, ...], ranges: dict[str, range], first: list, kinds=(), hinted=()):
    """The commitment vectors with the likeliest first: every owned node cheaper than the type's
    on-demand price, and reserved the nodes every period of the plan without commitments runs of
    the type beyond those, clipped to the ranges. Under a time limit the enumeration may stop
    early (the zero vector, tried first, cost a node-redundant day 6.7 times what its cheap owned
    nodes give)."""
    cheap = {k.id for k in kinds if k.opt.owned_nodes and k.opt.owned_cost_per_card_hour < k.opt.price_per_card_hour}
    floor = {}
    for v in names:
        g = v.split(":", 1)[1]
        floor[g] = min((sum(n.total for gg, n in r[2].items() if gg == g) for r in first), default=0)
    take = {}
    for v in sorted(names, key=lambda v: not v.startswith("own:")):   # owned nodes first, then reserved
        g = v.split(":", 1)[1]
        top = ranges[v][-1] if len(ranges[v]) else 0
        take[v] = top if v.startswith("own:") and g in cheap else min(max(floor[g], 0), top)
        floor[g] -= take[v]
    guess = tuple(take[v] for v in names)
    early = list(dict.fromkeys((guess, *hinted)))   # then the hints (the static fleet's counts)
    yield from early
    for combo in combos:
        if combo not in early:
            yield combo


def per_hour_commitment(kinds: tuple[GPUKinds, ...], fixed: tuple[tuple[str, int], ...]) -> float:
    """Σ count·N_g·(reserved or owned price per card-hour) of fixed counts ('res:g' / 'own:g')."""
    return sum(n * k.node_cards * ((k.reserved_price or 0.0) if v.startswith("res:")
                                   else k.opt.owned_cost_per_card_hour)
               for v, n in fixed for k in kinds if v.split(":", 1)[1] == k.id)


def replace_index(per: Period) -> Period:
    """The period as the only one of a model (index 0)."""
    return replace(per, index=0)


def solve_joint(m: HorizonModel, solver: str, time_limit: float, gap: float, verbose: bool = False,
                warm: bool = False) -> Solved:
    """The joint MILP over all periods (the fallback of many commitment vectors, and the model
    with instance starts); `warm`: started from the variables' values (`warm_start`), without
    HiGHS's primal heuristics; cold, with them (`HEURISTICS`)."""
    rep = milp.solve(m, solver, time_limit, gap, verbose, warm, heuristics=HEURISTICS or not warm)
    ok = rep.status in (milp.SolverStatus.optimal, milp.SolverStatus.feasible_time_limit)
    if ok and m.starts:
        rep = replace(rep, objective=tight_starts(m))
    return Solved(selection(m) if ok else [], node_counts(m) if ok else [], rep, "joint", 0,
                  counts(m) if ok else None)


def solve_horizon_milp(name: str, kinds: tuple[GPUKinds, ...], limits: Limits, cands: tuple[Candidate, ...],
                       periods: tuple[Period, ...], args: tuple, redundancy: str = "none",
                       sets: tuple[tuple[int, ...], ...] = (), spot_confidence: float | None = None,
                       hints: tuple[dict[str, int], ...] = (), settle: bool = True) -> Solved:
    """The horizon's MILP without instance starts (`args`: solver, time limit, gap, verbose): by
    commitment (`solve_by_commitment`; `settle` as there), or, given too many commitment vectors,
    jointly, started from the plan of no commitment the enumeration solved first (`solve_joint_from`)."""
    starts: list = []
    solved = solve_by_commitment(name, kinds, limits, cands, periods, *args, redundancy=redundancy, sets=sets,
                                 spot_confidence=spot_confidence, starts=starts, hints=hints, settle=settle)
    if solved is None:
        solved = solve_joint_from(build(name, kinds, limits, cands, periods, redundancy, sets,
                                        spot_confidence=spot_confidence), args, starts)
    return solved


def solve_joint_from(m: HorizonModel, args: tuple, starts: list) -> Solved:
    """The joint MILP (`args`: solver, time limit, gap, verbose), warm-started from the cheapest of
    `starts` ((selection, nodes) pairs: `solve_by_commitment`'s plan of no commitment) that meets
    its rows, else cold; a time-limited solve then returns no plan dearer than its start."""
    begin = cheapest_start(m, [(sel, nodes, "plan_without_commitments") for sel, nodes in starts]) if starts else None
    return started(solve_joint(m, *args, warm=begin is not None), begin)


def started(solved: Solved, begin: str | None) -> Solved:
    """A joint MILP's solution marked as started from `begin` ('joint, warm-started'), as it is unless
    there was no start or HiGHS's was dropped for a cold solve (`SolverReport.start_dropped`)."""
    if begin is None or solved.report.start_dropped:
        return solved
    return replace(solved, method="joint, warm-started", start=begin)


def cheapest_start(m: HorizonModel,
                   plans: list[tuple[list[dict[Candidate, int]], list[dict[str, Nodes]], str]]) -> str | None:
    """Set `m`'s variables to the cheapest of `plans` (selection, nodes, name) whose instances are
    all `m`'s candidates and that meets every row of `m` (`warm_start`); its name, or None when
    none does (a cut may have taken a plan's candidates; the variables are then left as they are)."""
    have = {(m.candidates[i], p) for (i, p) in m.x}
    best = None
    for sel, nodes, name in plans:
        if any((c, p) not in have for p, chosen in enumerate(sel) for c in chosen):
            continue
        warm_start(m, sel, nodes)
        if not violated(m) and (best is None or pulp.value(m.cost) < best[0]):
            best = (pulp.value(m.cost), sel, nodes, name)
    if best is None:
        return None
    warm_start(m, best[1], best[2])
    return best[3]


def violated(m: HorizonModel, tol: float = 1e-6) -> bool:
    """Whether the variables' current values break a row or a bound of `m`."""
    for c in m.prob.constraints.values():
        v = c.value()
        if (c.sense >= 0 and v < -tol) or (c.sense <= 0 and v > tol):
            return True
    return any(v.varValue is not None and ((v.lowBound is not None and v.varValue < v.lowBound - tol)
                                           or (v.upBound is not None and v.varValue > v.upBound + tol))
               for v in m.prob.variables())


def tight_starts(m: HorizonModel) -> float:
    """Set each start variable to the instances its period actually starts, max(0, n[k,p] −
    n[k,p−1]), and return the cost with them. The rows only bound the starts from below, so a plan
    found before the time limit may carry starts it does not make (a node-redundant day of
    Llama-3.1-8B on H100, time-limited at a 55 % gap: 0.02 RMB of them), and its verification, which
    counts the starts of the chosen instances, failed `cost_matches_solver` (exit 4)."""
    n = len(m.periods)
    for (k, p), s in m.starts.items():
        s.varValue = max(0.0, pulp.value(running(m, k, p)) - pulp.value(running(m, k, (p - 1) % n)))
    return pulp.value(m.cost)


def starts_of(selection: list[dict[Candidate, int]]) -> list[dict[Shape, int]]:
    """Instances started in each period (cyclic), by shape, from the chosen instances."""
    count = [{} for _ in selection]
    for p, sel in enumerate(selection):
        for c, n in sel.items():
            count[p][shape_of(c)] = count[p].get(shape_of(c), 0) + n
    out = []
    for p in range(len(selection)):
        prev = count[p - 1]
        out.append({k: n - prev.get(k, 0) for k, n in count[p].items() if n > prev.get(k, 0)})
    return out


def warm_start(m: HorizonModel, sel: list[dict[Candidate, int]], nodes: list[dict[str, Nodes]]) -> None:
    """Set every variable of `m` to a known plan (instances and nodes per period), the auxiliary
    ones (redundancy 'used' binaries and capacities, starts) to what that plan implies: a start
    for the solver (milp.solve(warm=True))."""
    index = {(c, p): i for (i, p) in m.x for c in [m.candidates[i]]}
    for v in m.prob.variables():
        v.varValue = 0.0
    for p, chosen in enumerate(sel):
        for c, n in chosen.items():
            m.x[(index[(c, p)], p)].varValue = n
    for p, per_nodes in enumerate(nodes):
        for g, nd in per_nodes.items():
            for var, val in ((m.reserved[g], nd.reserved), (m.owned[g], nd.owned), (m.on_demand[(g, p)], nd.on_demand),
                             (m.spot[(g, p)], nd.spot), (m.idle[(g, p)], nd.idle)):
                if isinstance(var, pulp.LpVariable):
                    var.varValue = val
    for v in m.prob.variables():
        if v.name.startswith("used_"):
            i, p = map(int, v.name.split("_")[1:3])
            v.varValue = 1.0 if (m.x[(i, p)].varValue or 0) > 0 else 0.0
        elif v.name.startswith("capacity_"):
            kind, p = v.name.split("_")[1], int(v.name.split("_")[2])
            need = getattr(m.periods[p].demand, f"{kind}_tok_s")
            v.varValue = sum((m.x[(i, p)].varValue or 0) * milp.demand_coef(getattr(c, f"{kind}_tok_s"), need)
                             for i, c in m.of_period(p))
    for (g, p), lam in m.spot_count.items():   # spot at a confidence: the count's indicator (add_node_cover)
        n = nodes[p][g].spot if g in nodes[p] else 0
        if n < len(lam):
            lam[n].varValue = 1.0
    started = starts_of(sel)
    for (k, p), s in m.starts.items():
        s.varValue = started[p].get(k, 0)


def without_padding(solved: Solved, cands: tuple[Candidate, ...], periods: tuple[Period, ...],
                    sets: tuple[tuple[int, ...], ...] = ()) -> Solved:
    """The solution without the instances no demand row needs: in each period instances are taken
    out, most cards first, while every load's prefill and decode rows (Σ x·capacity / demand ≥ 1,
    normalised as the MILP's `add_demand`) still hold. The nodes, and so the cost, stay: the
    MILP's tie-break for fewest cards in use (CARD_TIE_BREAK, 10⁻¹⁰ a card) lies far below its
    gap, so a solve could pad a period with instances on nodes it pays for anyway (a day of
    Llama-3.1-8B at 6–17 req/s ran four to seven 1-card instances on an owned 8-card node where one
    served the peak). For plans without redundancy and instance starts, whose rows the instances
    enter beside these; `padded` keeps the solution as solved (the caller verifies it instead
    should the leaner plan fail its verification)."""
    if solved.counts is None:
        return solved
    new_counts = [lean_period(per, cnt, cands, sets) for per, cnt in zip(periods, solved.counts)]
    if new_counts == solved.counts:
        return solved
    return replace(solved, selection=by_candidate(new_counts, cands), counts=new_counts, padded=solved)


def leanest_verified(solved: Solved, verify) -> tuple[Solved, tuple]:
    """The solution `without_padding` left, verified (`verify`: Solved → (plans, cost,
    Verification)); where it fails, the periods that failed take back the instances as solved, the
    others stay lean (one colocated pool failing its TPOT in five hours kept every hour padded: a
    8 req/s hour on seven 1-card pools), and where that fails too, the solution as solved."""
    out = verify(solved)
    if out[2].passed or solved.padded is None:
        return solved, out
    # a period's checks: 'p6/availability_period[h100]', 'tpot[p6/colocated[…]]'
    bad = {int(m.group(2)) for c in out[2].failed if (m := PERIOD_CHECK.fullmatch(c.name))}
    if bad and solved.counts is not None and solved.padded.counts is not None:
        def pick(lean: list, full: list) -> list:
            return [full[p] if p in bad else x for p, x in enumerate(lean)]
        tried = replace(solved, selection=pick(solved.selection, solved.padded.selection),
                        counts=pick(solved.counts, solved.padded.counts))
        got = verify(tried)
        if got[2].passed:
            return tried, got
    return solved.padded, verify(solved.padded)

"""`solve_fleet_horizon()`: a fleet whose classes have load profiles → one MILP over all periods.

Each class is served by pools of its own (sharing between classes would need candidates for
every period's mixture of their loads; a fleet planned over a horizon therefore uses
`sharing: none`, and says so). A class without a profile is flat over the others' periods.
The classes' candidates (per class and length group, at the group's busiest period) draw on one
set of nodes per GPU type and period: instances of different models share whole nodes, and the
reserved and owned counts are shared over the horizon — the single-problem MILP with one
demand row per class and period (horizon_milp.Load). Solved exactly by the commitment
decomposition, like a single problem; verified per class and period; compared with the static
fleet at every class's own peak at once and with independent per-period fleet plans.
"""

from __future__ import annotations

import itertools
import math
import time

from planner.errors import BadInput, Infeasible
from planner.input.fleet import FleetProblem, RequestClass
from planner.input.problem import Problem, Profile
from planner.plan import cuts, milp
from planner.plan import horizon_milp as hm
from planner.plan import horizon_solve as hs
from planner.plan.candidates import Candidate, generate, prune_dominated
from planner.plan.comparisons import first_failed_check, idle_owned_cost, own_plans_break_caps, static_over_caps
from planner.plan.diagnose import explain_no_candidates, missing_roles, raise_unless_solved, raise_unless_verified
from planner.plan.horizon import HorizonPlan, PeriodPlan, first_unservable, over_caps, period_node_checks
from planner.plan.model import Plan
from planner.plan.periods import at_qps, length_groups, period_problem, single_qps_problem, verified_at
from planner.plan.resolve import Resolved, resolve
from planner.plan.services import class_problem, in_class, note_mtp_classes, one_model_per_name
from planner.plan.solve import solve, solver_options
from planner.plan.verify import Check, Verification


def refuse_unsupported(f: FleetProblem, source: str) -> None:
    """What a fleet over a horizon does not plan yet is refused, never silently ignored."""
    if f.serving.redundancy != "none":
        raise BadInput(f"{source}: serving.redundancy: {f.serving.redundancy} is not yet supported on fleets")
    if f.serving.instance_start is not None:
        raise BadInput(f"{source}: serving.instance_start: instance starts are priced for a single problem's "
                       f"profile; not yet on fleets")
    for key in ("max_gpu_types", "max_pool_shapes"):
        if getattr(f.limits, key) is not None:
            raise BadInput(f"{source}: limits.{key}: not supported with load profiles yet")


def flat_over(k: RequestClass, periods: int, period_s: float) -> RequestClass:
    """A class without a profile as a flat one over the fleet's periods."""
    if k.workload.profile is not None:
        return k
    prof = Profile(period=period_s, qps=[k.workload.qps] * periods)
    return k.model_copy(update={"workload": k.workload.model_copy(update={"profile": prof})})


def class_problems(f: FleetProblem) -> list[Problem]:
    """Each class as a single problem with a profile (flat classes made flat profiles)."""
    shape = f.periods()
    assert shape is not None
    return [class_problem(f, flat_over(k, *shape)) for k in f.classes]


def solve_fleet_horizon(f: FleetProblem, source: str = "fleet", *, solver: str | None = None,
                        time_limit: float | None = None, verbose: bool = False,
                        compare: bool = True) -> HorizonPlan:
    """Candidates per class and length group, the horizon MILP with one load per class, per-class
    and per-period verification, and the comparisons (module docstring)."""
    t0 = time.perf_counter()
    refuse_unsupported(f, source)
    note_mtp_classes(f, source)
    problems = class_problems(f)
    n, period_s = f.periods()
    hours = period_s / 3600.0
    qps = [p.workload.period_qps() for p in problems]          # [class][period]
    group_cands: list[tuple[Candidate, ...]] = []             # per global length group
    group_res: list[Resolved] = []
    group_of: list[list[int]] = []                              # [class][period] → global group
    class_res: list[Resolved] = []                              # one per class
    busiest_of: list[list[tuple[int, int]]] = []               # [class] → (global group, its busiest period)
    for k, prob in enumerate(problems):
        local, members = length_groups(prob)
        ids = []
        busiest_of.append([])
        for idx in members:
            busiest = max(idx, key=lambda p, k=k: qps[k][p])
            busiest_of[k].append((len(group_cands), busiest))
            try:
                r = resolve(period_problem(prob, busiest), source)
            except BadInput as e:
                raise in_class(e, source, k) from None
            cs = generate(r) if qps[k][busiest] > 0 else None
            if cs is not None and (missing := missing_roles(cs.candidates, r.uncached_mean > 0, r.decode_mean > 0)):
                # as a fleet at one QPS says it, not "the demand row of period 0 would be empty"
                raise Infeasible(f"{source}: class {f.classes[k].name!r}: " + explain_no_candidates(r, cs, missing))
            ids.append(len(group_cands))
            group_cands.append(prune_dominated(cs.candidates) if cs is not None else ())
            group_res.append(r)
        group_of.append([ids[g] for g in local])
        class_res.append(group_res[ids[0]])
    one_model_per_name(class_res, source)
    first = group_res[0]
    kinds = hm.gpu_kinds(first)
    periods = tuple(hm.Period(p, sum(q[p] for q in qps), hours, milp.Demand(0.0, 0.0),
                              hm.period_availability(first, p), 0,
                              tuple(hm.Load(k.name, group_of[i][p], milp.demand_of(at_qps(group_res[group_of[i][p]],
                                                                                           qps[i][p])))
                                    for i, k in enumerate(f.classes) if qps[i][p] > 0))
                    for p in range(n))
    t1 = time.perf_counter()
    opts = solver_options(f, solver, time_limit, over_periods=source)
    args = (opts.name, opts.time_limit, opts.mip_gap, verbose)
    conf = None if f.serving.spot_confidence_percent is None else f.serving.spot_confidence_percent / 100
    excluded, n_cuts = [], 0   # period plans excluded, by round; candidate cuts
    for _ in range(cuts.NO_GOOD_RETRIES + cuts.CUT_RETRIES + 1):
        cands = [c for g in group_cands for c in g]
        ends = list(itertools.accumulate(map(len, group_cands)))
        sets = [tuple(range(end - len(g), end)) for end, g in zip(ends, group_cands)]
        solved = hs.solve_horizon_milp(f.name, kinds, f.limits, tuple(cands), periods, args, sets=tuple(sets),
                                       spot_confidence=conf)
        def unservable(c=cands, s=sets, ps=periods) -> hm.Period | None:   # the first hour no plan serves alone
            return first_unservable(f.name, kinds, f.limits, tuple(c), ps, args, "none", tuple(s), conf)
        if solved.report.status == milp.SolverStatus.no_solution_time_limit and (bad := unservable()) is not None:
            # a day under a power cap its busiest hour passes ran to the time limit and blamed it (a hunt)
            raise Infeasible(f"{source}: " + _over_caps(f, qps, bad))
        raise_unless_solved(solved.report, source, opts.time_limit, lambda: _over_caps(f, qps, unservable()))
        t2 = time.perf_counter()
        solved = hs.without_padding(solved, tuple(cands), periods, tuple(sets))
        solved, (plans, cost, v) = hs.leanest_verified(solved, lambda s, c=cands, g=sets, ps=periods: (
            verify_fleet_periods(f, qps, group_of, group_res, c, g, first, kinds, ps, s)))
        broken = cuts.colocated_over_tpot(v)
        if v.passed or not broken or n_cuts == cuts.CUT_RETRIES:
            break
        if len(excluded) < cuts.NO_GOOD_RETRIES and solved.counts is not None and \
                cuts.excluded_count([new := cuts.load_points(v, solved.counts, cands, periods, sets)]):
            excluded.append(new)   # first the failing periods' plans, class by class
            periods = cuts.with_excluded(periods, new)
            continue
        n_cuts += 1   # then without the colocated candidates whose routed mix broke their TPOT
        keep = cuts.kept_by_cut(v, broken)
        group_cands = [tuple(filter(keep, g)) for g in group_cands]
        for k, groups in enumerate(busiest_of):
            for g, busiest in groups:
                r = group_res[g]
                if qps[k][busiest] > 0 and (gone := missing_roles(group_cands[g], r.uncached_mean > 0,
                                                                  r.decode_mean > 0)):
                    raise Infeasible(f"{source}: class {f.classes[k].name!r}: "
                                     + cuts.none_left_after_cut(gone, broken))
    report = solved.report
    raise_unless_verified(v, f"{source}: the solver's horizon plan")
    t3 = time.perf_counter()
    static, static_error = None, None
    try:   # every class at its own peak at once may be more than any period asks (classes peaking apart)
        static = solve(static_fleet(f, problems, first, qps), source, solver=solver, time_limit=time_limit)
    except Infeasible as e:
        static_error = "every class at its own peak at once, held all horizon: " + str(e).removeprefix(f"{source}: ")
    short = (static_over_caps(static, kinds, periods)
             or fleet_static_shortfall(f, static, group_res, group_of, qps)) if compare and static else None
    t4 = time.perf_counter()
    indep = independent_fleet_cost(f, problems, first, qps, periods, solver, time_limit,
                                   time.perf_counter() + opts.time_limit) if compare else None
    t5 = time.perf_counter()
    peaks = tuple((k.name, prob.model, max(q)) for k, prob, q in zip(f.classes, problems, qps))
    return HorizonPlan(f, at_qps(first, max(per.qps for per in periods)), kinds, tuple(plans), cost, v, report,
                       len(cands), static, indep, solved.method, solved.subproblems,
                       {"candidates_s": t1 - t0, "solve_s": t2 - t1, "verify_s": t3 - t2, "static_s": t4 - t3,
                        "independent_s": t5 - t4}, peaks, static_short=short,
                       static_checked=compare and static is not None, class_res=tuple(class_res),
                       static_reason=static_error, cuts=(cuts.excluded_count(excluded), n_cuts))


def verify_fleet_periods(f: FleetProblem, qps: list[list[float]], group_of: list[list[int]],
                         group_res: list[Resolved], cands: list[Candidate], sets: list[tuple[int, ...]],
                         first: Resolved, kinds: tuple[hm.GPUKinds, ...], periods: tuple[hm.Period, ...],
                         solved: hs.Solved) -> tuple[list[PeriodPlan], float, Verification]:
    """Every period's pools, class by class at its requests/s and lengths, its nodes and cost, and
    the cost against the solver's: (period plans, cost over the horizon, the verification); each
    class's pools at one QPS and selection verified once (`verified_at`)."""
    plans, checks, memo = [], [], {}
    for per in periods:
        by_index = solved.counts[per.index] if solved.counts is not None else {}
        chosen = solved.selection[per.index]
        nodes = solved.nodes[per.index]
        classes, pools = [], []
        tin = tout = 0.0
        for i, k in enumerate(f.classes):
            if qps[i][per.index] <= 0:
                continue
            g = group_of[i][per.index]
            own = {cands[j]: by_index[j] for j in sets[g] if j in by_index}
            r = group_res[g]
            st, ch = verified_at(r, qps[i][per.index], own, f"p{per.index}/{k.name}", memo)
            classes.append((k.name, qps[i][per.index], tuple(st)))
            pools += st
            checks += ch
            tin += qps[i][per.index] * r.input_mean
            tout += qps[i][per.index] * r.output_mean
        checks += period_node_checks(first, kinds, per, chosen, nodes)
        plans.append(PeriodPlan(per.index, per.qps, per.hours, chosen, nodes, tuple(pools),
                                sum(nd.cost_per_hour(kd, hm.spot_price_in(kd, per.caps))
                                    for kd, nd in zip(kinds, nodes.values())),
                                per.caps, tin / per.qps if per.qps else 0.0, tout / per.qps if per.qps else 0.0,
                                classes=tuple(classes)))
    cost = sum(p.cost_per_hour * p.hours for p in plans)
    checks.append(Check("cost_matches_solver", abs(cost - (solved.report.objective or 0.0)), 1e-6 * max(1.0, cost),
                        f.pricing.currency))
    return plans, cost, Verification(tuple(s for p in plans for s in p.pools), tuple(checks))


def fleet_static_shortfall(f: FleetProblem, static: Plan, group_res: list[Resolved], group_of: list[list[int]],
                           qps: list[list[float]]) -> tuple[int, str] | None:
    """As `comparisons.static_shortfall`, class by class: the static fleet holds each class at its
    peak requests/s and lengths; every other load of the class (once per length group and QPS) is
    verified on the class's static pools. The first period one fails, with the check, or None."""
    service_of = static.service_of_class()
    for k in range(len(f.classes)):
        top = max(range(len(qps[k])), key=lambda p, k=k: qps[k][p])
        chosen = static.chosen_by_service.get(service_of.get(f.classes[k].name, ""), {})
        seen = {(group_of[k][top], qps[k][top])}
        for p, q in enumerate(qps[k]):
            g = group_of[k][p]
            if q <= 0 or not chosen or (g, q) in seen:
                continue
            seen.add((g, q))
            if (failed := first_failed_check(at_qps(group_res[g], q), chosen)) is not None:
                return p, f"{f.classes[k].name}: {failed}"
    return None


def _fleet_at(f: FleetProblem, problems: list[Problem], first: Resolved, periods_of_class: list[int],
              commit: bool, caps: tuple[hm.Availability, ...]) -> FleetProblem:
    """The fleet at one period per class (its QPS and lengths), renting on demand (or at the cheaper
    of on-demand and reserved with `commit`) within `caps`, classes not sharing pools."""
    classes = []
    gpus, serving = None, f.serving
    for k, prob, p in zip(f.classes, problems, periods_of_class):
        single = single_qps_problem(period_problem(prob, p), first, prob.workload.period_qps()[p], commit, caps)
        gpus, serving = single.gpus, single.serving   # without the horizon's spot confidence and starts
        classes.append(k.model_copy(update={"workload": single.workload}))
    return f.model_copy(update={"classes": classes, "gpus": gpus, "serving": serving, "sharing": "none"})


def static_fleet(f: FleetProblem, problems: list[Problem], first: Resolved, qps: list[list[float]]) -> FleetProblem:
    """The fleet held all the time: every class at its own peak at once, committed prices, the
    caps of the busiest period."""
    peaks = [q.index(max(q)) for q in qps]
    busiest = max(range(len(qps[0])), key=lambda p: sum(q[p] for q in qps))
    return _fleet_at(f, problems, first, peaks, True, hm.period_availability(first, busiest))


def independent_fleet_cost(f: FleetProblem, problems: list[Problem], first: Resolved, qps: list[list[float]],
                           periods: tuple[hm.Period, ...], solver: str | None,
                           time_limit: float | None, deadline: float = math.inf) -> float | None:
    """Σ_p h_p·(cost per hour of the fleet's own plan for period p, on demand, in its caps); None
    when a period has none, or when the solves pass `deadline` (perf_counter: the problem's time
    limit; 256 classes over a day spent 154 s on it under a limit of 20 s). One solve per distinct
    (loads, caps); None too where those plans break a cap or the budget (`own_plans_break_caps`)."""
    per_hour: dict[tuple, tuple[float, dict]] = {}
    hourly: list[tuple[float, dict] | None] = []   # each period's (cost per hour, nodes in use)
    for per in periods:
        if per.qps <= 0:
            hourly.append(None)
            continue
        caps = tuple((c.gpu, c.max_cards, c.on_demand_max_cards) for c in per.caps)
        key = (tuple(q[per.index] for q in qps), caps, per.loads)
        if key not in per_hour:
            if time.perf_counter() > deadline:
                return None
            busy = [i for i, q in enumerate(qps) if q[per.index] > 0]
            sub = [problems[i] for i in busy]
            fleet = _fleet_at(f.model_copy(update={"classes": [f.classes[i] for i in busy]}), sub, first,
                              [per.index] * len(busy), False, per.caps)
            try:
                plan = solve(fleet, first.source, solver=solver, time_limit=time_limit)
            except Infeasible:
                return None
            per_hour[key] = (plan.cost_per_hour, plan.nodes)
        hourly.append(per_hour[key])
    if own_plans_break_caps(first, periods, hourly, f.limits.budget_per_hour):
        return None
    total = sum(h[0] * per.hours for h, per in zip(hourly, periods) if h is not None)
    return total + idle_owned_cost(first.gpus, [(per.hours, h[1] if h else {}) for per, h in zip(periods, hourly)])


def _over_caps(f: FleetProblem, qps: list[list[float]], per: hm.Period | None) -> str:
    """over_caps with the period's rate per class: a fleet's first unservable hour need not be its
    busiest (chat at 30 req/s beside a batch job at 2 is more than both at 22 and 20)."""
    loads = ": " + ", ".join(f"{c.name} {qps[k][per.index]:.3g}" for k, c in enumerate(f.classes)
                              if qps[k][per.index] > 0) if per is not None and len(f.classes) > 1 else ""
    return over_caps(per, loads)


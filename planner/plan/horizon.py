"""`solve_horizon()`: a problem with a load profile → one MILP over all periods → a verified HorizonPlan.

Candidates are generated once, at the peak period's workload (they depend on the model, GPUs,
lengths and SLOs, not on the QPS); each period's demand rows scale with its QPS. The plan is
compared with what the user would otherwise do: a static fleet sized for the peak (the
single-QPS problem at the peak QPS, every GPU type at the cheaper of its on-demand and reserved
price, held over the whole horizon) and independent single-QPS plans per period (on demand,
the sum of their costs). Never returns an unverified plan (docs/horizon.md).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace

from planner.errors import Infeasible
from planner.input.fleet import FleetProblem
from planner.input.problem import Problem
from planner.input.values import length_mean
from planner.physics.deployment import weights_per_card_bytes
from planner.plan import cuts, milp, spot
from planner.plan import horizon_milp as hm
from planner.plan import horizon_solve as hs
from planner.plan.candidates import Candidate, deployment, generate, prune_dominated
from planner.plan.comparisons import independent_cost, static_over_caps, static_shortfall
from planner.plan.diagnose import explain_no_candidates, missing_roles, raise_unless_solved, raise_unless_verified
from planner.plan.model import Plan
from planner.plan.periods import at_qps, length_groups, period_problem, single_qps_problem, verified_at
from planner.plan.resolve import Resolved, resolve
from planner.plan.solve import solve, solver_options
from planner.plan.verify import Check, PoolState, Verification, fleet_checks


@dataclass(frozen=True)
class PeriodPlan:
    """One period: its load, pools (verified at its QPS), nodes by GPU type and kind, and cost."""

    index: int
    qps: float
    hours: float
    chosen: dict[Candidate, int]
    nodes: dict[str, hm.Nodes]
    pools: tuple[PoolState, ...]
    cost_per_hour: float
    caps: tuple[hm.Availability, ...] = ()   # the period's own caps (gpus[].max_cards_per_period, ...)
    input_mean: float = 0.0                  # the period's mean prompt and output lengths, tokens
    output_mean: float = 0.0
    starts: dict[hm.Shape, int] = field(default_factory=dict)   # instances started (serving.instance_start)
    start_cost: float = 0.0                  # what those starts cost, currency
    classes: tuple[tuple[str, float, tuple[PoolState, ...]], ...] = ()   # a fleet: (class, req/s, its pools)

    @property
    def cards_used(self) -> int:
        return sum(n * c.cards for c, n in self.chosen.items())

    def cards_rented(self, node_cards: dict[str, int]) -> int:
        return sum(n.total * node_cards[g] for g, n in self.nodes.items())


@dataclass(frozen=True)
class HorizonPlan:
    """A verified plan over a load profile, with the static-peak and per-period comparisons."""

    problem: Problem | FleetProblem
    peak: Resolved                      # the problem resolved at the peak QPS (candidates' workload)
    kinds: tuple[hm.GPUKinds, ...]
    periods: tuple[PeriodPlan, ...]
    cost: float                         # over the horizon, currency
    verification: Verification
    solver: milp.SolverReport
    candidates: int
    static_peak: Plan | None            # the single-QPS plan at the peak, held over the horizon (None: none)
    independent_cost: float | None      # Σ_p h_p·cost of period p's own single-QPS plan (None: one failed)
    method: str = "commitment"          # 'commitment' (exact decomposition) or 'joint' (one MILP)
    subproblems: int = 0                # single-period MILPs solved by the decomposition
    timings: dict[str, float] = field(default_factory=dict)
    classes: tuple[tuple[str, str, float], ...] = ()   # a fleet: (class, model, its peak req/s)
    static_short: tuple[int, str] | None = None   # a period the static fleet cannot serve, and the check it fails
    static_checked: bool = False                  # whether every period was checked
    class_res: tuple[Resolved, ...] = ()          # a fleet: each class resolved (its precisions), as `classes`
    started_from: str | None = None               # the joint MILP's start (`horizon_solve.Solved.start`)
    static_reason: str | None = None              # why there is no static fleet (`static_peak` None)
    cuts: tuple[int, int] = (0, 0)                # as Plan.cuts: failing plans excluded, candidate cuts

    kind = "horizon"

    @property
    def status(self) -> str:
        return "optimal" if self.solver.status == milp.SolverStatus.optimal else "feasible"

    @property
    def hours(self) -> float:
        return sum(p.hours for p in self.periods)

    @property
    def static_cost(self) -> float | None:
        return None if self.static_peak is None else self.static_peak.cost_per_hour * self.hours

    def tokens(self) -> tuple[float, float]:
        """(input, output) tokens served over the horizon: each period's requests × its lengths."""
        req = [p.qps * p.hours * 3600 for p in self.periods]
        return (sum(n * p.input_mean for n, p in zip(req, self.periods)),
                sum(n * p.output_mean for n, p in zip(req, self.periods)))

    @property
    def length_groups(self) -> int:
        """Distinct length distributions over the periods (1: one for the whole horizon)."""
        return len({(p.input_mean, p.output_mean) for p in self.periods})

    @property
    def cost_per_million_tokens(self) -> float:
        tin, tout = self.tokens()
        return self.cost / ((tin + tout) / 1e6)

    @property
    def cost_per_million_output_tokens(self) -> float:
        return self.cost / (self.tokens()[1] / 1e6)

    @property
    def reserved(self) -> dict[str, int]:
        """Reserved nodes by GPU type (the same in every period)."""
        return {g: n.reserved for g, n in self.periods[0].nodes.items() if n.reserved}


def solve_horizon(problem: Problem, source: str = "problem", *, solver: str | None = None,
                  time_limit: float | None = None, verbose: bool = False,
                  compare: bool = True) -> HorizonPlan:
    """Candidates per length group (generated once, at the group's busiest period), the horizon
    MILP, per-period verification, and the comparisons (`compare=False`, for a sweep that reads
    only the plan: no independent per-period plans, and the static fleet is not checked against
    every length group)."""
    t0 = time.perf_counter()
    hm.check_limits(problem, source)
    assert problem.workload.profile is not None
    qps = problem.workload.period_qps()
    hours = problem.workload.profile.period / 3600.0
    top = qps.index(max(qps))
    group_of, members = length_groups(problem)
    res_g: list[Resolved | None] = []
    cs_g = []
    for idx in members:
        busiest = max(idx, key=lambda p: qps[p])
        r = resolve(period_problem(problem, busiest), source) if qps[busiest] > 0 else None
        res_g.append(r)
        cs_g.append(generate(r) if r is not None else None)
        # a length group no candidate can serve: named with its periods, as a single QPS says it (it
        # was "no candidate can prefill: … row of period 0 would be empty", exit 2, no file)
        if r is not None and (gone := missing_roles(cs_g[-1].candidates, r.uncached_mean > 0, r.decode_mean > 0)):
            raise Infeasible(f"{source}: period{'s' if len(idx) > 1 else ''} {', '.join(map(str, idx))}: "
                             + explain_no_candidates(r, cs_g[-1], gone))
    peak = res_g[group_of[top]]
    assert peak is not None
    peak = at_qps(peak, max(qps))
    cs = cs_g[group_of[top]]
    for p, q in enumerate(qps):   # named here: the solves would say only which caps, not when
        if q > 0 and cards_in(peak, hm.period_availability(peak, p)) == 0:
            raise Infeasible(f"{source}: period {p} asks for {q:g} requests/s, and every GPU type is capped at "
                             f"0 cards then (max_cards, max_nodes or max_cards_per_period)")
    t1 = time.perf_counter()
    # the static fleet for the peak: also the infeasibility diagnosis of the peak period
    caps = hm.period_availability(peak, top)
    static, static_error = None, None
    try:
        static = solve(single_qps_problem(period_problem(problem, top), peak, max(qps), True, caps), source,
                       solver=solver, time_limit=time_limit, verbose=verbose, candidates=cs)
    except Infeasible as e:   # say when, and whose caps (it named a cap the file does not write)
        static_error = (f"period {top}, the busiest" + (f", within its own caps (the per-period caps of "
                                                        f"{', '.join(c.gpu for c in caps)})" if caps else "")
                        + ", held all horizon: " + str(e).removeprefix(f"{source}: "))
    t2 = time.perf_counter()
    opts = solver_options(problem, solver, time_limit, over_periods=source)
    kinds = hm.gpu_kinds(peak)
    periods = tuple(hm.Period(p, q, hours, milp.demand_of(at_qps(res_g[group_of[p]], q)) if q > 0
                              else milp.Demand(0.0, 0.0), hm.period_availability(peak, p), group_of[p])
                    for p, q in enumerate(qps))
    start_cost = start_costs(problem, peak, kinds, [c for cs_ in cs_g if cs_ is not None for c in cs_.candidates])
    groups = [None if c is None else c.candidates for c in cs_g]
    excluded, n_cuts = [], 0   # period plans excluded, by round; candidate cuts
    for _ in range(cuts.NO_GOOD_RETRIES + cuts.CUT_RETRIES + 1):
        try:
            solved, n_cands = solve_periods(problem, peak, kinds, groups, periods, opts, verbose, start_cost, source,
                                            static)
        except Infeasible:   # the static fleet's diagnosis names the busiest period's binding limit
            if static_error is None:
                raise
            raise Infeasible(f"{source}: {static_error}") from None
        t3 = time.perf_counter()
        solved, (plans, cost, v) = hs.leanest_verified(
            solved, lambda s, ps=periods: verify_periods(problem, res_g, peak, kinds, ps, s, start_cost))
        broken = cuts.colocated_over_tpot(v)
        if v.passed or not broken or n_cuts == cuts.CUT_RETRIES:
            break
        new = cuts.period_points(v, solved.selection) if len(excluded) < cuts.NO_GOOD_RETRIES else {}
        if cuts.excluded_count([new]):   # as the single solve does: first the failing periods' plans
            excluded.append(new)
            periods = cuts.with_excluded(periods, new)
            continue
        n_cuts += 1   # then without the colocated candidates whose routed mix broke their TPOT
        keep = cuts.kept_by_cut(v, broken)
        groups = [None if g is None else tuple(filter(keep, g)) for g in groups]
        for idx, (r, g) in enumerate(zip(res_g, groups)):
            if r is not None and (gone := missing_roles(g, r.uncached_mean > 0, r.decode_mean > 0)):
                raise Infeasible(f"{source}: period{'s' if len(members[idx]) > 1 else ''} "
                                 f"{', '.join(map(str, members[idx]))}: " + cuts.none_left_after_cut(gone, broken))
    raise_unless_verified(v, f"{source}: the solver's horizon plan")
    report = solved.report
    t4 = time.perf_counter()
    indep = independent_cost(problem, peak, periods, cs_g, solver, time_limit, start_cost,
                             time.perf_counter() + opts.time_limit) if compare else None
    t5 = time.perf_counter()
    return HorizonPlan(problem, peak, kinds, tuple(plans), cost, v, report, n_cands, static, indep,
                       solved.method, solved.subproblems,
                       {"candidates_s": t1 - t0, "static_s": t2 - t1, "solve_s": t3 - t2, "verify_s": t4 - t3,
                        "independent_s": t5 - t4},
                       static_short=(static_over_caps(static, kinds, periods)
                                     or static_shortfall(static, res_g, group_of, qps))
                       if compare and static is not None else None,
                       static_checked=compare and static is not None, started_from=solved.start,
                       static_reason=static_error, cuts=(cuts.excluded_count(excluded), n_cuts))


def solve_periods(problem: Problem, peak: Resolved, kinds: tuple[hm.GPUKinds, ...],
                  groups: list[tuple[Candidate, ...] | None], periods: tuple[hm.Period, ...], opts, verbose: bool,
                  start_cost: dict[hm.Shape, float], source: str, static: Plan | None = None) -> tuple[hs.Solved, int]:
    """The horizon MILP over the length groups' candidates (dominated ones dropped: k copies of a
    smaller shape do as well in every period and lose no more, `prune_dominated`), by commitment
    or jointly; with instance starts priced, the joint MILP started from the cheaper of the plan
    without them and the `static` fleet held every period (`flat_start`).
    (the solve, the number of candidates it chose from)."""
    node_cards = {k.id: k.node_cards for k in kinds} if problem.serving.redundancy == "node" else None
    flat = flat_start(static, kinds, periods) if start_cost and len(groups) == 1 and static is not None else None
    cands: list[Candidate] = []
    sets = []
    for g in groups:
        kept = prune_dominated(g, node_cards) if g is not None else ()
        if flat is not None:   # the static fleet's pools, for its start
            kept = tuple(dict.fromkeys(kept + tuple(c for c in flat[0][0] if c in g)))
        sets.append(tuple(range(len(cands), len(cands) + len(kept))))
        cands += kept
    sets_arg = tuple(sets) if len(sets) > 1 else ()
    args = (opts.name, opts.time_limit, opts.mip_gap, verbose)
    red = problem.serving.redundancy
    conf = None if problem.serving.spot_confidence_percent is None else problem.serving.spot_confidence_percent / 100
    # with instance starts this plan is only the joint MILP's start: one mode per period would change
    # shapes between periods at no saving of a period's cost, and cost starts (2,786.67 → 2,909.32 RMB)
    solved = hs.solve_horizon_milp(problem.name, kinds, problem.limits, tuple(cands), periods, args, red, sets_arg,
                                   conf, static_commitment(static, kinds), settle=not start_cost)
    capped = problem.limits.power or problem.limits.budget_per_hour or any(o.max_cards is not None for o in peak.gpus) \
        or any(c.max_cards is not None or c.on_demand_max_cards is not None for per in periods for c in per.caps)
    raise_unless_solved(solved.report, source, opts.time_limit,
                        lambda: over_caps(first_unservable(problem.name, kinds, problem.limits, tuple(cands), periods,
                                                           args, red, sets_arg, conf)) if capped else
                        f"some period's demand is more than a plan may hold ({milp.MAX_INSTANCES:,} "
                        f"instances of one shape; no cap is set): lower the load")
    if start_cost:   # starts couple the periods: the joint MILP, started from the cheapest known plan
        m = hm.build(problem.name, kinds, problem.limits, tuple(cands), periods, red, sets_arg, start_cost, conf)
        begin = hs.cheapest_start(m, [(solved.selection, solved.nodes, "plan_without_start_costs")]
                                  + ([(*flat, "static_fleet")] if flat else []))
        joint = hs.solve_joint(m, *args, warm=begin is not None)   # none meets the rows: cold, with heuristics
        if joint.selection:
            solved = replace(hs.started(joint, begin), subproblems=solved.subproblems)
    raise_unless_solved(solved.report, source, opts.time_limit, lambda: "no plan found with instance starts priced")
    if not start_cost and red == "none":
        solved = hs.without_padding(solved, tuple(cands), periods, sets_arg)
    return solved, len(cands)


def first_unservable(name: str, kinds, limits, cands, periods: tuple[hm.Period, ...], args: tuple, red: str,
                     sets: tuple, conf: float | None) -> hm.Period | None:
    """The first period no plan can serve alone within its own caps, with every reserved and owned
    node it may hold; None when each can (the caps clash across periods, e.g. a commitment). The
    horizon's infeasibility named no period but the busiest (a hunt). Periods alike (rate, caps,
    lengths) are solved once, and the time limit (`args[1]`) holds for all of them together, each
    MILP getting what is left, at least hs.MIN_MILP_SECONDS (each had the whole limit)."""
    deadline = time.perf_counter() + args[1]
    infeasible: dict[tuple, bool] = {}
    for per in periods:
        if per.qps <= 0:
            continue
        key = (per.qps, per.demand, per.caps, per.group, per.loads)
        if key not in infeasible:
            m = hm.build(name, kinds, limits, cands, (hs.replace_index(per),), red, sets, spot_confidence=conf)
            left = max(deadline - time.perf_counter(), hs.MIN_MILP_SECONDS)
            infeasible[key] = milp.solve(m, args[0], left, args[2]).status == milp.SolverStatus.infeasible
        if infeasible[key]:
            return per
    return None


def over_caps(per: hm.Period | None, loads: str = "") -> str:
    """Why a day within caps has no plan: 'period 21 (70 req/s) cannot be met within the caps …',
    `loads` said beside the rate (a fleet's classes), or that the periods clash."""
    what = f"period {per.index} ({per.qps:g} req/s{loads})" if per is not None else \
        "each period alone can be served, but not all of them with one count of reserved and owned nodes " \
        "(held, and paid, in every period): the day's demand"
    return what + " cannot be met within the caps (availability, power or budget per hour, applied in every period)"


def static_commitment(static: Plan | None, kinds: tuple[hm.GPUKinds, ...]) -> tuple[dict[str, int], ...]:
    """The static fleet's reserved and owned counts ('res:g' / 'own:g' → nodes) as a commitment
    vector for `solve_by_commitment` to try early; () without a static fleet."""
    if static is None:
        return ()
    nodes = static_nodes(static, kinds)
    return ({**{f"res:{g}": n.reserved for g, n in nodes.items()}, **{f"own:{g}": n.owned for g, n in nodes.items()}},)


def static_nodes(static: Plan, kinds: tuple[hm.GPUKinds, ...]) -> dict[str, hm.Nodes]:
    """The static fleet's nodes by kind: its owned ones, and its rented ones reserved where the
    reserved price is the cheaper (as it was sized), else on demand."""
    out = {}
    for k in kinds:
        rented, owned = static.nodes.get(k.id, (0, 0))
        out[k.id] = hm.Nodes(reserved=rented if k.reserved_cheaper else 0, owned=owned,
                             on_demand=0 if k.reserved_cheaper else rented)
    return out


def flat_start(static: Plan, kinds: tuple[hm.GPUKinds, ...], periods: tuple[hm.Period, ...]):
    """The static fleet as a plan over the periods: its instances in every period (none started,
    none stopped) on its nodes, rented at the price it was sized with (reserved where that is the
    cheaper, else on demand). (selection, nodes) per period; a start for the joint MILP when starts
    are priced, which the plan without them can miss by far: restarting instances as cheaper spot
    cards come and go cost a day of Llama-3.1-8B 10 % more than the static fleet it was compared
    with, the solver stopped at its time limit from that start."""
    nodes = static_nodes(static, kinds)
    return [dict(static.chosen) for _ in periods], [dict(nodes) for _ in periods]


def verify_periods(problem: Problem, res_g: list[Resolved | None], peak: Resolved, kinds: tuple[hm.GPUKinds, ...],
                   periods: tuple[hm.Period, ...], solved: hs.Solved,
                   start_cost: dict[hm.Shape, float]) -> tuple[list[PeriodPlan], float, Verification]:
    """Every period's pools recomputed at its QPS and lengths, its nodes and cost, and the cost
    against the solver's: (period plans, cost over the horizon, the verification)."""
    sel, nodes = solved.selection, solved.nodes
    started = hs.starts_of(sel)
    plans, checks, memo = [], [], {}
    for per in periods:
        r = res_g[per.group] or peak   # a length group without requests has no problem resolved
        means = (r.input_mean, r.output_mean) if res_g[per.group] is not None else \
            tuple(length_mean(x) for x in problem.workload.period_lengths(per.index))   # its own, not the peak's
        pools, ch = verify_period(r, kinds, per, sel[per.index], nodes[per.index], memo)
        st = started[per.index] if start_cost else {}
        plans.append(PeriodPlan(per.index, per.qps, per.hours, sel[per.index], nodes[per.index], tuple(pools),
                                sum((n.cost_per_hour(k, hm.spot_price_in(k, per.caps))
                                     for k, n in zip(kinds, nodes[per.index].values())), 0.0),
                                per.caps, *means, st,
                                sum((n * start_cost[k] for k, n in st.items()), 0.0)))   # 0.0, not 0, in the JSON
        checks += ch
    cost = sum(p.cost_per_hour * p.hours + p.start_cost for p in plans)
    checks.append(Check("cost_matches_solver", abs(cost - (solved.report.objective or 0.0)), 1e-6 * max(1.0, cost),
                        problem.pricing.currency))
    return plans, cost, Verification(tuple(s for p in plans for s in p.pools), tuple(checks))


def cards_in(res: Resolved, availability: tuple[hm.Availability, ...]) -> float:
    """The cards a period may use over all GPU types: each type's cap, or its period's, the lower."""
    caps = {a.gpu: a.max_cards for a in availability}
    total = 0.0
    for o in res.gpus:
        limits = [x for x in (o.max_cards, caps.get(o.gpu.id)) if x is not None]
        total += min(limits) if limits else math.inf
    return total


def start_seconds(problem: Problem, res: Resolved, c: Candidate) -> float:
    """Seconds an instance of c takes to start: serving.instance_start.overhead plus its weight
    shard per card over the load bandwidth per card (default: the card's NIC)."""
    st = problem.serving.instance_start
    assert st is not None
    dep = deployment(res, res.option(c.gpu), c.par, c.spec)
    bw = st.load_bandwidth_per_card or dep.gpu.nic_bytes_per_s
    return st.overhead + weights_per_card_bytes(dep) / bw


def start_costs(problem: Problem, res: Resolved, kinds: tuple[hm.GPUKinds, ...],
                cands: list[Candidate]) -> dict[hm.Shape, float]:
    """Currency per instance start, by shape: its start time × its cards × the on-demand price per
    card-hour of its GPU type (the cards are rented and idle while it starts). Empty without
    serving.instance_start."""
    if problem.serving.instance_start is None:
        return {}
    price = {k.id: k.opt.price_per_card_hour for k in kinds}
    out: dict[hm.Shape, float] = {}
    for c in cands:
        k = hm.shape_of(c)
        if k not in out:
            out[k] = start_seconds(problem, res, c) / 3600.0 * c.cards * price[c.gpu]
    return out


def verify_period(peak: Resolved, kinds: tuple[hm.GPUKinds, ...], per: hm.Period, chosen: dict[Candidate, int],
                  nodes: dict[str, hm.Nodes], memo: dict | None = None) -> tuple[list[PoolState], list[Check]]:
    """A period's pools recomputed at its QPS (verify_service; `peak`: the problem resolved with
    the period's lengths, any QPS; `memo`: periods alike once, `verified_at`), then its nodes
    (`period_node_checks`)."""
    pools, checks = verified_at(peak, per.qps, chosen, f"p{per.index}", memo)
    return pools, checks + period_node_checks(peak, kinds, per, chosen, nodes)


def period_node_checks(peak: Resolved, kinds: tuple[hm.GPUKinds, ...], per: hm.Period,
                       chosen: dict[Candidate, int], nodes: dict[str, hm.Nodes]) -> list[Check]:
    """A period's nodes against the cards of all its pools (`chosen`), caps and power (fleet_checks:
    on-demand, reserved and spot nodes counted as rented), its own caps, spot within its share and
    up after interruptions, reserved and spot only where priced, and the budget per hour."""
    p = f"p{per.index}"
    checks: list[Check] = []
    limits = peak.problem.limits.model_copy(update={"budget_per_hour": None})
    # nodes in service: idle reserved and owned ones (a period capped below them) run nothing
    flat = {g: (n.reserved + n.on_demand + n.spot - max(n.idle - n.owned, 0), max(n.owned - n.idle, 0))
            for g, n in nodes.items()}
    checks += [replace(c, name=f"{p}/{c.name}") for c in
               fleet_checks(peak.gpus, limits, chosen, flat, None, peak.problem.pricing.currency)]
    for k in kinds:
        n = nodes[k.id]
        if n.spot:
            checks.append(Check(f"{p}/spot_share[{k.id}]", n.spot, k.spot_share * n.total, "nodes"))
        if n.spot and k.spot_interruption > 0:
            used = sum(m * c.cards for c, m in chosen.items() if c.gpu == k.id)
            conf = peak.problem.serving.spot_confidence_percent
            spot_up = ((1.0 - k.spot_interruption) * n.spot if conf is None
                       else spot.up_at(n.spot, k.spot_interruption, conf / 100))
            checks.append(Check(f"{p}/cards_up[{k.id}]", used, k.node_cards * (n.reserved + n.owned - n.idle
                                                                              + n.on_demand + spot_up), "cards"))
        if k.spot_price is None:
            checks.append(Check(f"{p}/spot_offered[{k.id}]", n.spot, 0, "nodes"))
        if k.reserved_price is None:
            checks.append(Check(f"{p}/reserved_offered[{k.id}]", n.reserved, 0, "nodes"))
    node_cards = {k.id: k.node_cards for k in kinds}
    for cap in per.caps:
        n = nodes[cap.gpu]
        if cap.max_cards is not None:
            checks.append(Check(f"{p}/availability_period[{cap.gpu}]", node_cards[cap.gpu] * n.in_service,
                                cap.max_cards, "cards"))
        if cap.spot_max_cards is not None:
            checks.append(Check(f"{p}/spot_availability[{cap.gpu}]", node_cards[cap.gpu] * n.spot,
                                cap.spot_max_cards, "cards"))
        if cap.on_demand_max_cards is not None:
            checks.append(Check(f"{p}/on_demand_availability[{cap.gpu}]", node_cards[cap.gpu] * n.on_demand,
                                cap.on_demand_max_cards, "cards"))
    budget = peak.problem.limits.budget_per_hour
    if budget is not None:
        cost = sum(nodes[k.id].cost_per_hour(k, hm.spot_price_in(k, per.caps)) for k in kinds)
        checks.append(Check(f"{p}/budget_cap", cost, budget, f"{peak.problem.pricing.currency}/h"))
    return checks



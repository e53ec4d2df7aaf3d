"""`solve()`: problem → services and candidates → MILP → verification → a frozen, verified Plan.

One path for both kinds of problem: a single problem is one service; a fleet has a service per
class and per allowed group of classes sharing pools. Raises Infeasible (exit 3) with the reason
and the best reachable value, VerificationFailed (exit 4) when the recomputed plan breaks a
limit; never returns an unverified plan.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import NamedTuple

from planner.errors import BadInput, Infeasible
from planner.input.fleet import FleetProblem
from planner.input.problem import Problem, SolverOptions
from planner.plan import decompose, milp
from planner.plan.candidates import Candidate, CandidateSet
from planner.plan.consolidate import fewer_pools_at_cost
from planner.plan.cuts import (
    CUT_RETRIES,
    NO_GOOD_RETRIES,
    Point,
    add_no_goods,
    colocated_over_tpot,
    kept_by_cut,
    none_left_after_cut,
    none_left_after_no_goods,
    points_of,
)
from planner.plan.diagnose import (
    explain_caps,
    explain_no_candidates,
    floor_percent,
    floor_text,
    missing_roles,
    power_cap_note,
    raise_unless_solved,
    raise_unless_verified,
)
from planner.plan.dominance import without_dominated_types
from planner.plan.lp import pulp
from planner.plan.model import Plan
from planner.plan.resolve import resolve
from planner.plan.services import Service, fleet_services, needed, note_context, resolve_classes, single_service
from planner.plan.verify import (
    Check,
    Verification,
    fleet_checks,
    fleet_cost_per_hour,
    pool_shapes,
    verify_service,
)


def solve(problem: Problem | FleetProblem, source: str = "problem", *, solver: str | None = None,
          time_limit: float | None = None, verbose: bool = False,
          candidates: CandidateSet | None = None, heuristics: bool | None = None) -> Plan:
    """Resolve, generate candidates, build and solve the MILP, verify; return a Plan or raise.

    `solver` and `time_limit` override the problem's `solver:` settings; `candidates` (single
    problems only) reuses candidates generated before, e.g. by a sweep; `heuristics`: HiGHS's
    primal heuristics on or off (None: off for a fleet, on for a single problem, whose ties
    between plans of equal cost would otherwise change; off where only the cost is read)."""
    if problem.workload.profile is not None if isinstance(problem, Problem) else problem.horizon:
        raise BadInput(f"{source}: workload.profile: this command plans a single QPS; `plan solve` "
                       f"plans a load profile (docs/horizon.md)")
    t0 = time.perf_counter()
    fleet = isinstance(problem, FleetProblem)
    if fleet and problem.serving.redundancy != "none":
        raise BadInput(f"{source}: serving.redundancy: {problem.serving.redundancy} is not yet supported "
                       f"on fleets (with it the fleet MILP of problems/fleet_mix.yaml finds no plan in "
                       f"30 s); plan each class as a single problem with it instead")
    svcs = _services(problem, source, candidates)
    t1 = time.perf_counter()
    opts = solver_options(problem, solver, time_limit, source=source)
    usable = [s for s in svcs if s.candidates]
    heuristics = not fleet if heuristics is None else heuristics
    m, report, chosen, nodes, v, pools, solved, build_s, solve_s, dominated, offered, cuts = _solve_verified(
        problem, usable, opts, verbose, heuristics, source)
    verify_s = time.perf_counter() - t1 - build_s - solve_s   # verification and the second stages: the rest
    plan = Plan(problem, tuple(solved), chosen, nodes, report.objective or 0.0, pools, v, report,
                tuple(milp.binding_rows(m, skip=(COST_CAP_ROW,))), offered,
                sum(len(s.cs.candidates) for s in solved),
                {"candidates_s": t1 - t0, "build_s": build_s, "solve_s": solve_s, "verify_s": verify_s},
                dominated_gpus=dominated, cuts=cuts)
    raise_unless_verified(v, f"{source}: the solver's {'fleet plan' if fleet else 'plan'}")
    if any(c.spec is not None for sel in chosen.values() for c in sel) and problem.serving.speculative.use == "auto":
        plan = replace(plan, cost_without_speculation=_cost_without_speculation(problem, usable, opts, heuristics))
    return plan


class _Solved(NamedTuple):
    m: milp.Model
    report: milp.SolverReport
    chosen: dict[str, dict[Candidate, int]]
    nodes: dict[str, tuple[int, int]]
    verification: Verification
    pools: dict
    usable: list[Service]      # the services' candidates the last solve had
    build_s: float             # seconds building and solving, summed over the passes (verification and the
    solve_s: float             # second stages are the rest)
    dominated: dict[str, str]  # GPU types left out: {type: the type that replaces it} (`dominance`)
    offered: int               # candidates the last first-stage MILP chose from (a second stage may hold fewer)
    cuts: tuple[int, int]      # failing plans excluded, and candidate cuts made (`planner.plan.cuts`)


def _solve_verified(problem: Problem | FleetProblem, usable: list[Service], opts: SolverOptions, verbose: bool,
                    heuristics: bool, source: str) -> _Solved:
    """Build, solve and verify; when a colocated pool's TPOT fails at the mix the plan routes it
    (`colocated_over_tpot`), solved again without the failing services' selections (exact, up to
    NO_GOOD_RETRIES of them), then without the failing candidates (up to CUT_RETRIES times;
    `planner.plan.cuts`). Raises Infeasible when the MILP has no plan; the last verification is
    returned, passed or not."""
    everything, points, cuts, build_s, solve_s = usable, [], 0, 0.0, 0.0
    for _ in range(NO_GOOD_RETRIES + CUT_RETRIES + 1):
        ta = time.perf_counter()
        usable, dominated = without_dominated_types(problem, everything)
        m = build(problem, usable, excluded=points)
        offered = len(m.candidates)
        tb = time.perf_counter()
        report = decompose.solve(m, usable[0].res.gpus, problem.limits, opts, verbose, points, heuristics)
        t2 = time.perf_counter()
        build_s, solve_s = build_s + tb - ta, solve_s + t2 - tb
        if points and report.status == milp.SolverStatus.infeasible:   # every plan left was excluded
            raise Infeasible(f"{source}: " + none_left_after_no_goods(len(points)))
        raise_unless_solved(report, source, opts.time_limit,
                            lambda svcs=usable: _explain_caps(problem, svcs, opts, verbose))
        if isinstance(problem, Problem) and (one := one_mode_at_cost(problem, usable, m, report, opts, verbose,
                                                                        heuristics, points)) is not None:
            # the first solve proved the cost (its status and gap stand); the second chose among its equals
            usable, m, report = one[0], one[1], replace(report, objective=one[2].objective)
        if has_free_capacity(usable[0].res.gpus) and \
                (second := fewest_nodes_at_cost(problem, usable, report, opts, verbose, points)) is not None:
            m = second
            if below(cost := pulp.value(m.cost), report.objective or 0.0):
                report = replace(report, objective=cost)
        first, per_node = m, {o.id: o.gpu.node_cards for o in usable[0].res.gpus}
        if isinstance(problem, Problem) and (fewer := fewer_pools_at_cost(
                m, lambda svcs=usable, r=report, ex=points: build_at_cost(problem, svcs, r, ex),
                lambda mm: milp.solve(mm, opts.name, opts.time_limit, opts.mip_gap, verbose, heuristics=heuristics,
                                      threads=opts.threads),
                per_node, lambda c, n=per_node: spans_nodes(c, n))) is not None:
            m = fewer
        chosen, nodes, report, v, pools = _picked(problem, usable, m, report, opts)
        if not v.passed and m is not first:   # fewer pools, verified at their loads, break a limit
            chosen, nodes, report, v, pools = _picked(problem, usable, m := first, report, opts)
        broken = colocated_over_tpot(v)
        if v.passed or not broken or cuts == CUT_RETRIES:
            break
        if new := (points_of(chosen, v) if len(points) < NO_GOOD_RETRIES else []):   # exact: these plans only
            points += new
            continue
        cuts += 1
        keep = kept_by_cut(v, broken)
        fewer = [replace(s, candidates=tuple(filter(keep, s.candidates))) for s in everything]
        if not all(s.candidates for s in fewer):
            break
        for s in fewer:   # the cut took a role's last candidates: no plan is left (was a bare BadInput, exit 2)
            if gone := missing_roles(s.candidates, s.res.uncached_mean > 0, s.res.decode_mean > 0):
                raise Infeasible(f"{source}: {'service ' + s.key + ': ' if s.key else ''}"
                                 + none_left_after_cut(gone, broken))
        everything = fewer
    return _Solved(m, report, chosen, nodes, v, pools, usable, build_s, solve_s, dominated, offered,
                   (len(points), cuts))


def _picked(problem: Problem | FleetProblem, usable: list[Service], m: milp.Model, report: milp.SolverReport,
            opts: SolverOptions):
    """The solved model's plan (instances by service, whole nodes) and its verification."""
    chosen: dict[str, dict[Candidate, int]] = {}
    for i, n in sorted(milp.selection(m).items()):
        chosen.setdefault(usable[m.service_of[i]].key, {})[m.candidates[i]] = n
    nodes = trim_nodes(milp.nodes(m), chosen, usable[0].res.gpus)
    if nodes != milp.nodes(m):
        report = replace(report, objective=fleet_cost_per_hour(usable[0].res.gpus, nodes))
    v, pools = _verify(problem, usable, chosen, nodes, report.objective)
    return chosen, nodes, report, Verification(v.pools, v.checks + tuple(optimality_checks(report, opts))), pools


# the row of a lexicographic second stage (`one_mode_at_cost`, `fewest_nodes_at_cost`) holding the cost
# at the first solve's: a choice among plans of equal cost, not a limit (left out of "Binding")
COST_CAP_ROW = "cost_at_optimum"


def _cost_without_speculation(problem: Problem | FleetProblem, svcs: list[Service],
                              opts: SolverOptions, heuristics: bool) -> float | None:
    """Cost per hour of the best verified plan with speculative decoding off (the saving the plan
    reports), solved and verified as the plan itself is (`_solve_verified`; until 2026-12-04 the
    MILP's optimum alone, unverified); None when there is none."""
    off = []
    for s in svcs:
        without = tuple(c for c in s.cs.candidates if c.spec is None)
        # a pruned service is pruned again from all of them: one without speculation may have been
        # pruned for one with it
        off.append(replace(s, candidates=needed(without, s.res) if s.candidates is not s.cs.candidates else without))
    if not all(s.candidates for s in off):
        return None
    try:
        out = _solve_verified(problem, off, opts, False, heuristics, "without speculation")
    except (Infeasible, BadInput):   # BadInput: a role no candidate without it can serve (an empty demand row)
        return None
    return out.report.objective if out.verification.passed else None


def has_free_capacity(gpus) -> bool:
    """Some capacity costs nothing (a free GPU type, or owned nodes at no cost): the cost then
    cannot tell the solver how many of those nodes and instances to take."""
    return any(o.price_per_card_hour == 0 or (o.owned_nodes and o.owned_cost_per_card_hour == 0) for o in gpus)


LEX_INSTANCE_WEIGHT = 1e-3   # second stage: instances count a thousandth of a node
LEX_SPAN_WEIGHT = 0.1        # … and an instance whose group spans nodes a tenth (`spans_nodes`)


def build_at_cost(problem: Problem | FleetProblem, svcs: list[Service], first: milp.SolverReport,
                  excluded: Sequence[Point] = ()) -> milp.Model:
    """The MILP of `svcs` with the cost held at the first solve's (Σ cost ≤ C*, within float
    round-off: the `COST_CAP_ROW`), for a second stage to choose among plans of that cost."""
    cap = cost_cap(first.objective or 0.0)
    return build(problem, svcs, extra_rows=[(COST_CAP_ROW, lambda mm: mm.cost <= cap)], excluded=excluded)


def cost_cap(cost: float) -> float:
    """The cost a second stage is held to: the first solve's, within float round-off."""
    return cost * (1.0 + 1e-9) + 1e-9


def below(second: float, first: float) -> bool:
    """A second stage's cost is lower than the first solve's beyond round-off: the first stopped at
    its time limit and the second, held under `cost_cap`, found a cheaper plan (its cost stands)."""
    return second < first - 1e-9 * max(1.0, abs(first))


def one_mode_at_cost(problem: Problem | FleetProblem, svcs: list[Service], m: milp.Model,
                     first: milp.SolverReport, opts: SolverOptions, verbose: bool, heuristics: bool,
                     excluded: Sequence[Point] = ()) -> tuple[list[Service], milp.Model, milp.SolverReport] | None:
    """Lexicographic second stage: among plans of the first solve's cost (Σ cost ≤ C*, within
    float round-off), the one engines deploy most simply. A service whose plan runs colocated
    pools beside prefill or decode pools is held to one serving mode (prefill/decode pools first,
    else colocated pools): SGLang, TensorRT-LLM and Dynamo refuse the mix; a service in one mode
    keeps it. Within that, the fewest instances whose tensor·pipeline group spans more than one
    node (`spans_nodes`: every engine then needs a multi-node launcher, vLLM Ray); when neither
    mode alone reaches the cost, the mix stays and only those are fewer. None when the first plan
    neither mixes nor spans, or no such plan reaches the cost. Single problems only: on the 4 × 12
    fleet benchmark the second MILP, held at the first one's cost, took 20 s beside the first's 6 s."""
    picked = milp.selection(m)
    roles: dict[int, set[str]] = {}
    for i in picked:
        roles.setdefault(m.service_of[i], set()).add(m.candidates[i].role)
    mixed = {si for si, r in roles.items() if "colocated" in r and r & {"prefill", "decode"}}
    per_node = {o.id: o.gpu.node_cards for o in svcs[0].res.gpus}
    spanned = any(spans_nodes(m.candidates[i], per_node) for i in picked)
    if not mixed and not spanned:
        return None
    own = {si: (lambda c, co=("colocated" in r): (c.role == "colocated") == co) for si, r in roles.items()}
    attempts = ([lambda c: c.role != "colocated", lambda c: c.role == "colocated"] if mixed else []) \
        + ([lambda c: True] if spanned else [])
    for keep in attempts:
        held = [replace(s, candidates=tuple(filter(keep if si in mixed else own.get(si, keep), s.candidates)))
                for si, s in enumerate(svcs)]
        if any(missing_roles(s.candidates, s.res.uncached_mean > 0, s.res.decode_mean > 0) for s in held):
            continue
        m2 = build_at_cost(problem, held, first, excluded)
        spanning = [x for i, x in m2.x.items() if spans_nodes(m2.candidates[i], per_node)]
        if spanning:   # the cost is held: fewest spanning instances first, then the usual objective
            m2.prob.setObjective(pulp.lpSum(spanning) + SPAN_OBJECTIVE_WEIGHT * m2.prob.objective)
        # no node_gap: its unit (the cheapest node-hour) is not this objective's (a spanning instance)
        rep = milp.solve(m2, opts.name, opts.time_limit, opts.mip_gap, verbose, heuristics=heuristics,
                         threads=opts.threads)
        if rep.status in (milp.SolverStatus.optimal, milp.SolverStatus.feasible_time_limit):
            return held, m2, rep
    return None


# weight of the usual objective (cost over the cheapest node-hour, tens to thousands) beside the count of
# spanning instances in `one_mode_at_cost`: the cost is held there, so it only orders equal counts
SPAN_OBJECTIVE_WEIGHT = 1e-6


def spans_nodes(c: Candidate, cards_per_node: dict[str, int]) -> bool:
    """Whether an instance's tensor·pipeline group is wider than one node of its GPU type (data-
    parallel ranks on other nodes are separate groups)."""
    return c.par.tp * c.par.pp > cards_per_node[c.gpu]


def fewest_nodes_at_cost(problem: Problem | FleetProblem, svcs: list[Service], first: milp.SolverReport,
                         opts: SolverOptions, verbose: bool, excluded: Sequence[Point] = ()) -> milp.Model | None:
    """Lexicographic second stage: with the cost held at the first solve's (Σ cost ≤ C*, within
    float round-off), minimise Σ nodes + 10⁻¹·Σ instances whose group spans nodes + 10⁻³·Σ
    instances, so free capacity is not bought idle, nor a group over two nodes taken back after
    `one_mode_at_cost` left it out. None when the second solve finds no plan (the first one stands)."""
    m = build_at_cost(problem, svcs, first, excluded)
    per_node = {o.id: o.gpu.node_cards for o in svcs[0].res.gpus}
    wide = [x for i, x in m.x.items() if spans_nodes(m.candidates[i], per_node)]
    m.prob.setObjective(pulp.lpSum(m.rent[g] + m.own[g] for g in m.rent) + LEX_SPAN_WEIGHT * pulp.lpSum(wide)
                        + LEX_INSTANCE_WEIGHT * pulp.lpSum(m.x.values()))
    rep = milp.solve(m, opts.name, opts.time_limit, opts.mip_gap, verbose, threads=opts.threads)
    return m if rep.status in (milp.SolverStatus.optimal, milp.SolverStatus.feasible_time_limit) else None


def trim_nodes(nodes: dict[str, tuple[int, int]], chosen: dict[str, dict[Candidate, int]],
               gpus) -> dict[str, tuple[int, int]]:
    """The solver's (rented, owned) nodes cut to the whole nodes the chosen instances need,
    ⌈cards_g / N_g⌉, keeping owned nodes first as the solver did: a node nobody uses is never
    bought, even when free (where the cost cannot tell the solver so)."""
    per_node = {o.id: o.gpu.node_cards for o in gpus}
    cards: Counter = Counter()
    for sel in chosen.values():
        for c, n in sel.items():
            cards[c.gpu] += n * c.cards
    out = {}
    for g, (rent, own) in nodes.items():
        need = -(-cards[g] // per_node[g])
        keep_own = min(own, need)
        out[g] = (min(rent, need - keep_own), keep_own)
    return out


def _services(problem: Problem | FleetProblem, source: str, cs: CandidateSet | None) -> list[Service]:
    """The services and their candidates; Infeasible when some demand has no candidate at all."""
    if isinstance(problem, FleetProblem):
        singles = resolve_classes(problem, source)
        for k, r in zip(problem.classes, singles):
            note_context(r, f"{source}: class {k.name!r}")
        svcs = fleet_services(problem, singles)
        for k, s in zip(problem.classes, svcs):   # the first len(classes) services are the single classes
            if not any(sv.candidates and k.name in sv.classes
                       and not missing_roles(sv.candidates, sv.res.uncached_mean > 0, sv.res.decode_mean > 0)
                       for sv in svcs):
                raise Infeasible(f"{source}: class {k.name!r}: " + explain_no_candidates(s.res, s.cs))
        return svcs
    res = resolve(problem, source)
    note_context(res, source)   # before any verdict: an infeasible plan may be why
    svc = single_service(res, cs)
    if not svc.candidates:
        raise Infeasible(f"{source}: " + explain_no_candidates(svc.res, svc.cs),
                         [r.detail for r in svc.cs.rejected])
    missing = missing_roles(svc.candidates, svc.res.uncached_mean > 0, svc.res.decode_mean > 0)
    if missing:
        raise Infeasible(f"{source}: " + explain_no_candidates(svc.res, svc.cs, missing))
    return [svc]


def build(problem: Problem | FleetProblem, svcs: list[Service],
          served: pulp.LpVariable | float = 1.0, extra_rows=(), excluded: Sequence[Point] = ()) -> milp.Model:
    """The MILP of these services without the `excluded` plans (`cuts.add_no_goods`); a fleet adds
    the valid 'at least one instance' rows."""
    r0 = svcs[0].res
    m = milp.build_fleet(milp.Shared(problem.name, r0.gpus, problem.limits,
                                        problem.serving.redundancy),
                            [s.milp_service() for s in svcs], extra_rows=extra_rows, served=served,
                            floor_rows=isinstance(problem, FleetProblem))
    add_no_goods(m, excluded)
    return m


def _explain_caps(problem: Problem | FleetProblem, svcs: list[Service], opts: SolverOptions,
                  verbose: bool) -> str:
    if isinstance(problem, FleetProblem):
        text = "the fleet's demand cannot be met within " + explain_caps(
            lambda a: build(problem, svcs, served=a), opts, opts.name, verbose,
            lambda f: f"at most {floor_percent(f)} % of every class's target QPS")
    else:
        qps = svcs[0].res.qps
        text = "demand cannot be met within " + explain_caps(
            lambda a: build(problem, svcs, served=a), opts, opts.name, verbose,
            lambda f: f"at most {floor_percent(f)} % of the target can be served ({floor_text(f * qps)} of "
                      f"{qps:g} requests/s)")
    return text + power_cap_note(problem.limits.power, svcs[0].res.gpus, text)


def solver_options(problem: Problem | FleetProblem, solver: str | None, time_limit: float | None,
                   over_periods: str | None = None, source: str = "problem") -> SolverOptions:
    """The problem's `solver:` settings with the command line's --solver and --time-limit over them.
    `over_periods` (the problem's source) for a plan over periods, which solves one MILP per
    commitment and period to mip_gap: solver.node_gap, a gap on one plan's cost, is refused there."""
    if over_periods is not None and problem.solver.node_gap:
        raise BadInput(f"{over_periods}: solver.node_gap: applies to a plan of one period; a load profile or "
                       f"trace is planned period by period to solver.mip_gap (remove node_gap)")
    if over_periods is not None and problem.solver.threads > 1:
        raise BadInput(f"{over_periods}: solver.threads: applies to a plan of one period; a load profile or "
                       f"trace is planned period by period, each MILP on one thread (remove threads)")
    opts = problem.solver.model_copy(update={"name": solver or problem.solver.name,
                                             "time_limit": time_limit or problem.solver.time_limit})
    if opts.name == "cbc" and opts.threads > 1:
        raise BadInput(f"{source}: solver.threads: {opts.threads} with the cbc solver: planner runs CBC on one "
                       f"thread (its parallel search gives another plan run to run); use highs, or threads: 1")
    return opts


def optimality_checks(report: milp.SolverReport, opts: SolverOptions) -> list[Check]:
    """'Optimal' means optimal: for a plan reported optimal, the gap between its objective and the
    solver's proven bound is within the problem's mip_gap, or within solver.node_gap hours of the
    cheapest node when that is looser (the objective's unit: node_gap ÷ objective as a fraction);
    nothing when the solver reports no gap, as CBC through PuLP, or stopped at its time limit,
    where the plan says 'feasible' and the gap."""
    if report.status != milp.SolverStatus.optimal or report.gap is None:
        return []
    limit = opts.mip_gap
    if opts.node_gap and report.objective_value:
        limit = max(limit, opts.node_gap / abs(report.objective_value))
    return [Check("optimality_gap", report.gap, limit, "fraction")]


def _verify(problem: Problem | FleetProblem, svcs: list[Service], chosen: dict[str, dict[Candidate, int]],
            nodes: dict[str, tuple[int, int]], objective: float | None):
    """Every service's pools recomputed at their load, each class served once, then the fleet's
    nodes, caps and cost."""
    pools = {}
    checks: list[Check] = []
    by_key = {s.key: s for s in svcs}
    for key, sel in chosen.items():
        st, ch = verify_service(by_key[key].res, sel, prefix=key)
        pools[key] = tuple(st)
        checks += ch
    if isinstance(problem, FleetProblem):
        served_by = Counter(k for key in chosen for k in by_key[key].classes)
        checks += [Check(f"served[{k.name}]", served_by[k.name], 1, "services", "==") for k in problem.classes]
    every = {c: n for sel in chosen.values() for c, n in sel.items()}
    checks += fleet_checks(svcs[0].res.gpus, problem.limits, every, nodes, objective, problem.pricing.currency,
                           len(pool_shapes(chosen)))
    return Verification(tuple(s for ss in pools.values() for s in ss), tuple(checks)), pools

"""An exact decomposition of a fleet's MILP, for fleets whose services share nothing but whole nodes.

With no power, budget, GPU-type or pool-shape limit, no owned nodes, no availability caps and no
redundancy, a fleet plan's objective (the MILP's: cost ÷ the cheapest node-hour + 10⁻⁷ per node)
is Σ_s cost_s + Σ_g π_g·waste_g: cost_s = Σ_g π_g·cards_s,g what service s would cost were nodes
continuous (π_g the objective's price per card), waste_g the cards of type g bought and not used,
which depends only on y_g mod N_g (y_g the plan's cards of g, N_g per node). So:

  LB = Σ over groups of classes that share services (a model's classes) of its cheapest partition
  into services, each at its own cheapest cost m_s: the optimum with nodes continuous, a bound.
  A plan within Δ of LB has every group's partition within Δ of its cheapest and every service
  within what Δ leaves of its m_s; its services' card vectors may be taken minimal (whole nodes
  cost no more with fewer cards). So, for Δ = one cheapest node-hour, then larger:
    1. each service's minimal card vectors within its budget (`planner.plan.shells`);
    2. each group's options, kept as the cheapest per residue vector (y_g mod N_g)_g (two options
       of one residue vector leave the same waste whatever the other groups take);
    3. a dynamic programme over the groups, with that residue vector as its state, picks one option
       each at the least Σ option + waste; once that is ≤ LB + Δ it is the optimum, proven (every
       plan that could be cheaper was among the options); else Δ grows and 1–2 run again.
  Each chosen service's instances come from a small MILP within its card vector (the fewest); the
  solution is written into the model's variables and every row of the model checked, so the plan
  is read, verified and explained (binding rows) as a MILP's is. It reports gap 0: exact, not to
  the MILP's mip_gap; among plans of equal cost, the fewest nodes as the MILP's tie-break says.

Plans verification excluded are avoided within the chosen vectors, or by leaving a vector out and
searching again (`decompose`). Anything else (a limit, owned nodes, caps, CBC, `solver.method: milp`,
a work cap passed, no plan at the optimum's cost among minimal vectors) is solved by the MILP
(`milp.solve`). docs/optimisation.md, "The fleet decomposition".
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, replace

import numpy as np

from planner.input.problem import SolverOptions
from planner.plan import milp
from planner.plan.cuts import exclude
from planner.plan.lp import pulp
from planner.plan.shells import TOL, Budget, ServiceSearch, TooLarge, TypeFrontier, frontier_budget

MAX_PARTITION_STEPS = 2_000_000   # steps of one group's partition search: beyond, the MILP
MAX_DP_STATES = 4_000_000         # residue vectors the dynamic programme holds: beyond, the MILP
MAX_ROUNDS = 40                   # values of Δ tried: beyond, the MILP
MAX_BANNED = 8                    # card vectors left out after verification's exclusions: beyond, the MILP


class NoInstances(TooLarge):
    """No selection of service j's instances within the card vector meets its demand and avoids the
    excluded plans: every plan using that vector is excluded."""

    def __init__(self, service: int, vector: dict[str, int], key: str) -> None:
        super().__init__(f"no instances within the card vector {vector} of service {key or service}")
        self.service, self.vector = service, tuple(sorted(vector.items()))


class NoPlanAtOptimum(TooLarge):
    """The optimum is proven but no plan at it could be written (its card vectors hold only plans that
    failed verification): the MILP plans the fleet, with that optimum (`bound`, the objective's) as a
    lower bound on its objective."""

    def __init__(self, message: str, bound: float) -> None:
        super().__init__(message)
        self.bound = bound


def not_applicable(m: milp.Model, gpus, limits, opts: SolverOptions) -> str | None:
    """Why the decomposition cannot solve this model exactly, or None when it can."""
    if opts.method == "milp" or opts.name != "highs":
        return f"solver {opts.name}, method {opts.method}"
    if len(m.services) < 2 or not all(s.classes for s in m.services):
        return "not a fleet"
    if m.redundancy != "none":
        return "redundancy"
    if any(getattr(limits, k) is not None for k in ("power", "budget_per_hour", "max_gpu_types", "max_pool_shapes")):
        return "a fleet limit couples the services"
    if any(o.owned_nodes or o.max_cards is not None or o.price_per_card_hour <= 0 for o in gpus):
        return "owned nodes, availability caps or free cards"
    return None


def solve(m: milp.Model, gpus, limits, opts: SolverOptions, verbose: bool, excluded=(),
          heuristics: bool = False) -> milp.SolverReport:
    """The fleet solved exactly by the decomposition where it applies, else by the MILP."""
    why, bounded = not_applicable(m, gpus, limits, opts), False
    if why is None:
        t0 = time.perf_counter()
        try:
            objective = decompose(m, {o.id: o.gpu.node_cards for o in gpus}, verbose, excluded)
            return milp.SolverReport("highs", milp.SolverStatus.optimal, time.perf_counter() - t0, 0.0,
                                     pulp.value(m.cost), len(m.prob.variables()), m.prob.numConstraints(),
                                     objective, method="decomposition")
        except TooLarge as e:
            why = str(e)
            bounded = isinstance(e, NoPlanAtOptimum)
            if bounded:   # valid: excluding plans never lowers the optimum
                m.prob += m.prob.objective >= e.bound - 1e-9 * max(1.0, abs(e.bound)), "decomposition_bound"
    if verbose and why != "not a fleet":
        sys.stderr.write(f"fleet decomposition not used ({why}): the MILP\n")
    report = milp.solve(m, opts.name, opts.time_limit, opts.mip_gap, verbose, gap_abs=opts.node_gap,
                        heuristics=heuristics, threads=opts.threads)
    if bounded and report.objective is not None:
        # at the bound HiGHS's integers sit within its tolerance of whole numbers (a cost of 1,633.3999984
        # for 1,633.40): they are whole numbers, and the cost is read at them
        for v in m.prob.variables():
            if v.cat == pulp.LpInteger and v.varValue is not None:
                v.varValue = float(round(v.varValue))
        report = replace(report, objective=pulp.value(m.cost), objective_value=pulp.value(m.prob.objective))
    return report


def shares(c, demand: milp.Demand) -> tuple[float, float]:
    """A candidate's coefficients in its service's (prefill, decode) demand rows, as `milp.add_demand`
    writes them (clipped at DEMAND_COEF_CAP); 0 for a row the service does not have."""
    return tuple(milp.demand_coef(cap, need) if need > 0 else 0.0
                 for cap, need in ((c.prefill_tok_s, demand.prefill_tok_s), (c.decode_tok_s, demand.decode_tok_s)))


def searches(m: milp.Model, price: dict[str, float]) -> list[ServiceSearch | None]:
    """Each service's search: its candidates' shares of its demand rows (as `milp.add_demand`
    writes them), by GPU type; None for a service a demand row of which no candidate serves."""
    out: list[ServiceSearch | None] = []
    budget = Budget(frontier_budget(len(m.candidates)))   # one for the whole fleet
    for s, sv in enumerate(m.services):
        needs = (sv.demand.prefill_tok_s, sv.demand.decode_tok_s)
        by: dict[str, list[tuple[int, float, float]]] = {}
        for _, c in m.of_service(s):
            a, b = shares(c, sv.demand)
            if a or b:
                by.setdefault(c.gpu, []).append((c.cards, a, b))
        rows = [any(x[r + 1] > 0 for cs in by.values() for x in cs) for r in (0, 1)]
        if any(need > 0 and not ok for need, ok in zip(needs, rows)):
            out.append(None)
            continue
        order = sorted(by.items(), key=lambda t: (-price[t[0]], t[0]))   # dearest first
        types = [TypeFrontier(g, price[g], cs, budget) for g, cs in order]
        out.append(ServiceSearch(types, (float(needs[0] <= 0), float(needs[1] <= 0))))
    return out


def groups(m: milp.Model) -> list[list[str]]:
    """The classes in groups linked by services (a service's classes are in one group), sorted."""
    parent: dict[str, str] = {}

    def root(k: str) -> str:
        while parent.setdefault(k, k) != k:
            k = parent[k]
        return k

    for sv in m.services:
        for k in sv.classes[1:]:
            parent[root(k)] = root(sv.classes[0])
    out: dict[str, list[str]] = {}
    for k in sorted({k for sv in m.services for k in sv.classes}):
        out.setdefault(root(k), []).append(k)
    return sorted(out.values())


def partitions(classes: list[str], m: milp.Model, cost: list[float], slack: float) -> list[tuple[float, tuple]]:
    """Every way to serve `classes` by services, each class once, at a Σ cost within `slack` of the
    cheapest way, cheapest first (a branch and bound: each class left costs at least its cheapest
    service's cost per class)."""
    owners: dict[str, list[int]] = {k: [] for k in classes}
    for j, sv in enumerate(m.services):
        if math.isfinite(cost[j]) and sv.classes[0] in owners:
            for k in sv.classes:
                owners[k].append(j)
    least = {k: min((cost[j] / len(m.services[j].classes) for j in js), default=math.inf) for k, js in owners.items()}
    found: list[tuple[float, tuple]] = []
    best, steps = [math.inf], [0]

    def walk(left: frozenset, so_far: float, picks: tuple) -> None:
        steps[0] += 1
        if steps[0] > MAX_PARTITION_STEPS:
            raise TooLarge(f"more than {MAX_PARTITION_STEPS:,} steps partitioning {len(classes)} classes")
        if not left:
            found.append((so_far, picks))
            best[0] = min(best[0], so_far)
            return
        k = min(left)
        for j in owners[k]:
            ks = m.services[j].classes
            if all(x in left for x in ks):
                rest = left.difference(ks)
                if so_far + cost[j] + sum(least[x] for x in rest) <= best[0] + slack + TOL:
                    walk(rest, so_far + cost[j], (*picks, j))

    walk(frozenset(classes), 0.0, ())
    return sorted(p for p in found if p[0] <= best[0] + slack + TOL)


def decompose(m: milp.Model, node: dict[str, int], verbose: bool = False, excluded=()) -> float:
    """Solve `m` exactly (see the module's docstring) and write the plan into its variables; its
    objective. `excluded`: plans that failed verification (`cuts.Point`s, each one service's instance
    counts), which a chosen service's instances avoid within its card vector. When none can, every
    plan using that vector is excluded, so the vector is left out and the search runs again: a plan
    it finds at the first optimum's cost is the optimum with the exclusions too (they never lower it).
    `TooLarge` when a work cap is passed, no plan at that cost is found among minimal vectors (one at
    a larger vector may exist: `NoPlanAtOptimum`, and the MILP), or the plan found fails a row."""
    best, chosen = optimum(m, node, verbose)
    banned: frozenset = frozenset()
    for _ in range(MAX_BANNED):
        try:
            write(m, chosen, node, excluded)
            return float(pulp.value(m.prob.objective))
        except NoInstances as e:
            banned |= {(e.service, e.vector)}
            if verbose:
                sys.stderr.write(f"fleet decomposition: {e}; that vector left out, searching again\n")
            try:
                again, chosen = optimum(m, node, verbose, banned)
            except TooLarge:
                break
            if again > best + 1e-9 * max(1.0, abs(best)):   # dearer: a plan at `best` may need a larger vector
                break
        except TooLarge as e:
            raise NoPlanAtOptimum(str(e), best) from None
    raise NoPlanAtOptimum("no plan at the optimum's cost within its minimal card vectors", best)


@dataclass
class Searched:
    """What one fleet's search keeps across its optimum's runs (a few MB on the 4 × 12 fleets): the
    services' searches, their minima, the GPU types (sorted), the objective's price per card, the
    cheapest node-hour (`step`), the groups of classes, each group's cheapest partitions, the bound LB."""

    search: list
    minima: list[float]
    gs: list[str]
    price: dict[str, float]
    step: float
    classes: list
    parts: list
    lb: float


_LAST: list = []   # the last fleet searched: [what it was searched for, its `Searched`, {banned: optimum}]


def optimum(m: milp.Model, node: dict[str, int], verbose: bool = False,
            banned: frozenset = frozenset()) -> tuple[float, tuple]:
    """The optimum's objective and its picks, (service, card vector) pairs, without the `banned` ones
    ((service, sorted vector items) pairs). The last fleet's search and optima are kept: a plan that
    fails verification is excluded and the same services built and solved again."""
    per_node = {g: m.prob.objective.get(m.rent[g], 0.0) for g in m.rent}   # the objective's cost of a node
    key = (tuple((sv.key, sv.classes, sv.demand, sv.candidates) for sv in m.services), tuple(sorted(node.items())),
           tuple(sorted(per_node.items())))
    if not (_LAST and _LAST[0] == key):
        _LAST[:] = [key, searched(m, node, per_node), {}]
    found = _LAST[2]
    if banned not in found:
        found[banned] = rounds(m, _LAST[1], node, banned, verbose)
    return found[banned]


def searched(m: milp.Model, node: dict[str, int], per_node: dict[str, float]) -> Searched:
    """The services' searches and the bound (`optimum`'s part that no banned vector changes)."""
    price = {g: per_node[g] / node[g] for g in m.rent}   # the objective's price per card
    search = searches(m, price)
    minima = [s.within(0.0)[0] if s is not None else math.inf for s in search]
    gs = sorted({c.gpu for c in m.candidates})
    classes = groups(m)
    parts = [partitions(cls, m, minima, 0.0) for cls in classes]
    if not all(parts):
        raise TooLarge("a group of classes no service serves")
    return Searched(search, minima, gs, price, min(per_node[g] for g in gs), classes, parts,
                    sum(p[0][0] for p in parts))


def rounds(m: milp.Model, s: Searched, node: dict[str, int], banned: frozenset, verbose: bool) -> tuple[float, tuple]:
    """Δ from one cheapest node-hour (`s.step`) up until the best plan is within LB + Δ: the optimum."""
    delta = s.step
    for _ in range(MAX_ROUNDS):
        options = []
        for cls, p0 in zip(s.classes, s.parts):
            cheapest, opts_g = p0[0][0], {}
            for cost_p, p in partitions(cls, m, s.minima, delta):
                budget = cheapest + delta   # what the group's services may cost together
                for r, (c, picks) in partition_options(p, s.search, s.minima, delta - (cost_p - cheapest), budget,
                                                       s.gs, node, banned).items():
                    if c < opts_g.get(r, (math.inf,))[0]:
                        opts_g[r] = (c, picks)
            options.append(opts_g)
        best, chosen = residue_dp(options, [node[g] for g in s.gs], [s.price[g] for g in s.gs])
        if verbose:
            sys.stderr.write(f"fleet decomposition: bound {s.lb:,.4f}, Δ {delta:,.4f}, best {best:,.4f} "
                             f"(cheapest node-hours)\n")
        if best <= s.lb + delta + 1e-9 * max(1.0, s.lb):
            return best, chosen
        delta = min(best - s.lb, delta + s.step) if math.isfinite(best) else delta + s.step
    raise TooLarge(f"not proven within {MAX_ROUNDS} rounds")


def partition_options(p: tuple, search: list, minima: list[float], left: float, budget: float, gs: list[str],
                      node: dict[str, int], banned: frozenset = frozenset()) -> dict[tuple, tuple[float, tuple]]:
    """One way `p` of serving a group's classes: the cheapest choice of a minimal vector for each of
    its services (each within `left` of its minimum, all together within `budget`, none `banned`) per
    residue vector (y_g mod N_g), as {residues: (cost, ((service, vector), …))}."""
    zero = tuple(0 for _ in gs)
    partial: dict[tuple, tuple[float, tuple]] = {zero: (0.0, ())}
    for n, j in enumerate(p):
        vectors = search[j].within(left)[1]
        later = sum(minima[i] for i in p[n + 1:])   # what the partition's other services cost at least
        nxt: dict[tuple, tuple[float, tuple]] = {}
        for r0, (c0, picks) in partial.items():
            for c, v in vectors:
                if c0 + c + later <= budget + TOL and not (banned and (j, tuple(sorted(v.items()))) in banned):
                    r = tuple((x + v.get(g, 0)) % node[g] for x, g in zip(r0, gs))
                    if c0 + c < nxt.get(r, (math.inf,))[0]:
                        nxt[r] = (c0 + c, (*picks, (j, v)))
        partial = nxt
    return partial


def residue_dp(options: list[dict[tuple, tuple[float, tuple]]], radix: list[int],
               price: list[float]) -> tuple[float, tuple]:
    """One option per group at the least Σ option cost + waste: a DP over the groups whose state is
    the residue vector (y_g mod N_g), in numpy, with back-pointers. (inf, ()) when some group has none."""
    if not all(options):
        return math.inf, ()
    n = np.array(radix, dtype=np.int64)
    mult = np.concatenate(([1], np.cumprod(n)[:-1]))
    digits, cost, backs = np.zeros((1, len(radix)), dtype=np.int64), np.zeros(1), []
    for opts in options:
        od = np.array(list(opts), dtype=np.int64).reshape(len(opts), len(radix))
        oc = np.array([c for c, _ in opts.values()])
        if len(cost) * len(oc) > 50 * MAX_DP_STATES:
            raise TooLarge("too many residue vectors")
        chunk = max(1, 2_000_000 // len(oc))
        codes, costs, idx = [], [], []
        for a in range(0, len(cost), chunk):
            d = (digits[a:a + chunk, None, :] + od[None, :, :]) % n
            codes.append((d * mult).sum(-1).ravel())
            costs.append((cost[a:a + chunk, None] + oc[None, :]).ravel())
            idx.append(np.arange(a * len(oc), min(len(cost), a + chunk) * len(oc)))
        code, c, flat = np.concatenate(codes), np.concatenate(costs), np.concatenate(idx)
        order = np.lexsort((c, code))
        keep = order[np.concatenate(([True], code[order][1:] != code[order][:-1]))]
        if len(keep) > MAX_DP_STATES:
            raise TooLarge(f"more than {MAX_DP_STATES:,} residue vectors")
        backs.append((flat[keep] // len(oc), flat[keep] % len(oc), list(opts.values())))
        code, cost = code[keep], c[keep]
        digits = (code[:, None] // mult[None, :]) % n[None, :]
    total = cost + ((-digits) % n * np.array(price)[None, :]).sum(-1)
    at = int(np.argmin(total))   # the first of equal totals: the lowest residue code (deterministic)
    picks: tuple = ()
    for state_of, option_of, values in reversed(backs):
        picks = values[option_of[at]][1] + picks
        at = int(state_of[at])
    return float(total.min()), picks


def instances(m: milp.Model, j: int, vec: dict[str, int], excluded=()) -> dict[int, int]:
    """The fewest instances of service j within the card vector `vec` that meet its demand rows and
    are none of the `excluded` selections (a small MILP; a minimal vector's instances use all its
    cards, so the cost is the vector's)."""
    sv, cs = m.services[j], [(i, c) for i, c in m.of_service(j) if c.gpu in vec]
    prob = pulp.LpProblem("instances", pulp.LpMinimize)
    x = {i: pulp.LpVariable(f"x_{i}", 0, m.x[i].upBound, cat="Integer") for i, _ in cs}
    prob += pulp.lpSum(x.values())
    for r, need in enumerate((sv.demand.prefill_tok_s, sv.demand.decode_tok_s)):
        if need > 0:
            prob += pulp.lpSum(shares(c, sv.demand)[r] * x[i] for i, c in cs) >= 1
    for g, k in vec.items():
        prob += pulp.lpSum(c.cards * x[i] for i, c in cs if c.gpu == g) <= k
    points = [p for p in excluded if {key for key, _ in p} == {sv.key}]
    if points:
        exclude(prob, {(sv.key, c): x[i] for i, c in cs}, points, "")
    with milp.quiet_stdout(True):   # highspy's banner, printed from C++ on standard output
        prob.solve(pulp.HiGHS(msg=False, gapRel=0.0, threads=1))
    if prob.status != pulp.LpStatusOptimal:
        raise NoInstances(j, vec, sv.key)
    return {i: round(v.varValue) for i, v in x.items() if round(v.varValue or 0) > 0}


def write(m: milp.Model, chosen: tuple, node: dict[str, int], excluded=()) -> None:
    """The plan into the model's variables (instances, services in use, whole nodes rented), every
    row of the model checked at it but the excluded plans' (`instances` avoids those; their
    indicator variables are left at 0)."""
    for v in m.prob.variables():
        v.varValue = 0.0
    cards: dict[str, int] = {}
    for j, vec in chosen:
        if not isinstance(m.use[j], float):
            m.use[j].varValue = 1.0
        for i, n in instances(m, j, vec, excluded).items():
            m.x[i].varValue = float(n)
            cards[m.candidates[i].gpu] = cards.get(m.candidates[i].gpu, 0) + n * m.candidates[i].cards
    for g, k in cards.items():
        m.rent[g].varValue = float(-(-k // node[g]))
    broken = [name for name, c in m.prob.constraints.items() if not name.startswith("no_good") and not c.valid(1e-7)]
    if broken:
        raise TooLarge(f"the decomposition's plan breaks {broken[0]}")

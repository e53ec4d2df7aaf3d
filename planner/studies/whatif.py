"""`plan whatif`: scenarios against a base problem, break-even prices, rent or buy, sensitivity.

Glossary: a *scenario* overlays the base (planner.input.scenario); an *outcome* is its solved plan
or the reason there is none; `g` a GPU type, `p_g` its rental price per card-hour, `N_g` its
cards per node. Every number comes from re-solving with planner.plan.solve.solve, so each
plan shown here is verified like one from `plan solve`. The study's result is a typed `WhatIf`;
its JSON, table, CSV and chart are planner.report.whatif.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from planner.catalog.schemas import get_gpu, gpu_key
from planner.errors import BadInput, Infeasible, VerificationFailed
from planner.input.problem import Problem
from planner.input.scenario import HOURS_PER_MONTH, Scenario, load_scenario, scenario_name
from planner.plan.candidates import CandidateSet, generate
from planner.plan.horizon import HorizonPlan
from planner.plan.model import Plan, cost_difference
from planner.plan.resolve import resolve
from planner.plan.solve import solve
from planner.studies.scenarios import OwnedCost, apply, owned_cost, renting_instead

ROLES = ("prefill", "decode", "colocated")
BREAKEVEN_REL_TOL = 0.01        # stop bisecting when the bracket is 1 % of the base price …
BREAKEVEN_ABS_TOL = 0.01    # … or 0.01 of the currency per card-hour, whichever is larger
BREAKEVEN_MAX_FACTOR = 64.0     # search for the exit price up to 64× the base price
POWER_STEP_W = 100e3            # sensitivity: 100 kW more power
TPOT_STEP_S = 1e-3              # sensitivity: 1 ms more TPOT
TTFT_STEP_S = 0.1               # sensitivity: 100 ms more TTFT


@dataclass(frozen=True)
class Outcome:
    """One scenario's result: a verified plan, or the status and reason why there is none.

    A scenario that buys nodes pays their amortisation every hour whether they run or not
    (`amortisation_per_hour`, of every bought node); its plan prices a bought card at its
    electricity alone. The scenario's cost is the plan's plus the amortisation."""

    name: str
    source: str
    problem: Problem
    plan: Plan | None
    status: str            # optimal | feasible | infeasible | verification_failed
    reason: str = ""
    rent_or_buy: RentOrBuy | None = None
    amortisation_per_hour: float = 0.0

    @property
    def cost_per_hour(self) -> float | None:
        return self.plan.cost_per_hour + self.amortisation_per_hour if self.plan else None

    @property
    def cost_per_million_output_tokens(self) -> float | None:
        if self.plan is None or not self.amortisation_per_hour:
            return self.plan.cost_per_million_output_tokens if self.plan else None
        return self.cost_per_hour / million_output_tokens_per_hour(self.plan)

    def margin_per_hour(self, plan_margin: float | None) -> float | None:
        """The plan's margin (`plan_margin`, None without a selling price) less the amortisation."""
        return None if plan_margin is None else plan_margin - self.amortisation_per_hour

    def delta(self, base: Outcome) -> tuple[float, float | None] | None:
        """Cost per hour against the base: (currency/h, percent or None: a free base); None without both plans."""
        if self.plan is None or base.plan is None:
            return None
        return _delta(self.cost_per_hour, base.cost_per_hour)


def _delta(cost: float, base_cost: float) -> tuple[float, float | None]:
    """(cost − base, percent of the base); no percent of a base that costs nothing (free cards)."""
    d = cost_difference(cost, base_cost)
    return d, (100 * d / base_cost if base_cost > 0 else None)


def solve_outcome(problem: Problem, name: str, source: str, *, solver: str | None = None,
                  time_limit: float | None = None, candidates: CandidateSet | None = None) -> Outcome:
    """Solve one problem; infeasibility and failed verification become an outcome, not a crash."""
    try:
        plan = solve(problem, source, solver=solver, time_limit=time_limit, candidates=candidates)
    except Infeasible as e:
        return Outcome(name, source, problem, None, "infeasible", str(e))
    except VerificationFailed as e:
        return Outcome(name, source, problem, None, "verification_failed", str(e))
    return Outcome(name, source, problem, plan, plan.status)


def distinct_names(named: list[tuple[str, str]]) -> None:
    """BadInput when two scenarios (or one and the base) share a name, in any case (w1, W1: file names
    on a case-blind disk, columns): their rows, CSV lines and JSON entries could not be told apart."""
    seen = {"base": ("base", "the base problem")}
    for name, path in named:
        if (first := seen.get(name.casefold())) is not None and first[1] == path:   # the same file twice (a hunt)
            raise BadInput(f"{path}: given twice; list each scenario file once")
        if first is not None:
            how = "is also" if first[0] == name else f"differs only in case from {first[0]!r},"
            raise BadInput(f"{path}: name: {name!r} {how} the name of {first[1]}; give each scenario a name of "
                           f"its own (name:)")
        seen[name.casefold()] = (name, path)


def run_scenarios(base: Problem, base_source: str, paths: list[str], *, solver: str | None = None,
                  time_limit: float | None = None) -> list[Outcome]:
    """The base and each scenario file, solved; all files are validated before any solve."""
    scenarios = [(load_scenario(p), p) for p in paths]
    distinct_names([(scenario_name(s, p), p) for s, p in scenarios])
    problems = [(apply(base, s, p), s, p) for s, p in scenarios]
    out = [solve_outcome(base, "base", base_source, solver=solver, time_limit=time_limit)]
    for prob, s, p in problems:
        o = solve_outcome(prob, scenario_name(s, p), p, solver=solver, time_limit=time_limit)
        if s.buy is not None and o.plan is not None:
            o = _with_rent_or_buy(o, base, s, p, solver, time_limit)
        out.append(o)
    return out


# ------------------------------------------------------------------------------ cost split
def pool_costs(plan: Plan) -> dict[str, float]:
    """Cost per hour by role: a pool costs its cards' share of its GPU type's node cost.

    node cost_g = N_g·(p_g·rent_g + owned_cost_g·own_g); pool cost = cards_pool / cards_used_g ·
    node cost_g, so idle cards in a partly used node are paid by the pools on that GPU type.
    """
    node_cost = {opt.id: opt.gpu.node_cards * (opt.price_per_card_hour * plan.nodes[opt.id][0]
                                               + opt.owned_cost_per_card_hour * plan.nodes[opt.id][1])
                 for opt in plan.resolved.gpus if opt.id in plan.nodes}
    used: Counter = Counter()
    for c, n in plan.chosen.items():
        used[c.gpu] += c.cards * n
    out = dict.fromkeys(ROLES, 0.0)
    for c, n in plan.chosen.items():
        out[c.role] += node_cost[c.gpu] * c.cards * n / used[c.gpu]
    return out


def cost_split(o: Outcome) -> dict[str, float]:
    """A scenario's cost per hour by role: `pool_costs`, plus a purchase's amortisation shared by
    the pools on the bought GPU type in proportion to their cards (by the cost of each role when
    none runs on it: the idle purchase is paid by the plan as a whole)."""
    out = pool_costs(o.plan)
    if not o.amortisation_per_hour or o.rent_or_buy is None:
        return out
    weights: Counter = Counter()
    for c, n in o.plan.chosen.items():
        if c.gpu == o.rent_or_buy.gpu:
            weights[c.role] += c.cards * n
    if not weights:
        weights = Counter({r: v for r, v in out.items() if v > 0}) or Counter(c.role for c in o.plan.chosen)
    total = sum(weights.values())
    for role, w in weights.items():
        out[role] += o.amortisation_per_hour * w / total
    return out


def million_output_tokens_per_hour(plan: Plan) -> float:
    """Output tokens per hour at the target QPS, in millions."""
    return plan.tokens_per_hour()[1] / 1e6


# ---------------------------------------------------------------------------- rent or buy
@dataclass(frozen=True)
class RentOrBuy:
    """Monthly cost of renting everything against buying `nodes` of `gpu`, and the payback time.

    buy_monthly counts amortisation of every bought node (idle ones too) plus power and the
    rented remainder; payback = purchase price / (rent_monthly − cash_monthly), where
    cash_monthly is what buying still costs each month without the amortisation.
    """

    gpu: str
    nodes: int
    nodes_used: int
    purchase: float   # in the base problem's currency, as every amount of RentOrBuy
    months: int
    owned: OwnedCost
    rent_monthly: float | None
    buy_monthly: float
    cash_monthly: float

    @property
    def payback_months(self) -> float | None:
        if self.rent_monthly is None or self.rent_monthly <= self.cash_monthly:
            return None
        return self.purchase / (self.rent_monthly - self.cash_monthly)


def _with_rent_or_buy(o: Outcome, base: Problem, s: Scenario, path: str, solver, time_limit) -> Outcome:
    """Attach the rent-or-buy comparison: the same scenario solved again without the purchase."""
    b = s.buy
    renting = renting_instead(base, s, path)   # None: it removed every GPU type and bought one
    rent_h = None if renting is None else solve_outcome(renting, o.name, path, solver=solver,
                                                        time_limit=time_limit).cost_per_hour
    opt = next(x for x in o.plan.resolved.gpus if x.id == get_gpu(b.gpu).id)
    oc = owned_cost(b, opt.gpu)
    used = o.plan.nodes.get(opt.id, (0, 0))[1]
    amortisation_h = b.nodes * oc.amortisation_per_gpu_hour * opt.gpu.node_cards   # every bought node
    cash_h = o.plan.cost_per_hour      # power of the bought nodes used, and the rented remainder
    rb = RentOrBuy(opt.id, b.nodes, used, b.nodes * b.price_per_node, b.months, oc,
                   None if rent_h is None else rent_h * HOURS_PER_MONTH,
                   (cash_h + amortisation_h) * HOURS_PER_MONTH, cash_h * HOURS_PER_MONTH)
    return Outcome(o.name, o.source, o.problem, o.plan, o.status, o.reason, rb, amortisation_h)


# ------------------------------------------------------------------------------ break-even
@dataclass(frozen=True)
class BreakEven:
    """Price of `gpu` at which it enters (was out) or leaves (was in) the optimal plan.

    The GPU is in the plan at `price_in` and out at `price_out`; the break-even price lies
    between them. `None` means no such price in the searched bracket (see `note`).
    """

    gpu: str
    base_price: float
    in_base: bool
    price_in: float | None
    price_out: float | None
    plan_in: Plan | None
    plan_out: Plan | None
    solves: int
    note: str = ""

    @property
    def price(self) -> float | None:
        if self.price_in is None or self.price_out is None:
            return None
        return (self.price_in + self.price_out) / 2


def with_price(problem: Problem, gpu_id: str, price: float) -> Problem:
    """A copy of the problem with one GPU type's rental price set."""
    gpus = [g.model_copy(update={"price_per_gpu_hour": price}) if gpu_key(g.id) == gpu_id else g
            for g in problem.gpus]
    return problem.model_copy(update={"gpus": gpus})


def _uses(plan: Plan | None, gpu_id: str) -> bool:
    """Whether the plan has any node of the GPU type (an infeasible price counts as 'not used')."""
    return plan is not None and sum(plan.nodes.get(gpu_id, (0, 0))) > 0


def breakeven(problem: Problem, source: str, gpu_ids: list[str] | None = None, *,
              rel_tol: float = BREAKEVEN_REL_TOL, solver: str | None = None,
              time_limit: float | None = None) -> list[BreakEven]:
    """Bisection on the rental price of each GPU type, re-solving the MILP at each step.

    Why bisection is sound: if prices p1 < p2 have optimal plans using u1, u2 rented cards of
    g (everything else priced alike), optimality of each gives (p2 − p1)(u2 − u1) ≤ 0, so the
    cards of g never grow with its price and 'g is in the plan' flips once. Bracket: [0, p0]
    to find the entry price; [p0, 2^k·p0] (k ≤ 6) to find the exit price. Stops when the
    bracket is narrower than max(rel_tol·p0, 0.01 of the currency). Candidates do not depend on
    prices: generated once and reused. Each solve holds `time_limit`, as the base's did."""
    res = resolve(problem, source)
    cs = generate(res)
    ids = gpu_ids or [o.id for o in res.gpus]
    scale = max((o.price_per_card_hour for o in res.gpus), default=1.0) or 1.0
    return [_breakeven_one(problem, source, cs, res.option(g).price_per_card_hour,
                           g, rel_tol, solver, scale, time_limit) for g in ids]


def _breakeven_one(problem: Problem, source: str, cs: CandidateSet, p0: float, gid: str, rel_tol: float,
                   solver: str | None, scale: float, time_limit: float | None = None) -> BreakEven:
    """One GPU type; `scale` replaces a base price of (nearly) 0 as the size of the first step up."""
    solves = 0

    def at(price: float) -> Plan | None:
        nonlocal solves
        solves += 1
        return solve_outcome(with_price(problem, gid, price), source, source, solver=solver,
                             time_limit=time_limit, candidates=cs).plan

    tol = max(rel_tol * p0, BREAKEVEN_ABS_TOL)
    base_plan = at(p0)
    in_base = _uses(base_plan, gid)
    if in_base:
        lo, plan_lo = p0, base_plan
        start = p0 if p0 >= 0.01 * scale else scale   # near 0 as 0: 1e-6 was searched only to 6.4e-5 (a hunt)
        hi = 2 * start
        plan_hi = at(hi)
        while _uses(plan_hi, gid):
            if hi >= BREAKEVEN_MAX_FACTOR * start:
                return BreakEven(gid, p0, True, hi, None, plan_hi, None, solves,
                                 f"still in the plan at {hi:.2f} {problem.pricing.currency}/GPU-h")
            lo, plan_lo = hi, plan_hi
            hi *= 2
            plan_hi = at(hi)
    else:
        hi, plan_hi = p0, base_plan
        lo, plan_lo = 0.0, at(0.0)
        if not _uses(plan_lo, gid):
            return BreakEven(gid, p0, False, None, 0.0, None, plan_lo, solves,
                             "not in the plan even at price 0")
    while hi - lo > tol:
        mid = (lo + hi) / 2
        plan_mid = at(mid)
        if _uses(plan_mid, gid):
            lo, plan_lo = mid, plan_mid
        else:
            hi, plan_hi = mid, plan_mid
    return BreakEven(gid, p0, in_base, lo, hi, plan_lo, plan_hi, solves)


# ----------------------------------------------------------------------------- sensitivity
@dataclass(frozen=True)
class Sensitivity:
    """Cost change when one limit is relaxed by one step (re-solved, not a dual value)."""

    limit: str
    binding: bool
    step: str
    units_per_step: float
    unit: str
    cost_before: float
    cost_after: float | None
    note: str = ""

    @property
    def delta_per_unit(self) -> float | None:
        if self.cost_after is None:   # below, to a millionth and never −0 (it read '-0.0 per ms', 1.1e-12)
            return None
        return cost_difference(self.cost_after, self.cost_before) / self.units_per_step + 0.0


def sensitivity(plan: Plan, source: str, solver: str | None = None, time_limit: float | None = None,
                fixed_per_hour: float = 0.0) -> list[Sensitivity]:
    """Relax each cap the problem sets by one step (a node of a capped GPU type, 100 kW, one more
    GPU type under limits.max_gpu_types, one more pool shape under limits.max_pool_shapes) and
    always the SLOs (1 ms TPOT, 100 ms TTFT); report the new optimal cost. Caps are relaxed
    even with slack left: with whole nodes a cap can shape the plan without zero slack
    (`binding` says whether its row had zero slack). A card more of a capped type is reported
    per card: nodes are rented whole, so the step is one node (N_g cards). `time_limit` holds each
    re-solve as the plan's; `fixed_per_hour` (a scenario's amortisation) is in both costs, as in the
    what-if table (until 2026-12-05 neither: 1,353 an hour 'saved', 424 beside the table's 1,134)."""
    p = plan.resolved.problem
    how = (solver, time_limit, fixed_per_hour)
    out = []
    for opt in plan.resolved.gpus:
        if opt.max_cards is None:
            continue
        row, n = f"availability[{opt.id}]", opt.gpu.node_cards
        gpus = [g.model_copy(update={"max_cards": opt.max_cards + n, "max_nodes": None})
                if gpu_key(g.id) == opt.id else g for g in p.gpus]
        out.append(_relaxed(plan, p.model_copy(update={"gpus": gpus}), source, how, row,
                            f"+{n} cards (one node)", n, "card"))
    for key, more, row, step, unit in (("power", POWER_STEP_W, "power_cap", "+100 kW", "100 kW"),
                                       ("max_gpu_types", 1, "gpu_types_cap", "+1 GPU type", "GPU type"),
                                       ("max_pool_shapes", 1, "pool_shapes_cap", "+1 pool shape", "pool shape")):
        cap = getattr(p.limits, key)
        if cap is not None:
            limits = p.limits.model_copy(update={key: cap + more})
            out.append(_relaxed(plan, p.model_copy(update={"limits": limits}), source, how, row, step, 1.0, unit))
    for key, step, label, unit, units in (("tpot", TPOT_STEP_S, "+1 ms", "ms", 1.0),
                                          ("ttft", TTFT_STEP_S, "+100 ms", "100 ms", 1.0)):
        slo = p.slo.model_copy(update={key: getattr(p.slo, key) + step})
        out.append(_relaxed(plan, p.model_copy(update={"slo": slo}), source, how, key, label, units, unit))
    return out


def _relaxed(plan: Plan, relaxed: Problem, source: str, how: tuple, limit: str, step: str,
             units: float, unit: str) -> Sensitivity:
    """Re-solve with one limit relaxed (`how`: solver, time limit, fixed cost per hour); `binding`
    is whether its row had zero slack before."""
    solver, time_limit, fixed = how
    o = solve_outcome(relaxed, limit, source, solver=solver, time_limit=time_limit)
    return Sensitivity(limit, limit in plan.binding, step, units, unit, plan.cost_per_hour + fixed,
                       None if o.cost_per_hour is None else o.cost_per_hour + fixed, o.reason)


# ---------------------------------------------------------------------------------- study
@dataclass(frozen=True)
class WhatIf:
    """Everything `plan whatif` computes: the outcomes (the base first), and the break-even
    prices and sensitivities when asked for (None when not). planner.report.whatif renders it."""

    outcomes: tuple[Outcome, ...]
    breakevens: tuple[BreakEven, ...] | None = None
    sensitivities: tuple[tuple[str, tuple[Sensitivity, ...]], ...] | None = None  # (scenario, rows)

    @property
    def base(self) -> Outcome:
        return self.outcomes[0]


def run_whatif(base: Problem, base_source: str, paths: list[str], *, with_breakeven: bool = False,
               with_sensitivity: bool = False, solver: str | None = None, time_limit: float | None = None) -> WhatIf:
    """The scenarios solved; break-even prices of the base's GPU types (if the base is feasible)
    and the sensitivity of every feasible outcome, when asked for."""
    outcomes = tuple(run_scenarios(base, base_source, paths, solver=solver, time_limit=time_limit))
    be = tuple(breakeven(outcomes[0].problem, base_source, solver=solver, time_limit=time_limit)) \
        if with_breakeven and outcomes[0].plan else None
    sens = tuple((o.name, tuple(sensitivity(o.plan, o.source, solver, time_limit, o.amortisation_per_hour)))
                 for o in outcomes if o.plan) if with_sensitivity else None
    return WhatIf(outcomes, be, sens)


# ------------------------------------------------------------------- over a load profile
@dataclass(frozen=True)
class HorizonOutcome:
    """One scenario of a base with a load profile: its verified horizon plan, or why there is none."""

    name: str
    source: str
    problem: Problem
    plan: HorizonPlan | None
    status: str            # optimal | feasible | infeasible | verification_failed
    reason: str = ""

    def delta(self, base: HorizonOutcome) -> tuple[float, float | None] | None:
        """Cost over the horizon against the base: (currency, percent, None when the base is free);
        None unless both have a plan."""
        if self.plan is None or base.plan is None:
            return None
        return _delta(self.plan.cost, base.plan.cost)


def run_horizon_whatif(base: Problem, base_source: str, paths: list[str], *, solver: str | None = None,
                       time_limit: float | None = None) -> tuple[HorizonOutcome, ...]:
    """The base (a problem with workload.profile) and each scenario solved over the horizon;
    every file is validated before any solve. A scenario may change anything a file can, the
    capacity kinds too (reserved and spot prices, spot share and interruptions)."""
    from planner.plan.horizon import solve_horizon
    problems = [(base, "base", base_source)]
    scenarios = [(load_scenario(p), p) for p in paths]
    distinct_names([(scenario_name(s, p), p) for s, p in scenarios])
    for s, p in scenarios:
        if s.buy is not None:
            raise BadInput(f"{p}: buy: rent-or-buy is priced for a single QPS; with a load profile "
                           f"give owned_nodes and owned_cost_per_gpu_hour in gpus.update instead")
        problems.append((apply(base, s, p), scenario_name(s, p), p))
    out = []
    for prob, name, src in problems:
        try:
            h = solve_horizon(prob, src, solver=solver, time_limit=time_limit)
        except Infeasible as e:
            out.append(HorizonOutcome(name, src, prob, None, "infeasible", str(e)))
            continue
        except VerificationFailed as e:
            out.append(HorizonOutcome(name, src, prob, None, "verification_failed", str(e)))
            continue
        out.append(HorizonOutcome(name, src, prob, h, h.status))
    return tuple(out)


def source_files(base: str, paths: list[str]) -> tuple[str, ...]:
    """Every input path (an output may overwrite none of them)."""
    return tuple(str(Path(p)) for p in [base, *paths])

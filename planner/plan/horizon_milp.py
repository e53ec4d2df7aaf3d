"""The multi-period MILP of a load profile: instances per candidate per period, nodes per capacity kind.

Glossary: `p` a period (length h_p hours, QPS q_p), `H = Σ_p h_p` the horizon, `c` a candidate,
`g` a GPU type with N_g cards per node. Capacity kinds of g: reserved (`res[g]`, a commitment
fixed over the horizon), owned (`own[g]`, as in the single-QPS MILP, also fixed), on demand
(`od[g,p]`, per period) and spot (`spot[g,p]`, per period, at most a share s_g of the type's
nodes). `build()` is the formulation's table of contents (docs/horizon.md):

    x[c,p] ∈ ℤ≥0;  res[g], own[g] ≤ owned_nodes_g, od[g,p], spot[g,p] ∈ ℤ≥0
    Σ_c x[c,p]·prefill_tok_s[c] / (q_p·uncached input) ≥ 1          prefill_demand[p]
    Σ_c x[c,p]·decode_tok_s[c]  / (q_p·(output − 1) / u_d) ≥ 1          decode_demand[p]
    Σ_{c on g} x[c,p]·cards_c ≤ N_g·(res[g] + own[g] − idle[g,p] + od[g,p] + spot[g,p])   node_cover[g,p]
    spot[g,p] ≤ s_g·(res[g] + own[g] + od[g,p] + spot[g,p])                   spot_share[g,p]
    N_g·(nodes of g in p) ≤ max_cards_g;  power and budget per hour in every period
    N_g·(nodes of g in p − idle[g,p]) ≤ max_cards_per_period_g[p], idle ≤ res + own (held, paid, not run)
    minimise Σ_p h_p·Σ_g N_g·(od[g,p]·price_g + spot[g,p]·spot_g)
             + H·Σ_g N_g·(res[g]·reserved_g + own[g]·owned_cost_g)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from planner.errors import BadInput
from planner.input.problem import Limits, Problem
from planner.plan import milp, spot
from planner.plan.candidates import Candidate
from planner.plan.cuts import exclude
from planner.plan.lp import pulp
from planner.plan.redundancy import largest_node_loss, unit_loss_of
from planner.plan.resolve import GPUOption, Resolved

KINDS = ("reserved", "owned", "on_demand", "spot")
Shape = tuple[str, str, str]   # an instance as deployed: (role, GPU type, parallelism label)


def shape_of(c: Candidate) -> Shape:
    """The deployed shape of a candidate: candidates of one shape differ only in their operating
    point (batch, chunk), which an instance changes without a restart."""
    return (c.role, c.gpu, c.par.label())
CARD_TIE_BREAK = 1e-10   # per card in use per period, below the node tie-break: no idle instances


@dataclass(frozen=True)
class GPUKinds:
    """A GPU type's capacity kinds: the on-demand option (price, caps, owned inventory) and the
    reserved and spot prices per card-hour (None: that kind is not offered)."""

    opt: GPUOption
    reserved_price: float | None
    spot_price: float | None
    spot_share: float
    spot_interruption: float = 0.0     # share of spot nodes down at any time (capacity counts 1 − it)

    @property
    def id(self) -> str:
        return self.opt.id

    @property
    def node_cards(self) -> int:
        return self.opt.gpu.node_cards

    @property
    def reserved_cheaper(self) -> bool:
        """Whether a fleet held all horizon (the static one) rents it reserved: reserved is cheaper."""
        return self.reserved_price is not None and self.reserved_price < self.opt.price_per_card_hour


def gpu_kinds(res: Resolved) -> tuple[GPUKinds, ...]:
    """The capacity kinds of every GPU type of a resolved problem (same order as `res.gpus`)."""
    return tuple(GPUKinds(o, ch.reserved_price_per_gpu_hour, _lowest(ch.spot_price_per_gpu_hour), ch.spot_max_share,
                          ch.spot_interruption)
                 for o, ch in zip(res.gpus, res.problem.gpus))


def _lowest(price: float | list[float] | None) -> float | None:
    """A spot price given per period stands for its lowest in GPUKinds (offered or not, the cost
    scale); each period's own is in Period.caps."""
    return min(price) if isinstance(price, list) else price


@dataclass(frozen=True)
class Availability:
    """Per-period caps and prices of one GPU type in one period (None: none of its own): its cards
    of every kind, its spot cards, its on-demand cards, its spot price per card-hour."""

    gpu: str
    max_cards: int | None = None
    spot_max_cards: int | None = None
    on_demand_max_cards: int | None = None
    spot_price: float | None = None


def period_availability(res: Resolved, index: int) -> tuple[Availability, ...]:
    """The per-period caps of every GPU type that has one, in period `index` of the profile."""
    out = []
    for o, ch in zip(res.gpus, res.problem.gpus):
        cap = ch.max_cards_per_period[index] if ch.max_cards_per_period is not None else None
        spot = ch.spot_max_cards_per_period[index] if ch.spot_max_cards_per_period is not None else None
        od = ch.on_demand_max_cards_per_period[index] if ch.on_demand_max_cards_per_period is not None else None
        price = ch.spot_price_per_gpu_hour[index] if isinstance(ch.spot_price_per_gpu_hour, list) else None
        if cap is not None or spot is not None or od is not None or price is not None:
            out.append(Availability(o.id, max_cards=cap, spot_max_cards=spot, on_demand_max_cards=od,
                                    spot_price=price))
    return tuple(out)


def spot_price_in(k: GPUKinds, caps: tuple[Availability, ...]) -> float:
    """Spot price per card-hour of GPU type k in a period with these caps (0 when not offered)."""
    own = next((c.spot_price for c in caps if c.gpu == k.id and c.spot_price is not None), None)
    return own if own is not None else (k.spot_price or 0.0)


@dataclass(frozen=True)
class Nodes:
    """Whole nodes of one GPU type in one period, by kind."""

    reserved: int = 0
    owned: int = 0
    on_demand: int = 0
    spot: int = 0
    idle: int = 0   # of the reserved and owned ones: held (and paid) but out of service this period

    @property
    def total(self) -> int:   # held in the period, in service or not (paid)
        return self.reserved + self.owned + self.on_demand + self.spot

    @property
    def in_service(self) -> int:   # what the period runs, and what its own cap holds
        return self.total - self.idle

    def cost_per_hour(self, k: GPUKinds, spot_price: float | None = None) -> float:
        """N_g·(reserved·r_g + owned·o_g + on_demand·price_g + spot·s_g) per hour (s_g: the period's
        `spot_price` when given)."""
        s = (k.spot_price or 0.0) if spot_price is None else spot_price
        return k.node_cards * (self.reserved * (k.reserved_price or 0.0) + self.owned * k.opt.owned_cost_per_card_hour
                               + self.on_demand * k.opt.price_per_card_hour + self.spot * s)


@dataclass(frozen=True)
class Load:
    """One service's demand in a period: its key (a fleet's class; '' for a single problem), the
    candidate group it draws from (HorizonModel.sets) and its demand rows' right-hand sides."""

    key: str
    group: int
    demand: milp.Demand


@dataclass(frozen=True)
class Period:
    """One period of the horizon: its QPS, length and demand rows' right-hand sides."""

    index: int
    qps: float
    hours: float
    demand: milp.Demand
    caps: tuple[Availability, ...] = ()   # this period's own caps (gpus[].max_cards_per_period, ...)
    group: int = 0                        # its lengths' candidate set (HorizonModel.sets)
    loads: tuple[Load, ...] = ()          # a fleet's classes (each its own group and demand)
    excluded: tuple[tuple[tuple[tuple[str, Candidate], int], ...], ...] = ()   # its plans that failed
    # verification, as ((load key, candidate), instances) pairs: excluded from its rows (`cuts.exclude`)

    def all_loads(self) -> tuple[Load, ...]:
        """The period's demands: a fleet's classes, or the one of a single problem."""
        return self.loads or (Load("", self.group, self.demand),)


@dataclass
class HorizonModel:
    """A built PuLP problem with handles to its variables (mutable only while solving)."""

    prob: pulp.LpProblem
    candidates: tuple[Candidate, ...]
    periods: tuple[Period, ...]
    kinds: tuple[GPUKinds, ...]
    x: dict[tuple[int, int], pulp.LpVariable] = field(default_factory=dict)
    reserved: dict[str, pulp.LpVariable | int] = field(default_factory=dict)
    owned: dict[str, pulp.LpVariable | int] = field(default_factory=dict)
    on_demand: dict[tuple[str, int], pulp.LpVariable] = field(default_factory=dict)
    spot: dict[tuple[str, int], pulp.LpVariable | int] = field(default_factory=dict)
    idle: dict[tuple[str, int], pulp.LpVariable | int] = field(default_factory=dict)   # reserved/owned out of service
    cost: pulp.LpAffineExpression | None = None      # the horizon's cost (currency)
    sets: tuple[tuple[int, ...], ...] = ()           # candidate indices of each length group (() = all)
    starts: dict[tuple[Shape, int], pulp.LpVariable] = field(default_factory=dict)   # instances started
    start_cost: dict[Shape, float] = field(default_factory=dict)   # currency per instance start, by shape
    spot_count: dict[tuple[str, int], list[pulp.LpVariable]] = field(default_factory=dict)   # λ_j: j spot nodes
    power_kw: float | None = None                    # limits.power: nodes in service draw at most this

    def of_period(self, p: int) -> list[tuple[int, Candidate]]:
        """(index, candidate) of the candidates period p may use: its loads' groups'."""
        if not self.sets:
            return list(enumerate(self.candidates))
        return [(i, self.candidates[i]) for ld in self.periods[p].all_loads() for i in self.sets[ld.group]]

    def of_load(self, ld: Load) -> list[tuple[int, Candidate]]:
        """(index, candidate) of one load's group."""
        idx = self.sets[ld.group] if self.sets else range(len(self.candidates))
        return [(i, self.candidates[i]) for i in idx]

    def nodes(self, g: str, p: int):
        """res[g] + own[g] + od[g,p] + spot[g,p]."""
        return self.reserved[g] + self.owned[g] + self.on_demand[(g, p)] + self.spot[(g, p)]

    def nodes_up(self, k: GPUKinds, p: int):
        """Nodes expected up: res + own − idle + od + (1 − r_g)·spot, r_g the spot interruption share."""
        return (self.reserved[k.id] + self.owned[k.id] - self.idle[(k.id, p)] + self.on_demand[(k.id, p)]
                + (1.0 - k.spot_interruption) * self.spot[(k.id, p)])

    def cost_per_hour(self, p: int):
        return pulp.lpSum(k.node_cards * (k.opt.price_per_card_hour * self.on_demand[(k.id, p)]
                                          + spot_price_in(k, self.periods[p].caps) * self.spot[(k.id, p)]
                                          + (k.reserved_price or 0.0) * self.reserved[k.id]
                                          + k.opt.owned_cost_per_card_hour * self.owned[k.id])
                          for k in self.kinds)


def check_limits(problem: Problem, source: str) -> None:
    """Limits the horizon plan does not model yet are refused, never silently ignored."""
    for key in ("max_gpu_types", "max_pool_shapes"):
        if getattr(problem.limits, key) is not None:
            raise BadInput(f"{source}: limits.{key}: not supported with workload.profile yet; "
                           f"remove it or plan a single QPS")


def build(name: str, kinds: tuple[GPUKinds, ...], limits: Limits, cands: tuple[Candidate, ...],
          periods: tuple[Period, ...], redundancy: str = "none",
          sets: tuple[tuple[int, ...], ...] = (), start_cost: dict[Shape, float] | None = None,
          spot_confidence: float | None = None) -> HorizonModel:
    """The whole formulation (module docstring); each family is one function below. `sets`: the
    candidates of each length group (periods with their own lengths have their own candidates,
    `Period.group`); empty: every period uses every candidate. `start_cost`: what starting an
    instance of each shape costs (serving.instance_start), which couples consecutive periods.
    `spot_confidence` (a fraction): spot capacity at that quantile of interruptions, not expected."""
    m = HorizonModel(pulp.LpProblem((name.replace(" ", "_") or "plan") + "_horizon", pulp.LpMinimize),
                     tuple(cands), tuple(periods), tuple(kinds), sets=tuple(sets),
                     start_cost=dict(start_cost or {}),
                     power_kw=None if limits.power is None else limits.power / 1e3)
    node_cards = {k.id: k.node_cards for k in kinds}
    add_variables(m, milp.Demand(*largest_node_loss(cands, node_cards)) if redundancy == "node" else None)
    for per in m.periods:
        add_demand(m, per, "prefill")
        add_demand(m, per, "decode")
        if redundancy != "none":
            add_redundancy(m, per, redundancy, node_cards)
        add_node_cover(m, per.index, spot_confidence)
        add_spot_share(m, per.index)
        add_period_caps(m, limits, per.index)
        if per.excluded:
            for k, pt in enumerate(per.excluded):   # over the loads it names: a fleet's failing class
                keys = {key for (key, _), _ in pt}
                exclude(m.prob, {(ld.key, c): m.x[(i, per.index)] for ld in per.all_loads() if ld.key in keys
                                 for i, c in m.of_load(ld)}, [dict(pt)], f"_{per.index}_{k}")
    if m.start_cost:
        add_starts(m)
    set_objective(m)
    return m


def running(m: HorizonModel, k: Shape, p: int) -> pulp.LpAffineExpression:
    """Instances of shape k in period p: Σ x[c,p] over its candidates."""
    return pulp.LpAffineExpression([(m.x[(i, p)], 1) for i, c in m.of_period(p) if shape_of(c) == k])


def add_starts(m: HorizonModel) -> None:
    """s[k,p] ≥ n[k,p] − n[k,p−1], s ≥ 0: instances of shape k started in period p, the horizon
    taken as cyclic (period 0 follows the last: a day's profile repeats). Each start costs
    start_cost[k] in the objective."""
    n = len(m.periods)
    for k in m.start_cost:
        for p in range(n):
            s = pulp.LpVariable(f"start_{len(m.starts)}", lowBound=0)
            m.starts[(k, p)] = s
            m.prob += s >= running(m, k, p) - running(m, k, (p - 1) % n), f"starts_{len(m.starts)}"


def add_variables(m: HorizonModel, spare: milp.Demand | None = None) -> None:
    """x[c,p] ≤ ⌈demand_p / capacity_c⌉ + 1 (0 when the period has no demand; with `spare`, the
    largest node loss, added to the demand: milp.upper_bound); with starts priced, the largest of
    these over the periods (keeping an idle instance through a trough may be cheaper than a
    restart); nodes per kind, a kind without a price fixed at 0; idle[g,p] ≤ res[g] + own[g] where
    period p caps g (`max_cards_per_period`) or a power limit holds: a node held all horizon need
    not run in an hour capped below it (an owned node beside an hour capped at 0 was kept by no
    plan: 36.5 % dearer a day; under a power limit a day kept 4 of 6 owned L40S nodes and rented a
    fifth at the trough rather than idle one at the peak, where a card more efficient per watt runs:
    47.6 % dearer than its own per-period plans)."""
    def bound(c: Candidate, d: milp.Demand) -> int:
        return milp.upper_bound(c, d, spare) if d.prefill_tok_s > 0 or d.decode_tok_s > 0 else 0

    top: dict[int, int] = {}   # with starts priced an idle instance may be kept: the largest bound
    if m.start_cost:
        for per in m.periods:
            for ld in per.all_loads():
                for i, c in m.of_load(ld):
                    top[i] = max(top.get(i, 0), bound(c, ld.demand))
    for p, per in enumerate(m.periods):
        for ld in per.all_loads():
            for i, c in m.of_load(ld):
                ub = top[i] if m.start_cost else bound(c, ld.demand)
                m.x[(i, p)] = pulp.LpVariable(f"x_{i}_{p}", lowBound=0, upBound=ub, cat="Integer")
    for k in m.kinds:
        g = k.id
        m.reserved[g] = (pulp.LpVariable(f"res_{g}", lowBound=0, cat="Integer")
                         if k.reserved_price is not None else 0)
        m.owned[g] = (pulp.LpVariable(f"own_{g}", lowBound=0, upBound=k.opt.owned_nodes, cat="Integer")
                      if k.opt.owned_nodes else 0)
        for p in range(len(m.periods)):
            m.on_demand[(g, p)] = pulp.LpVariable(f"od_{g}_{p}", lowBound=0, cat="Integer")
            m.spot[(g, p)] = (pulp.LpVariable(f"spot_{g}_{p}", lowBound=0, cat="Integer")
                              if k.spot_price is not None and k.spot_share > 0 else 0)
            m.idle[(g, p)] = 0
            if (held := [v for v in (m.reserved[g], m.owned[g]) if isinstance(v, pulp.LpVariable)]) and \
                    (m.power_kw is not None or any(c.gpu == g and c.max_cards is not None for c in m.periods[p].caps)):
                m.idle[(g, p)] = v = pulp.LpVariable(f"idle_{g}_{p}", lowBound=0, cat="Integer")
                m.prob += v <= pulp.lpSum(held), f"idle_{g}_{p}"


def add_demand(m: HorizonModel, per: Period, kind: str) -> None:
    """Σ_c x[c,p]·{kind}_tok_s[c] / demand_p ≥ 1 (normalised as in the single-QPS MILP), per load
    (a fleet's class draws on its own candidates)."""
    for j, ld in enumerate(per.all_loads()):
        need = getattr(ld.demand, f"{kind}_tok_s")
        if need <= 0:
            continue
        terms = [(m.x[(i, per.index)], milp.demand_coef(cap, need)) for i, c in m.of_load(ld)
                 if (cap := getattr(c, f"{kind}_tok_s")) > 0]
        who = f" for {ld.key}" if ld.key else ""
        if not terms:
            raise BadInput(f"no candidate can {kind}{who}: the {kind} demand row of period {per.index} would be empty")
        # the load's position first: PuLP writes '-' as '_', and classes 'a_b' and 'a-b' made one name (exit 5)
        m.prob += pulp.LpAffineExpression(terms) >= 1, f"{kind}_demand_{j}{'_' + ld.key if ld.key else ''}_{per.index}"


def add_redundancy(m: HorizonModel, per: Period, redundancy: str, node_cards: dict[str, int]) -> None:
    """The single-QPS redundancy rows (milp.add_redundancy) in period p: for each role and used
    candidate c, Σ x[·,p]·cap/demand_p − u[c,p]·loss_c/demand_p ≥ 1, x[c,p] ≤ ub·u[c,p], the loss
    of one instance (n_plus_1) or one node (node) as `redundancy.unit_loss_of`."""
    p = per.index
    u: dict[int, pulp.LpVariable] = {}
    for kind in ("prefill", "decode"):
        need = getattr(per.demand, f"{kind}_tok_s")   # a single problem's: fleets refuse redundancy
        if need <= 0:
            continue
        coef = {i: milp.demand_coef(cap, need) for i, c in m.of_period(p)
                if (cap := getattr(c, f"{kind}_tok_s")) > 0}
        total = pulp.LpVariable(f"capacity_{kind}_{p}", lowBound=0)   # sparse rows (milp.add_redundancy)
        m.prob += total == pulp.LpAffineExpression([(m.x[(i, p)], a) for i, a in coef.items()]), f"capacity_{kind}_{p}"
        for i in coef:
            c = m.candidates[i]
            if i not in u:
                u[i] = pulp.LpVariable(f"used_{i}_{p}", cat="Binary")
                m.prob += m.x[(i, p)] <= m.x[(i, p)].upBound * u[i], f"used_{i}_{p}"
            lost = unit_loss_of(c, getattr(c, f"{kind}_tok_s"), redundancy, node_cards[c.gpu])
            m.prob += total - milp.demand_coef(lost, need) * u[i] >= 1, f"redundancy_{kind}_{i}_{p}"


def add_node_cover(m: HorizonModel, p: int, spot_confidence: float | None = None) -> None:
    """Σ_{c on g} x[c,p]·cards_c ≤ N_g·(res[g] + own[g] + od[g,p] + (1 − r_g)·spot[g,p]): the spot
    nodes interrupted at any time (share r_g) are not counted as capacity. With a confidence c the
    spot term is the nodes up when as many are down as at the c-quantile of Binomial(spot, r_g):
    spot = Σ_j j·λ_j, Σ_j λ_j = 1, λ binary, up = Σ_j up_c(j)·λ_j (spot.up_at), j up to the nodes
    that hold every card the period's candidates could use (spot.nodes_for)."""
    for k in m.kinds:
        cards = pulp.LpAffineExpression([(m.x[(i, p)], c.cards) for i, c in m.of_period(p) if c.gpu == k.id])
        s = m.spot[(k.id, p)]
        if spot_confidence is None or k.spot_interruption <= 0 or not isinstance(s, pulp.LpVariable):
            m.prob += cards <= k.node_cards * m.nodes_up(k, p), f"node_cover_{k.id}_{p}"
            continue
        most = sum((m.x[(i, p)].upBound or 0) * c.cards for i, c in m.of_period(p) if c.gpu == k.id)
        top = spot.nodes_for(-(-int(most) // k.node_cards), k.spot_interruption, spot_confidence)
        lam = [pulp.LpVariable(f"spot_{k.id}_{p}_{j}", cat="Binary") for j in range(top + 1)]
        m.spot_count[(k.id, p)] = lam
        m.prob += pulp.lpSum(lam) == 1, f"spot_count_{k.id}_{p}"
        m.prob += s == pulp.lpSum(j * v for j, v in enumerate(lam)), f"spot_nodes_{k.id}_{p}"
        up = pulp.lpSum(spot.up_at(j, k.spot_interruption, spot_confidence) * v for j, v in enumerate(lam))
        m.prob += cards <= k.node_cards * (m.reserved[k.id] + m.owned[k.id] - m.idle[(k.id, p)]
                                           + m.on_demand[(k.id, p)] + up), f"node_cover_{k.id}_{p}"


def add_spot_share(m: HorizonModel, p: int) -> None:
    """spot[g,p] ≤ s_g·(all nodes of g in p), written (1 − s_g)·spot ≤ s_g·(res + own + od)."""
    for k in m.kinds:
        if isinstance(m.spot[(k.id, p)], pulp.LpVariable) and k.spot_share < 1:
            s = k.spot_share
            m.prob += ((1 - s) * m.spot[(k.id, p)] <= s * (m.reserved[k.id] + m.owned[k.id] + m.on_demand[(k.id, p)]),
                       f"spot_share_{k.id}_{p}")


def add_period_caps(m: HorizonModel, limits: Limits, p: int) -> None:
    """Availability N_g·nodes ≤ max_cards_g and the period's own caps (all kinds in service, and
    spot alone, on demand alone), power and budget per hour, in period p."""
    for k in m.kinds:
        if k.opt.max_cards is not None:
            m.prob += k.node_cards * m.nodes(k.id, p) <= k.opt.max_cards, f"availability_{k.id}_{p}"
    kinds = {k.id: k for k in m.kinds}
    for cap in m.periods[p].caps:
        k = kinds[cap.gpu]
        if cap.max_cards is not None:
            m.prob += (k.node_cards * (m.nodes(k.id, p) - m.idle[(k.id, p)]) <= cap.max_cards,
                       f"availability_period_{k.id}_{p}")   # nodes in service
        if cap.spot_max_cards is not None and isinstance(m.spot[(k.id, p)], pulp.LpVariable):
            m.prob += k.node_cards * m.spot[(k.id, p)] <= cap.spot_max_cards, f"spot_availability_{k.id}_{p}"
        if cap.on_demand_max_cards is not None:
            m.prob += (k.node_cards * m.on_demand[(k.id, p)] <= cap.on_demand_max_cards,
                       f"on_demand_availability_{k.id}_{p}")
    if limits.power is not None:   # nodes in service: an idle one draws none (as verified and compared)
        m.prob += (pulp.lpSum(k.node_cards * k.opt.gpu.power_w / 1e3 * (m.nodes(k.id, p) - m.idle[(k.id, p)])
                              for k in m.kinds) <= limits.power / 1e3), f"power_cap_{p}"
    if limits.budget_per_hour is not None:
        m.prob += m.cost_per_hour(p) <= limits.budget_per_hour, f"budget_cap_{p}"


def set_objective(m: HorizonModel) -> None:
    """minimise the horizon's cost ÷ c_ref + ε·Σ (nodes + idle) + ε'·Σ cards in use, over periods;
    c_ref the cheapest node-period (the single-QPS MILP's scaling and tie-break: fewest nodes among
    equal costs, then fewest cards in instances, so a period's utilisation is not padded)."""
    hours = sum(per.hours for per in m.periods)
    m.cost = pulp.lpSum(
        per.hours * k.node_cards * (k.opt.price_per_card_hour * m.on_demand[(k.id, per.index)]
                                    + spot_price_in(k, per.caps) * m.spot[(k.id, per.index)])
        for per in m.periods for k in m.kinds) + hours * pulp.lpSum(
        k.node_cards * ((k.reserved_price or 0.0) * m.reserved[k.id] + k.opt.owned_cost_per_card_hour * m.owned[k.id])
        for k in m.kinds) + pulp.lpSum(m.start_cost[k] * s for (k, _), s in m.starts.items())
    prices = [k.node_cards * v for k in m.kinds for v in (k.opt.price_per_card_hour, k.reserved_price, k.spot_price,
                                                          k.opt.owned_cost_per_card_hour) if v]
    nodes = pulp.lpSum(m.nodes(k.id, per.index) for per in m.periods for k in m.kinds)
    if not prices:
        m.prob += nodes
        return
    ref = min(prices) * min(per.hours for per in m.periods)
    cards = pulp.LpAffineExpression([(v, m.candidates[i].cards) for (i, _), v in m.x.items()])
    m.prob += (1.0 / ref) * m.cost + milp.NODE_TIE_BREAK * (nodes + pulp.lpSum(m.idle.values())) \
        + CARD_TIE_BREAK * cards   # held nodes idle only where a period's cap takes them out


"""The MILP over candidates: how many instances of each, how many whole nodes of each GPU type.

Glossary: `c` a candidate, `x[c]` its instance count (integer), `g` a GPU type, `rent[g]`/`own[g]` rented and
owned whole nodes of g, `N_g` cards per node. Demand rows are normalised to 1 so coefficients stay O(1) whatever
the QPS. `build()` is the formulation's table of contents; `solve()` (planner.plan.solver, re-exported here)
runs a solver on a built model; neither mutates its inputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from planner.errors import BadInput
from planner.input.problem import Limits
from planner.plan.candidates import Candidate
from planner.plan.lp import pulp
from planner.plan.redundancy import largest_node_loss, unit_loss_of
from planner.plan.resolve import GPUOption, Resolved
from planner.plan.solver import SolverReport as SolverReport
from planner.plan.solver import SolverStatus as SolverStatus
from planner.plan.solver import quiet_stdout as quiet_stdout
from planner.plan.solver import solve as solve


@dataclass(frozen=True)
class Demand:
    """What the fleet must serve: uncached prefill tokens/s and output tokens/s."""

    prefill_tok_s: float
    decode_tok_s: float


@dataclass(frozen=True)
class Service:
    """Demand served by its own pools: one problem, or a group of request classes of one model
    sharing pools (a fleet). `key` names its rows ('' for a single problem)."""

    key: str
    candidates: tuple[Candidate, ...]
    demand: Demand
    classes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Shared:
    """What all services of one MILP share: GPU types (prices, caps, owned nodes) and fleet limits."""

    name: str
    gpus: tuple[GPUOption, ...]
    limits: Limits
    redundancy: str = "none"   # serving.redundancy: 'none', 'n_plus_1' or 'node'

    @classmethod
    def of(cls, res: Resolved) -> Shared:
        return cls(res.problem.name, res.gpus, res.problem.limits, res.problem.serving.redundancy)


@dataclass
class Model:
    """A built PuLP problem with handles to its variables (mutable only while solving).

    `candidates` is the flat list over all services; `service_of[i]` is candidate i's service.
    `use[s]` is 1 for a service that must be served, or a binary when classes may be served by
    one of several services (pool sharing in a fleet).
    """

    prob: pulp.LpProblem
    x: dict[int, pulp.LpVariable]
    rent: dict[str, pulp.LpVariable]
    own: dict[str, pulp.LpVariable]
    candidates: tuple[Candidate, ...]
    services: tuple[Service, ...] = ()
    service_of: tuple[int, ...] = ()
    use: dict[int, pulp.LpVariable | float] = field(default_factory=dict)
    rows: dict[str, pulp.LpConstraint] = field(default_factory=dict)  # display name → row
    family: dict[str, str] = field(default_factory=dict)              # display name → row family
    cost: pulp.LpAffineExpression | None = None                       # cost per hour (currency/h)
    redundancy: str = "none"                                          # serving.redundancy of its rows

    def add(self, constraint: pulp.LpConstraint, family: str, key: str = "") -> None:
        """Add a row of `family` (e.g. 'node_cover') for `key` (e.g. 'h200'); it is kept under its
        display name `row(family, key)` (PuLP rewrites '[' and '-') and its family recorded, so
        that diagnosis selects rows by family, never by parsing names."""
        name, lp = row(family, key), row(family, key).translate(pulp.LpAffineExpression.trans)
        # PuLP writes '-', '[', ']' … as '_' and refuses a name twice (classes 'a_b' and 'a-b': exit 5)
        self.prob += constraint, lp if lp not in self.prob.constraints else f"{lp}{len(self.rows)}"
        self.rows[name], self.family[name] = constraint, family

    def rows_of(self, families: tuple[str, ...]) -> list[str]:
        """Display names of the rows of the given families, in the order they were added."""
        return [n for n in self.rows if self.family[n] in families]

    def of_service(self, s: int) -> list[tuple[int, Candidate]]:
        return [(i, c) for i, c in enumerate(self.candidates) if self.service_of[i] == s]


def row(family: str, key: str = "") -> str:
    """One naming helper for every row: 'decode_demand', 'node_cover[h200]'."""
    return f"{family}[{key}]" if key else family


def demand_of(res: Resolved) -> Demand:
    """Prefill demand = QPS·uncached input tokens; decode demand = QPS·output tokens after the first
    (E[L − 1]: the first comes from the prompt's pass) ÷ the decode utilisation ceiling u_d
    (capacity ≥ demand/u_d keeps every decode pool at most u_d busy)."""
    u_d = res.problem.serving.max_decode_utilization_percent / 100.0
    return Demand(res.qps * res.uncached_mean, res.qps * res.decode_mean / u_d)


# --------------------------------------------------------------------------------- build
def build(res: Resolved, cands: tuple[Candidate, ...], demand: Demand | None = None,
          extra_rows=(), served: pulp.LpVariable | float = 1.0) -> Model:
    """The formulation of a single problem: one service that must be served."""
    return build_fleet(Shared.of(res), [Service("", tuple(cands), demand or demand_of(res))],
                       extra_rows=extra_rows, served=served)


def build_fleet(shared: Shared, services: list[Service], extra_rows=(),
                served: pulp.LpVariable | float = 1.0, floor_rows: bool = False) -> Model:
    """The whole formulation; each family is one function below.

    `served` is the fraction of demand to meet: 1, or a variable when diagnosing infeasibility.
    `extra_rows` are (name, function of the model → constraint) pairs, e.g. a sweep's ε-row.
    `floor_rows` adds the valid 'at least one instance' rows (faster proofs on fleets).
    """
    flat = [(s, c) for s, sv in enumerate(services) for c in sv.candidates]
    m = Model(pulp.LpProblem(shared.name.replace(" ", "_") or "plan", pulp.LpMinimize),
              {}, {}, {}, tuple(c for _, c in flat), tuple(services), tuple(s for s, _ in flat),
              redundancy=shared.redundancy)
    add_instance_variables(m, shared)
    add_service_choice(m)
    add_node_variables(m, shared)
    for s in range(len(services)):
        target = _target(m, s, served)
        add_demand(m, s, "prefill", target)
        add_demand(m, s, "decode", target)
        if shared.redundancy != "none":
            add_redundancy(m, s, target, unit_loss(shared))
        if floor_rows and isinstance(served, float):
            add_instance_floor(m, s)
    add_node_cover(m, shared)
    add_availability_caps(m, shared)
    add_power_cap(m, shared)
    set_objective(m, shared)
    add_budget_cap(m, shared)
    add_gpu_type_limit(m, shared)
    add_pool_shape_limit(m, shared)
    for name, fn in extra_rows:
        m.add(fn(m), name)
    return m


MAX_INSTANCES = 10**6   # of one candidate in one plan: no fleet runs more (a bound, not a cost)


def upper_bound(c: Candidate, d: Demand, spare: Demand | None = None) -> int:
    """No optimal plan needs more instances of one candidate than it takes to meet demand alone,
    plus one. With `spare` (per role, the most a redundancy rule can take away: the largest node
    loss), demand + spare: beyond that one instance fewer still survives any loss. At most
    MAX_INSTANCES (an underflowing capacity, e.g. at 10^-308 % utilisation, needs infinitely many;
    a plan file holds at most that many of one pool, `studies.simulate.planfile`)."""
    need = []
    sp = spare or Demand(0.0, 0.0)
    if c.prefill_tok_s > 0 and d.prefill_tok_s > 0:
        need.append((d.prefill_tok_s + sp.prefill_tok_s) / c.prefill_tok_s)
    if c.decode_tok_s > 0 and d.decode_tok_s > 0:
        need.append((d.decode_tok_s + sp.decode_tok_s) / c.decode_tok_s)
    return min(int(math.ceil(min(max(need, default=0.0), MAX_INSTANCES))) + 1, MAX_INSTANCES)


def add_instance_variables(m: Model, shared: Shared) -> None:
    """x[c] ∈ ℤ, 0 ≤ x[c] ≤ ⌈demand / capacity_c⌉ + 1 (`upper_bound`; with node redundancy the
    demand plus the largest node loss of the service)."""
    node_cards = {o.id: o.gpu.node_cards for o in shared.gpus}
    spare = {s: Demand(*largest_node_loss(sv.candidates, node_cards)) for s, sv in enumerate(m.services)} \
        if m.redundancy == "node" else {}
    for i, c in enumerate(m.candidates):
        s = m.service_of[i]
        m.x[i] = pulp.LpVariable(f"x_{i}", lowBound=0, upBound=upper_bound(c, m.services[s].demand, spare.get(s)),
                                 cat="Integer")


def add_service_choice(m: Model) -> None:
    """Classes listed by several services are served by exactly one of them:
    use[s] ∈ {0,1}, Σ_{s ∋ k} use[s] = 1 per class k.

    Instances of an unused service are not forbidden (rows x ≤ ub·use doubled the solve time
    without tightening the relaxation): they serve nothing, and `selection` drops them."""
    owners: dict[str, list[int]] = {}
    for s, sv in enumerate(m.services):
        for k in sv.classes:
            owners.setdefault(k, []).append(s)
    shared = {s for ss in owners.values() if len(ss) > 1 for s in ss}
    for s in range(len(m.services)):
        m.use[s] = pulp.LpVariable(f"use_{s}", cat="Binary") if s in shared else 1.0
    for k, ss in owners.items():
        if len(ss) > 1:
            m.add(pulp.lpSum(m.use[s] for s in ss) == 1, "assign", k)


def add_node_variables(m: Model, shared: Shared) -> None:
    """rent[g] ∈ ℤ≥0 and own[g] ∈ {0 … owned_nodes_g}: whole nodes of each GPU type."""
    for opt in shared.gpus:
        m.rent[opt.id] = pulp.LpVariable(f"rent_{opt.id}", lowBound=0, cat="Integer")
        m.own[opt.id] = pulp.LpVariable(f"own_{opt.id}", lowBound=0, upBound=opt.owned_nodes,
                                        cat="Integer")


def _target(m: Model, s: int, served):
    """Right-hand side of a demand row: use[s] (fleet) times the served fraction (diagnosis)."""
    u = m.use[s]
    if isinstance(u, float):
        return served
    if isinstance(served, float):
        return u * served
    # diagnosis with a choice of services: y_s ≤ use[s], y_s ≤ served, y_s ≥ served − (1 − use[s])
    y = pulp.LpVariable(f"served_{s}", lowBound=0, upBound=1)
    m.prob += y <= u
    m.prob += y <= served
    m.prob += y >= served - (1 - u)
    return y


DEMAND_COEF_CAP = 1e6   # HiGHS refuses coefficients above 1e15 (QPS 1e-12 gave 1e16 and a crash inside PuLP)


def demand_coef(capacity: float, need: float) -> float:
    """capacity/need (need > 0) clipped at DEMAND_COEF_CAP: x is whole and a row's target ≤ 1, so the same x meet it."""
    return min(capacity / need, DEMAND_COEF_CAP)


def add_demand(m: Model, s: int, kind: str, target) -> None:
    """Σ_{c of s} x[c]·{kind}_tok_s[c] / demand_s ≥ target (use[s], or use[s]·served when
    diagnosing), kind 'prefill' (capacity derated by ρ_max for TTFT) or 'decode' (at the
    largest batch meeting TPOT and memory); rows 'prefill_demand[s]', 'decode_demand[s]'."""
    sv = m.services[s]
    need = getattr(sv.demand, f"{kind}_tok_s")
    if need <= 0:
        return
    terms = [(m.x[i], demand_coef(cap, need)) for i, c in m.of_service(s)
             if (cap := getattr(c, f"{kind}_tok_s")) > 0]
    if not terms:
        if isinstance(m.use[s], float):
            raise BadInput(f"no candidate can {kind}" + (f" for {sv.key}" if sv.key else "")
                           + f": the {kind} demand row would be empty")
        m.use[s].upBound = 0   # an optional group of classes that cannot be served together
        return
    m.add(pulp.LpAffineExpression(terms) >= target, f"{kind}_demand", sv.key)


def unit_loss(shared: Shared):
    """The capacity lost with one unit under `shared.redundancy`, as a function (candidate,
    capacity of the role) → tokens/s (`redundancy.unit_loss_of`)."""
    node_cards = {o.id: o.gpu.node_cards for o in shared.gpus}
    return lambda c, cap: unit_loss_of(c, cap, shared.redundancy, node_cards[c.gpu])


def add_redundancy(m: Model, s: int, target, loss) -> None:
    """N+1 / node loss: for each role k and candidate c with cap_k[c] > 0,
    Σ_{c'} x[c']·cap_k[c']/demand_k − u[c]·loss_k[c]/demand_k ≥ target, with u[c] ∈ {0,1},
    x[c] ≤ ub(x[c])·u[c] ('c is used', shared by both roles): the capacity left after losing the
    largest unit (an instance, or a node: `unit_loss_of`) that runs a used candidate still meets
    the demand row (decode: demand ÷ u_d, as in `add_demand`). Rows 'redundancy[s:k:c]';
    coefficients clipped as in `add_demand` (`demand_coef`)."""
    sv = m.services[s]
    u: dict[int, pulp.LpVariable] = {}
    for kind in ("prefill", "decode"):
        need = getattr(sv.demand, f"{kind}_tok_s")
        if need <= 0:
            continue
        coef = {i: demand_coef(cap, need) for i, c in m.of_service(s)
                if (cap := getattr(c, f"{kind}_tok_s")) > 0}
        # the role's normalised capacity once, as a variable: each row below then has 2 entries,
        # not one per candidate (a dense block of rows × candidates slows every LP of the search)
        total = pulp.LpVariable(f"capacity_{kind}_{s}", lowBound=0)
        m.prob += total == pulp.LpAffineExpression([(m.x[i], a) for i, a in coef.items()]), f"capacity_{kind}_{s}"
        for i in coef:
            if i not in u:
                u[i] = pulp.LpVariable(f"used_{i}", cat="Binary")
                m.prob += m.x[i] <= m.x[i].upBound * u[i]
            c = m.candidates[i]
            lost = demand_coef(loss(c, getattr(c, f"{kind}_tok_s")), need)
            key = (f"{sv.key}:" if sv.key else "") + f"{kind}:{c.name}"
            if row("redundancy", key) in m.rows:
                key += f"#{i}"
            m.add(total - lost * u[i] >= target, "redundancy", key)


def add_instance_floor(m: Model, s: int) -> None:
    """Σ_{c of s with prefill capacity} x[c] ≥ use[s], and the same for decode: a served demand
    needs at least one whole instance (a Chvátal–Gomory rounding of the demand row; it cuts off
    the relaxation's fractional instances of small classes and shortens the proof)."""
    sv = m.services[s]
    for attr, need in (("prefill_tok_s", sv.demand.prefill_tok_s), ("decode_tok_s", sv.demand.decode_tok_s)):
        xs = [m.x[i] for i, c in m.of_service(s) if getattr(c, attr) > 0]
        if need > 0 and xs:
            m.prob += pulp.lpSum(xs) >= m.use[s]


def _cards(m: Model, g: str) -> pulp.LpAffineExpression:
    return pulp.LpAffineExpression([(m.x[i], c.cards) for i, c in enumerate(m.candidates) if c.gpu == g])


def add_node_cover(m: Model, shared: Shared) -> None:
    """Σ_{c on g} x[c]·cards_c ≤ N_g·(rent[g] + own[g]): servers are rented whole."""
    for opt in shared.gpus:
        if any(c.gpu == opt.id for c in m.candidates):
            m.add(_cards(m, opt.id) <= opt.gpu.node_cards * (m.rent[opt.id] + m.own[opt.id]),
                  "node_cover", opt.id)


def add_availability_caps(m: Model, shared: Shared) -> None:
    """N_g·(rent[g] + own[g]) ≤ max_cards_g for capped GPU types."""
    for opt in shared.gpus:
        if opt.max_cards is not None:
            m.add(opt.gpu.node_cards * (m.rent[opt.id] + m.own[opt.id]) <= opt.max_cards,
                  "availability", opt.id)


def add_power_cap(m: Model, shared: Shared) -> None:
    """Σ_g N_g·W_g·(rent[g] + own[g]) ≤ power cap (card board power, kW scale)."""
    cap = shared.limits.power
    if cap is None:
        return
    expr = pulp.lpSum(opt.gpu.node_cards * opt.gpu.power_w / 1e3 * (m.rent[opt.id] + m.own[opt.id])
                      for opt in shared.gpus)
    m.add(expr <= cap / 1e3, "power_cap")


def add_gpu_type_limit(m: Model, shared: Shared) -> None:
    """Σ_g y[g] ≤ max_gpu_types, y[g] ∈ {0,1}, rent[g] + own[g] ≤ U_g·y[g]: a GPU type is used only
    if its indicator is on. U_g = ⌈Σ_{c on g} ub(x[c])·cards_c / N_g⌉ bounds the nodes any optimal
    plan takes of g (nodes beyond the cards placed only add cost or the tie-break); rows
    'gpu_type_used[g]' and 'gpu_types_cap'."""
    cap = shared.limits.max_gpu_types
    if cap is None:
        return
    ys = []
    for opt in shared.gpus:
        cards = sum(m.x[i].upBound * c.cards for i, c in enumerate(m.candidates) if c.gpu == opt.id)
        if cards == 0:
            continue
        y = pulp.LpVariable(f"gpu_type_{opt.id}", cat="Binary")
        bound = math.ceil(cards / opt.gpu.node_cards)
        m.add(m.rent[opt.id] + m.own[opt.id] <= bound * y, "gpu_type_used", opt.id)
        ys.append(y)
    if ys:
        m.add(pulp.lpSum(ys) <= cap, "gpu_types_cap")


def shape_of(m: Model, i: int) -> tuple[str, str, str, str]:
    """Candidate i's pool shape: (service key, role, GPU type, parallelism label)."""
    c = m.candidates[i]
    return (m.services[m.service_of[i]].key, c.role, c.gpu, c.par.label())


def add_pool_shape_limit(m: Model, shared: Shared) -> None:
    """Σ_k z[k] ≤ max_pool_shapes, z[k] ∈ {0,1}, Σ_{c of shape k} x[c] ≤ U_k·z[k] with
    U_k = Σ_{c of k} ub(x[c]): a shape (service, role, GPU type, parallelism; its candidates differ
    only in batch or chunk) has instances only if its indicator is on; rows 'pool_shape_used[k]'
    and 'pool_shapes_cap'."""
    cap = shared.limits.max_pool_shapes
    if cap is None:
        return
    members: dict[tuple[str, str, str, str], list[int]] = {}
    for i in range(len(m.candidates)):
        members.setdefault(shape_of(m, i), []).append(i)
    zs = []
    for j, (shape, idx) in enumerate(members.items()):
        z = pulp.LpVariable(f"pool_shape_{j}", cat="Binary")
        bound = sum(m.x[i].upBound for i in idx)
        key = (f"{shape[0]}:" if shape[0] else "") + "-".join(shape[1:])   # 'decode-h200-TP1·DP8'
        m.add(pulp.lpSum(m.x[i] for i in idx) <= bound * z, "pool_shape_used", key)
        zs.append(z)
    if zs:
        m.add(pulp.lpSum(zs) <= cap, "pool_shapes_cap")


def cost_expr(m: Model, shared: Shared, node_cap: float = math.inf, unit: float = 1.0) -> pulp.LpAffineExpression:
    """Cost per hour: Σ_g N_g·(price_g·rent[g] + owned_cost_g·own[g]); owned nodes are used first
    whenever they are cheaper, which the minimisation guarantees without binaries (convex). Each
    node's hourly cost at most `node_cap`, in units of `unit` (the budget row's)."""
    return pulp.lpSum(min(opt.gpu.node_cards * opt.price_per_card_hour, node_cap) / unit * m.rent[opt.id]
                      + min(opt.gpu.node_cards * opt.owned_cost_per_card_hour, node_cap) / unit * m.own[opt.id]
                      for opt in shared.gpus)


ACTIVE_TOL = 1e-6    # a variable below this (solver round-off of an integer 0) does not make its row active
NODE_TIE_BREAK = 1e-7  # per node, in units of the cheapest node's hourly cost: fewest nodes among equal costs


def set_objective(m: Model, shared: Shared) -> None:
    """minimise cost/h ÷ c_ref + ε·Σ_g (rent[g] + own[g]), c_ref = the cheapest node's cost per hour.

    Scaling by the cheapest node keeps every real cost difference of a node or more at ≥ 1 in
    the objective, far above the ε tie-break and the solver's tolerances, however dear another
    GPU type is (scaling by the dearest node let a prohibitively priced, unused type shrink real
    differences below them); the ε term picks the smallest fleet among equal costs. Nodes the
    chosen instances do not need are dropped after the solve (`solve.trim_nodes`).
    """
    m.cost = cost_expr(m, shared)
    prices = [o.gpu.node_cards * p for o in shared.gpus for p in (o.price_per_card_hour, o.owned_cost_per_card_hour)]
    ref = min([p for p in prices if p > 0], default=0.0)
    nodes = pulp.lpSum(m.rent[o.id] + m.own[o.id] for o in shared.gpus)
    if ref <= 0:  # every card is free: the only thing left to minimise is the fleet
        m.prob += nodes
        return
    m.prob += (1.0 / ref) * m.cost + NODE_TIE_BREAK * nodes


def add_budget_cap(m: Model, shared: Shared) -> None:
    """cost per hour ≤ budget. A node dearer than twice the budget enters with coefficient 2·budget:
    whole nodes then allow none of it either way (the integer plans are the same), and HiGHS refuses
    matrix coefficients above 10^15 (a price of 10^15 per card-hour crashed PuLP reading its answer).
    In units of the budget (coefficients in (0, 2]): at 10^-12 a node's HiGHS dropped as too small."""
    b = shared.limits.budget_per_hour
    if b is not None:
        m.add(cost_expr(m, shared, node_cap=2.0 * b, unit=b) <= 1.0, "budget_cap")


def selection(m: Model) -> dict[int, int]:
    """Chosen instance counts by candidate index (only those > 0, of services in use)."""
    out = {}
    for i, v in m.x.items():
        u = m.use.get(m.service_of[i], 1.0) if m.service_of else 1.0
        if not isinstance(u, float) and (u.varValue or 0) < 0.5:
            continue
        n = int(round(v.varValue or 0))
        if n > 0:
            out[i] = n
    return out


def nodes(m: Model) -> dict[str, tuple[int, int]]:
    """(rented, owned) nodes by GPU type."""
    return {g: (int(round(m.rent[g].varValue or 0)), int(round(m.own[g].varValue or 0))) for g in m.rent}


def binding_rows(m: Model, tol: float = 1e-6, skip: tuple[str, ...] = ()) -> list[str]:
    """Names of rows with (relative) zero slack at the solution, but empty ones (0 ≤ 0) and `skip`."""
    out = []
    for name, c in m.rows.items():
        if c.sense == pulp.LpConstraintEQ or name in skip:
            continue
        v = c.value()
        active = any(abs(var.varValue or 0) > ACTIVE_TOL for var in c.keys())
        if v is not None and active and abs(v) <= tol * max(1.0, abs(c.constant)):
            out.append(name)
    return out

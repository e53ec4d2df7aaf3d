"""The typed result of planning: a verified `Plan`, and the per-class cost attribution of fleets.

A single problem is a plan of one service (key ''); a fleet a plan of the services chosen for its
classes. `planner.report.json` writes the documented JSON from a Plan (the JSON contract);
`kind` says which of its two shapes ('plan' or 'fleet').
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from planner.input.fleet import FleetProblem
from planner.input.problem import Problem
from planner.plan.candidates import Candidate
from planner.plan.outcome import SolverReport, SolverStatus, mode_of
from planner.plan.resolve import Resolved
from planner.plan.services import Service, class_lengths
from planner.plan.verify import PoolState, Verification, fleet_cost_per_hour


@dataclass(frozen=True)
class Plan:
    """A verified plan: the services in use, their pools, the nodes rented and owned."""

    problem: Problem | FleetProblem
    services: tuple[Service, ...]                  # every service the MILP could choose
    chosen_by_service: dict[str, dict[Candidate, int]]
    nodes: dict[str, tuple[int, int]]              # GPU type → (rented, owned) nodes
    cost_per_hour: float
    pools: dict[str, tuple[PoolState, ...]]        # service key → verified pool states
    verification: Verification
    solver: SolverReport
    binding: tuple[str, ...]
    candidates: int
    candidates_before_pruning: int
    timings: dict[str, float] = field(default_factory=dict)
    cost_without_speculation: float | None = None   # the best plan with speculative decoding off (auto)
    dominated_gpus: dict[str, str] = field(default_factory=dict)   # GPU types left out before the MILP:
    # {type: the listed type that does as much at no higher price} (`plan.dominance`)
    cuts: tuple[int, int] = (0, 0)   # plans that failed verification and were excluded, and candidate
    # cuts after those (`planner.plan.cuts`): with any of the latter the optimum is over the candidates left

    @property
    def kind(self) -> str:
        """'fleet' for a problem with request classes, else 'plan'."""
        return "fleet" if isinstance(self.problem, FleetProblem) else "plan"

    @property
    def status(self) -> str:
        return "optimal" if self.solver.status == SolverStatus.optimal else "feasible"

    @property
    def resolved(self) -> Resolved:
        """The one workload of a single problem (fleets have one per service: `service(key).res`)."""
        if self.kind == "fleet":
            raise ValueError("a fleet plan has one resolution per service")
        return self.services[0].res

    @property
    def chosen(self) -> dict[Candidate, int]:
        """Instances of every pool of every service; services that chose equal candidates (classes
        of models with one architecture) have their instances added, not one count kept."""
        out: dict[Candidate, int] = {}
        for sel in self.chosen_by_service.values():
            for c, n in sel.items():
                out[c] = out.get(c, 0) + n
        return out

    @property
    def mode(self) -> str:
        """'disaggregated', 'colocated' or 'mixed', from the roles in use."""
        return mode_of({c.role for c in self.chosen})

    def service(self, key: str) -> Service:
        return next(s for s in self.services if s.key == key)

    def service_of_class(self) -> dict[str, str]:
        return {k: key for key in self.chosen_by_service for k in self.service(key).classes}

    def tokens_per_hour(self) -> tuple[float, float]:
        """(input, output) tokens served per hour at the target QPS (of every class of a fleet)."""
        if self.kind == "plan":
            r = self.resolved
            return r.qps * 3600 * r.input_mean, r.qps * 3600 * r.output_mean
        tin = tout = 0.0
        for k in self.problem.classes:
            s_in, _, s_out = class_lengths(k.workload)
            tin += k.workload.qps * 3600 * s_in
            tout += k.workload.qps * 3600 * s_out
        return tin, tout

    @property
    def cost_per_million_output_tokens(self) -> float:
        return self.cost_per_hour / (self.tokens_per_hour()[1] / 1e6)

    @property
    def cost_per_million_tokens(self) -> float:
        tin, tout = self.tokens_per_hour()
        return self.cost_per_hour / ((tin + tout) / 1e6)


def cost_difference(cost: float, base: float) -> float:
    """cost − base to a millionth of a currency unit, never −0: two plans of the same cost summed in
    different orders differ by a rounding error (1,888.5599999999997 against 1,888.56), which
    must read +0, not −0 (a what-if's change, a horizon plan's saving)."""
    return round(cost - base, 6) + 0.0


def class_shares(names: tuple[str, ...], f: FleetProblem) -> dict[str, tuple[float, float]]:
    """Per class (prefill share, decode share) of its service's load: q·s_uncached and q·(s_out − 1),
    the tokens decode steps generate."""
    by_name = {k.name: k for k in f.classes}
    pre, dec = {}, {}
    for n in names:
        k = by_name[n]
        _, s_unc, s_out = class_lengths(k.workload)
        pre[n], dec[n] = k.workload.qps * s_unc, k.workload.qps * max(s_out - 1.0, 0.0)
    sp, sd = sum(pre.values()), sum(dec.values())
    return {n: (pre[n] / sp if sp > 0 else 0.0, dec[n] / sd if sd > 0 else 0.0) for n in names}


def attribute_costs(plan: Plan) -> tuple[dict[str, float], list[float]]:
    """Cost per hour of every class, and of every pool (in the order of `plan.pools`).

    A GPU type's node cost (idle cards included) is spread over its pools by cards; a pool's cost
    over the classes it serves by their share of its busy time: π_k·u_prefill + δ_k·u_decode,
    with π_k, δ_k the class's shares of the service's uncached prompt and output tokens and u the
    pool's prefill and decode utilisation. The class costs add up to the fleet's cost."""
    f = plan.problem
    assert isinstance(f, FleetProblem)
    opts = {o.id: o for o in plan.services[0].res.gpus}
    used: Counter = Counter()
    for c, n in plan.chosen.items():
        used[c.gpu] += n * c.cards
    rate = {}
    for g, (rn, on) in plan.nodes.items():
        cost_g = fleet_cost_per_hour([opts[g]], {g: (rn, on)})
        rate[g] = cost_g / used[g] if used[g] else 0.0
    per_class: dict[str, float] = {k.name: 0.0 for k in f.classes}
    per_pool: list[float] = []
    for key, states in plan.pools.items():
        shares = class_shares(plan.service(key).classes, f)
        for st in states:
            c = st.candidate
            pool_cost = st.instances * c.cards * rate[c.gpu]
            per_pool.append(pool_cost)
            u_pre = st.prefill_load_tok_s / c.prefill_tok_s if c.prefill_tok_s > 0 else 0.0
            u_dec = st.decode_load_tok_s / c.decode_tok_s if c.decode_tok_s > 0 else 0.0
            weights = {n: s[0] * u_pre + s[1] * u_dec for n, s in shares.items()}
            total = sum(weights.values())
            for n, wgt in weights.items():
                per_class[n] += pool_cost * (wgt / total if total > 0 else 1.0 / len(weights))
    unassigned = sum(fleet_cost_per_hour([opts[g]], {g: plan.nodes[g]}) for g in plan.nodes if not used[g])
    if unassigned:   # nodes without pools (not produced by the MILP; kept so that sums stay exact)
        tok = {k.name: k.workload.qps * class_lengths(k.workload)[2] for k in f.classes}
        for n in per_class:
            per_class[n] += unassigned * tok[n] / sum(tok.values())
    return per_class, per_pool

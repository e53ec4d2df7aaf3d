"""`solve()`: problem → candidates → MILP → verification → a frozen Plan (the JSON contract).

Raises Infeasible (exit 3) with the reason and the best reachable value, VerificationFailed
(exit 4) when the recomputed plan breaks a limit; never returns an unverified plan.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pulp

from planner.plan import milp
from planner.plan.candidates import Candidate, CandidateSet, generate
from planner.errors import Infeasible, VerificationFailed
from planner.input.problem import Problem, Resolved, resolve
from planner.plan.verify import PoolState, Verification, verify

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Plan:
    """A verified plan; `as_dict()` gives the documented JSON keys."""

    resolved: Resolved
    chosen: dict[Candidate, int]
    nodes: dict[str, tuple[int, int]]
    cost_per_hour: float
    verification: Verification
    solver: milp.SolverReport
    binding: tuple[str, ...]
    candidates: int
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return "optimal" if self.solver.status == milp.SolverStatus.optimal else "feasible"

    @property
    def mode(self) -> str:
        roles = {c.role for c in self.chosen}
        if roles == {"colocated"}:
            return "colocated"
        if "colocated" in roles:
            return "mixed"
        return "disaggregated"

    def tokens_per_hour(self) -> tuple[float, float]:
        """(input, output) tokens served per hour at the target QPS."""
        r = self.resolved
        return r.qps * 3600 * r.input_mean, r.qps * 3600 * r.output_mean

    def as_dict(self, timings: bool = False) -> dict[str, Any]:
        return plan_dict(self, timings)


def plan_dict(p: Plan, timings: bool = False) -> dict[str, Any]:
    """The plan as JSON-ready data with stable keys (README 'JSON output').

    Wall-clock seconds are null unless `timings`, so that the same input gives
    byte-identical JSON run after run.
    """
    r = p.resolved
    tin, tout = p.tokens_per_hour()
    pricing = r.problem.pricing
    revenue = None
    margin = None
    breakeven = p.cost_per_hour / (tout / 1e6)
    if pricing.sell_per_million_output_tokens is not None:
        revenue = (tin * pricing.sell_per_million_input_tokens
                   + tout * pricing.sell_per_million_output_tokens) / 1e6
        margin = revenue - p.cost_per_hour
        breakeven = (p.cost_per_hour - tin * pricing.sell_per_million_input_tokens / 1e6) / (tout / 1e6)
    pools = [pool_dict(st) for st in p.verification.pools]
    return {
        "schema_version": SCHEMA_VERSION,
        "status": p.status,
        "problem": r.problem.name,
        "model": r.model.id,
        "weight_dtype": r.weight_dtype,
        "kv_dtype": r.kv_dtype,
        "calibration": r.calib.name,
        "calibration_overrides": dict(sorted(r.problem.calibration_overrides.items())),
        "model_source": r.problem.model,
        "calibration_source": r.problem.calibration,
        **r.calib.fixed_ttft_dict(r.model.arch.family),
        "currency": pricing.currency,
        "mode": p.mode,
        "workload": {"qps": r.qps, "input_tokens": r.input_mean, "output_tokens": r.output_mean,
                     "prefix_cache_hit": r.hit,
                     "input_distribution": [[v, q] for v, q in r.input_dist],
                     "output_distribution": [[v, q] for v, q in r.output_dist]},
        "slo": {"ttft_s": r.problem.slo.ttft, "tpot_s": r.problem.slo.tpot,
                "ttft_statistic": r.problem.slo.ttft_statistic,
                "tpot_statistic": r.problem.slo.tpot_statistic},
        "cost_per_hour": p.cost_per_hour,
        "cost_per_million_output_tokens": p.cost_per_hour / (tout / 1e6),
        "cost_per_million_tokens": p.cost_per_hour / ((tin + tout) / 1e6),
        "revenue_per_hour": revenue,
        "margin_per_hour": margin,
        "break_even_price_per_million_output_tokens": breakeven,
        "pools": pools,
        "totals": totals_dict(r.gpus, p.chosen, p.nodes),
        "binding": list(p.binding),
        "verification": verification_dict(p.verification),
        "solver": solver_dict(p.solver, timings, candidates=p.candidates),
    }


def totals_dict(gpus, chosen: dict[Candidate, int], nodes: dict[str, tuple[int, int]]) -> dict[str, Any]:
    """Cards and nodes by GPU type, owned nodes used, and card power (JSON `totals`)."""
    opts = {o.id: o for o in gpus}
    cards: Counter = Counter()
    for c, n in chosen.items():
        cards[c.gpu] += n * c.cards
    used = {g: rn + on for g, (rn, on) in nodes.items() if rn + on > 0}
    power_w = sum(n * opts[g].gpu.node_cards * opts[g].gpu.power_w for g, n in used.items())
    return {"cards": dict(sorted(cards.items())), "nodes": dict(sorted(used.items())),
            "owned_nodes": {g: o for g, (_, o) in sorted(nodes.items()) if o}, "power_kw": power_w / 1e3}


def verification_dict(v: Verification) -> dict[str, Any]:
    return {"passed": v.passed, "checks": [c.as_dict() for c in v.checks]}


def solver_dict(rep: milp.SolverReport, timings: bool, **extra) -> dict[str, Any]:
    """The solver's report; wall-clock seconds only with `timings` (byte-identical JSON otherwise)."""
    return {"name": rep.name, "status": rep.status.value, "gap": rep.gap,
            "seconds": rep.seconds if timings else None, "variables": rep.variables,
            "constraints": rep.constraints, **extra}


def pool_dict(st: PoolState) -> dict[str, Any]:
    """One verified pool as JSON-ready data (README 'JSON output', `pools`)."""
    c = st.candidate
    return {
        "role": c.role, "gpu": c.gpu, "cards_per_instance": c.cards, "instances": st.instances,
        "parallelism": {"tp": c.par.tp, "pp": c.par.pp, "dp": c.par.dp, "label": c.par.label()},
        "batch": st.batch, "design_batch": c.batch, "chunk_tokens": c.chunk_tokens,
        "utilization": st.utilization, "ttft_s": st.ttft_s if c.role != "decode" else None,
        "tpot_s": st.tpot_s if c.role != "prefill" else None,
        "prefill_tokens_per_s": st.prefill_load_tok_s * st.instances,
        "decode_tokens_per_s": st.decode_load_tok_s * st.instances,
        "capacity_prefill_tokens_per_s": c.prefill_tok_s * st.instances,
        "capacity_decode_tokens_per_s": c.decode_tok_s * st.instances,
        "memory_per_card_bytes": st.memory_per_card_bytes, "bound": c.bound,
        "limited_by": c.limited_by, "name": c.name,
    }


def solve_problem(problem: Problem, source: str = "problem", *, solver: str | None = None,
                  time_limit: float | None = None, verbose: bool = False,
                  candidates: CandidateSet | None = None) -> Plan:
    """Resolve, generate candidates, build and solve the MILP, verify; return a Plan or raise."""
    t0 = time.perf_counter()
    res = resolve(problem, source)
    cs = candidates if candidates is not None else generate(res)
    t1 = time.perf_counter()
    if not cs.candidates:
        raise Infeasible(f"{source}: " + explain_no_candidates(res, cs), [r.detail for r in cs.rejected])
    missing = _missing_roles(cs)
    if missing:
        raise Infeasible(f"{source}: " + explain_no_candidates(res, cs, missing))
    opts = problem.solver
    name = solver or opts.name
    m = milp.build(res, cs.candidates)
    report = milp.solve(m, name, time_limit or opts.time_limit, opts.mip_gap, verbose)
    t2 = time.perf_counter()
    raise_unless_solved(report, source, time_limit or opts.time_limit,
                        lambda: explain_caps(res, cs, name, verbose))
    sel = milp.selection(m)
    chosen = {cs.candidates[i]: n for i, n in sorted(sel.items())}
    nodes = milp.nodes(m)
    binding = tuple(milp.binding_rows(m))
    v = verify(res, chosen, nodes, report.objective)
    t3 = time.perf_counter()
    cost = report.objective or 0.0
    plan = Plan(res, chosen, nodes, cost, v, report, binding, len(cs.candidates),
                {"candidates_s": t1 - t0, "solve_s": t2 - t1, "verify_s": t3 - t2})
    raise_unless_verified(v, f"{source}: the solver's plan")
    return plan


def raise_unless_verified(v: Verification, what: str) -> None:
    """VerificationFailed (exit 4) naming every failed check, value against limit."""
    if not v.passed:
        raise VerificationFailed(f"{what} fails verification: "
                                 + "; ".join(f"{c.name} = {c.value:.4g} {c.unit} vs limit {c.limit:.4g}"
                                             for c in v.failed), v.failed)


def raise_unless_solved(report: milp.SolverReport, source: str, time_limit: float, explain) -> None:
    """Infeasible (exit 3) unless the solver returned a plan: why (explain() names the binding
    caps), or that the time limit or the solver itself stopped it."""
    if report.status in (milp.SolverStatus.infeasible, milp.SolverStatus.unbounded):
        raise Infeasible(f"{source}: " + explain())
    if report.status == milp.SolverStatus.no_solution_time_limit:
        raise Infeasible(f"{source}: the solver found no plan within the time limit of "
                         f"{time_limit:g} s; raise solver.time_limit")
    if report.status == milp.SolverStatus.error:
        other = "cbc" if report.name == "highs" else "highs"
        raise Infeasible(f"{source}: the {report.name} solver failed; try --solver {other}")


def _missing_roles(cs: CandidateSet) -> list[str]:
    """'prefill' / 'decode' when no candidate can provide that capacity."""
    out = []
    if not any(c.prefill_tok_s > 0 for c in cs.candidates):
        out.append("prefill")
    if not any(c.decode_tok_s > 0 for c in cs.candidates):
        out.append("decode")
    return out


def explain_no_candidates(res: Resolved, cs: CandidateSet, roles: list[str] | None = None) -> str:
    """Which limit no candidate meets, and the best value any candidate reaches."""
    lines = []
    roles = roles or ["prefill", "decode"]
    rej = cs.rejected
    if rej and all(r.reason == "memory" for r in rej):
        best = min(rej, key=lambda r: r.value - r.limit)
        return (f"the model does not fit: the best shape ({best.gpu} {best.par.label()}) needs "
                f"{best.value/1e9:.1f} GB per card of {best.limit/1e9:.1f} GB usable "
                f"(overflow {(best.value-best.limit)/1e9:.1f} GB); allow more cards per instance "
                f"(serving.parallelism.max_cards_per_instance) or a lower weight precision")
    tp = [r for r in rej if r.reason == "tpot"]
    if "decode" in roles and tp:
        best = min(tp, key=lambda r: r.value)
        lines.append(f"TPOT {res.problem.slo.tpot*1e3:g} ms unreachable: the fastest candidate reaches "
                     f"{best.value*1e3:.1f} ms ({best.par.cards}x{best.gpu} {best.par.label()}, batch 1)")
    tt = [r for r in rej if r.reason == "ttft"]
    if "prefill" in roles and tt:
        best = min(tt, key=lambda r: r.value)
        lines.append(f"TTFT {res.problem.slo.ttft:g} s unreachable: the fastest candidate reaches "
                     f"{best.value:.3f} s ({best.par.cards}x{best.gpu} {best.par.label()}, one prompt alone)")
    if not lines:
        lines.append("no candidate meets the limits (" + ", ".join(roles) + ")")
    return "; ".join(lines)


def _served_fraction(m: milp.Model, alpha: pulp.LpVariable, name: str, verbose: bool) -> float:
    """Largest fraction of demand the model can serve (0 when even that LP fails)."""
    rep = milp.solve(m, name, 30.0, 1e-4, verbose)
    ok = rep.status in (milp.SolverStatus.optimal, milp.SolverStatus.feasible_time_limit)
    return (alpha.varValue or 0.0) if ok else 0.0


def binding_caps(m: milp.Model, alpha: pulp.LpVariable, name: str, verbose: bool) -> tuple[float, list[str]]:
    """On a model whose demand rows ask for the fraction `alpha`: the largest fraction the caps
    allow, and the caps that bind (relaxing one alone serves more)."""
    m.prob.sense = pulp.LpMaximize
    m.prob.setObjective(alpha)
    frac = _served_fraction(m, alpha, name, verbose)
    binding = []
    for row_name, c in m.rows.items():
        if row_name.split("[")[0] not in ("availability", "power_cap", "budget_cap"):
            continue
        saved = c.constant
        c.constant = -1e15
        if _served_fraction(m, alpha, name, verbose) > frac + 1e-6:
            binding.append(row_name)
        c.constant = saved
    return frac, binding


def explain_caps(res: Resolved, cs: CandidateSet, name: str, verbose: bool) -> str:
    """Caps or budget make the demand impossible: the largest QPS fraction they allow, and which limit binds."""
    alpha = pulp.LpVariable("served_fraction", lowBound=0, upBound=1)
    frac, binding = binding_caps(milp.build(res, cs.candidates, served=alpha), alpha, name, verbose)
    what = ", ".join(binding) if binding else "the caps together"
    return (f"demand cannot be met within {what}: at most {frac*100:.1f} % of the target can be served "
            f"({frac*res.qps:.4g} of {res.qps:g} requests/s)")

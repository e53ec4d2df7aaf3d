"""Fleets: several request classes (and models) served by one GPU fleet, solved as one MILP.

Glossary: a *class* is one kind of request (its model, QPS, lengths, SLOs); a *service* is a
set of classes of one model (and precision) served by the same pools — a single class, or
several sharing pools when that is cheaper (their mixture must then meet every class's TTFT
and the strictest TPOT). Each class is served by exactly one chosen service; all services
share whole nodes, availability caps, owned inventory, power and budget.

    problem YAML (classes:) → FleetProblem → services (subsets of same-model classes, each a
    Resolved with the classes' mixture) → candidates per service (dominated ones pruned) →
    milp.build_fleet → verify per service + fleet-wide → FleetPlan (cost attributed per class)
"""

from __future__ import annotations

import itertools
import os
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import pulp
from pydantic import AfterValidator, Field, field_validator, model_validator

from planner.plan import milp
from planner.plan.candidates import Candidate, CandidateSet, generate, prune_dominated
from planner.catalog.schemas import Strict
from planner.errors import BadInput, Infeasible
from planner.input.problem import (SLO, ClassLoad, LengthDist, PlanSettings, Precisions, Pricing,
                             Problem, Resolved, Workload, _mean, resolve)
from planner.plan.solve import (binding_caps, explain_no_candidates, pool_dict, raise_unless_solved,
                           raise_unless_verified, solver_dict, totals_dict, verification_dict)
from planner.plan.verify import Check, PoolState, Verification, fleet_checks, fleet_cost_per_hour, verify_service
from planner.input.files import read_yaml, validate

SCHEMA_VERSION = 1
ALL_SUBSETS_UP_TO = 4   # classes of one model: every subset may share pools up to this many;
                        # beyond it, singletons, pairs and all of them together (2^n grows fast)


def _class_name(v: Any) -> Any:
    if isinstance(v, str) and not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", v):
        raise ValueError("a class name is 1–64 letters, digits, '_', '.' or '-' "
                         "('+' joins the names of classes that share pools)")
    return v


ClassName = Annotated[str, AfterValidator(_class_name)]


class RequestClass(Strict):
    """One kind of request: its model, precision, workload, SLOs and (optionally) selling prices."""

    name: ClassName
    model: str
    precision: Precisions = Precisions()
    workload: Workload
    slo: SLO
    pricing: Pricing | None = None   # default: the fleet's pricing


class FleetProblem(PlanSettings):
    """Several request classes on one fleet, plus the settings every problem has."""

    name: str = "fleet"
    classes: list[RequestClass] = Field(min_length=1)
    sharing: Literal["auto", "none"] = "auto"   # may classes of one model share pools?
    prune_dominated: bool = True

    @field_validator("classes")
    @classmethod
    def _unique_classes(cls, v: list[RequestClass]) -> list[RequestClass]:
        seen: set[str] = set()
        for k in v:
            if k.name in seen:
                raise ValueError(f"class {k.name!r} is listed twice")
            seen.add(k.name)
        return v

    @model_validator(mode="after")
    def _one_currency(self) -> "FleetProblem":
        for k in self.classes:
            if k.pricing is not None and k.pricing.currency != self.pricing.currency:
                raise ValueError(f"class {k.name!r} prices in {k.pricing.currency}, the fleet in "
                                 f"{self.pricing.currency}")
        return self


def is_fleet(data: Any) -> bool:
    """A problem file describes a fleet when it lists `classes`."""
    return isinstance(data, dict) and "classes" in data


def load_fleet(path: str | Path) -> FleetProblem:
    """Read and validate a fleet problem YAML; errors name the file, field path and reason."""
    return validate(FleetProblem, read_yaml(path), str(path))


# ------------------------------------------------------------------------------ services
def class_problem(f: FleetProblem, k: RequestClass) -> Problem:
    """One class on its own as a single-workload Problem with the fleet's GPUs, limits and solver."""
    return Problem(name=f"{f.name}:{k.name}", model=k.model, precision=k.precision, workload=k.workload,
                   slo=k.slo, gpus=f.gpus, serving=f.serving, limits=f.limits, pricing=k.pricing or f.pricing,
                   solver=f.solver, calibration=f.calibration, calibration_overrides=f.calibration_overrides)


def _mixture(parts: list[tuple[float, int | LengthDist]]) -> LengthDist:
    """QPS-weighted mixture of the classes' length distributions."""
    values, weights = [], []
    for q, x in parts:
        pairs = [(x, 1.0)] if isinstance(x, int) else x.pairs()
        for v, p in pairs:
            values.append(int(v))
            weights.append(q * p)
    return LengthDist(values=values, weights=weights)


STAT_ORDER = ("p50", "mean", "p90", "p95", "p99")   # from least to most demanding


def pooled_problem(f: FleetProblem, ks: list[RequestClass], singles: list[Resolved]) -> Problem:
    """Classes sharing pools as one workload: Σ QPS, mixed lengths, the token-weighted cache hit,
    the tightest TTFT/TPOT and the most demanding statistic (TTFT is also checked per class)."""
    qps = sum(k.workload.qps for k in ks)
    in_tok = sum(k.workload.qps * r.input_mean for k, r in zip(ks, singles))
    unc_tok = sum(k.workload.qps * r.uncached_mean for k, r in zip(ks, singles))
    hit = 100.0 * (1.0 - unc_tok / in_tok)
    wl = Workload(qps=qps, input_tokens=_mixture([(k.workload.qps, k.workload.input_tokens) for k in ks]),
                  output_tokens=_mixture([(k.workload.qps, k.workload.output_tokens) for k in ks]),
                  prefix_cache_hit_percent=min(max(hit, 0.0), 100.0))
    slo = SLO(ttft=min(k.slo.ttft for k in ks), tpot=min(k.slo.tpot for k in ks),
              ttft_statistic=max((k.slo.ttft_statistic for k in ks), key=STAT_ORDER.index),
              tpot_statistic=max((k.slo.tpot_statistic for k in ks), key=STAT_ORDER.index))
    return class_problem(f, ks[0]).model_copy(update={
        "name": f"{f.name}:{service_key(ks)}", "workload": wl, "slo": slo, "pricing": f.pricing})


def service_key(ks: list[RequestClass]) -> str:
    return "+".join(k.name for k in ks)


def sharing_subsets(n: int) -> list[tuple[int, ...]]:
    """Index sets of classes (of one model) that may share pools: all subsets of ≥ 2 up to
    ALL_SUBSETS_UP_TO classes, else pairs and the whole group."""
    if n < 2:
        return []
    if n <= ALL_SUBSETS_UP_TO:
        return [s for r in range(2, n + 1) for s in itertools.combinations(range(n), r)]
    return list(itertools.combinations(range(n), 2)) + [tuple(range(n))]


@dataclass(frozen=True)
class FleetService:
    """A service with its resolution and candidates (before and after pruning)."""

    key: str
    classes: tuple[str, ...]
    res: Resolved
    cs: CandidateSet
    candidates: tuple[Candidate, ...]   # after pruning

    def milp_service(self) -> milp.Service:
        return milp.Service(self.key, self.candidates, milp.demand_of(self.res), self.classes)


def resolve_classes(f: FleetProblem, source: str) -> list[Resolved]:
    """Each class resolved on its own (model, GPUs, calibration); errors name classes[i]."""
    out = []
    for i, k in enumerate(f.classes):
        try:
            out.append(resolve(class_problem(f, k), source))
        except BadInput as e:
            raise BadInput(str(e).replace(f"{source}: model:", f"{source}: classes[{i}].model:")) from None
    return out


def service_plans(f: FleetProblem, singles: list[Resolved]) -> list[tuple[list[RequestClass], Resolved]]:
    """Every single class, and (sharing: auto) every allowed subset of same-model classes,
    each with the Resolved its candidates are generated for."""
    out = [([k], r) for k, r in zip(f.classes, singles)]
    if f.sharing == "none":
        return out
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i, r in enumerate(singles):
        groups[(r.model.id, r.weight_dtype, r.kv_dtype)].append(i)
    for idx in groups.values():
        for sub in sharing_subsets(len(idx)):
            ks = [f.classes[idx[j]] for j in sub]
            rs = [singles[idx[j]] for j in sub]
            p = pooled_problem(f, ks, rs)
            out.append((ks, Resolved(p, rs[0].model, rs[0].gpus, rs[0].calib, rs[0].weight_dtype,
                                     rs[0].kv_dtype, rs[0].source,
                                     tuple(ClassLoad(k.name, k.workload, k.slo) for k in ks))))
    return out


PARALLEL_FROM = 6   # services: generate candidates in worker processes from this many on


def services(f: FleetProblem, singles: list[Resolved], workers: int | None = None) -> list[FleetService]:
    """Candidates of every service; in `workers` processes (default: the machine's cores) when
    there are many services. Results do not depend on the number of workers."""
    plans = service_plans(f, singles)
    workers = min(workers or os.cpu_count() or 1, len(plans))
    if workers > 1 and len(plans) >= PARALLEL_FROM:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            sets = list(pool.map(generate, [r for _, r in plans], chunksize=1))
    else:
        sets = [generate(r) for _, r in plans]
    out = []
    for (ks, res), cs in zip(plans, sets):
        kept = prune_dominated(cs.candidates) if f.prune_dominated else cs.candidates
        out.append(FleetService(service_key(ks), tuple(k.name for k in ks), res, cs, kept))
    return out


# --------------------------------------------------------------------------------- plan
@dataclass(frozen=True)
class FleetPlan:
    """A verified fleet plan; `as_dict()` gives the documented JSON keys."""

    problem: FleetProblem
    services: tuple[FleetService, ...]
    chosen: dict[str, dict[Candidate, int]]        # service key → pools
    nodes: dict[str, tuple[int, int]]
    cost_per_hour: float
    pools: dict[str, tuple[PoolState, ...]]        # service key → verified pool states
    verification: Verification
    solver: milp.SolverReport
    binding: tuple[str, ...]
    candidates: int
    candidates_before_pruning: int
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return "optimal" if self.solver.status == milp.SolverStatus.optimal else "feasible"

    def service(self, key: str) -> FleetService:
        return next(s for s in self.services if s.key == key)

    def service_of_class(self) -> dict[str, str]:
        return {k: key for key in self.chosen for k in self.service(key).classes}

    def as_dict(self, timings: bool = False) -> dict[str, Any]:
        return fleet_dict(self, timings)


def class_shares(names: tuple[str, ...], f: FleetProblem) -> dict[str, tuple[float, float]]:
    """Per class (prefill share, decode share) of its service's load: q·s_uncached and q·s_out."""
    by_name = {k.name: k for k in f.classes}
    pre, dec = {}, {}
    for n in names:
        k = by_name[n]
        _, s_unc, s_out = class_lengths(k.workload)
        pre[n], dec[n] = k.workload.qps * s_unc, k.workload.qps * s_out
    sp, sd = sum(pre.values()), sum(dec.values())
    return {n: (pre[n] / sp if sp > 0 else 0.0, dec[n] / sd if sd > 0 else 0.0) for n in names}


def class_lengths(w: Workload) -> tuple[float, float, float]:
    """(mean input, mean uncached input, mean output) tokens of a workload."""
    s_in = _mean(w.input_tokens)
    return s_in, s_in * (1 - w.prefix_cache_hit_percent / 100.0), _mean(w.output_tokens)


def attribute_costs(plan: FleetPlan) -> tuple[dict[str, float], list[float]]:
    """Cost per hour of every class, and of every pool (in the order of `_pool_list`).

    A GPU type's node cost (idle cards included) is spread over its pools by cards; a pool's cost
    over the classes it serves by their share of its busy time: π_k·u_prefill + δ_k·u_decode,
    with π_k, δ_k the class's shares of the service's uncached prompt and output tokens and u the
    pool's prefill and decode utilisation. The class costs add up to the fleet's cost."""
    f = plan.problem
    opts = {o.id: o for o in plan.services[0].res.gpus}
    used: Counter = Counter()
    for pools in plan.chosen.values():
        for c, n in pools.items():
            used[c.gpu] += n * c.cards
    rate = {}
    for g, (rn, on) in plan.nodes.items():
        cost_g = fleet_cost_per_hour([opts[g]], {g: (rn, on)})
        rate[g] = cost_g / used[g] if used[g] else 0.0
    per_class: dict[str, float] = {k.name: 0.0 for k in f.classes}
    per_pool: list[float] = []
    for key, states in plan.pools.items():
        svc = plan.service(key)
        shares = class_shares(svc.classes, f)
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


def fleet_dict(p: FleetPlan, timings: bool = False) -> dict[str, Any]:
    """The fleet plan as JSON-ready data with stable keys (README 'Fleets')."""
    f = p.problem
    per_class, per_pool = attribute_costs(p)
    owner = p.service_of_class()
    cur = f.pricing.currency
    classes = []
    rev_total = 0.0
    any_price = False
    out_tok_h = in_tok_h = 0.0
    for k in f.classes:
        s_in, _, s_out = class_lengths(k.workload)
        tin, tout = k.workload.qps * 3600 * s_in, k.workload.qps * 3600 * s_out
        in_tok_h += tin
        out_tok_h += tout
        pr = k.pricing or f.pricing
        revenue = None
        if pr.sell_per_million_output_tokens is not None:
            revenue = (tin * pr.sell_per_million_input_tokens + tout * pr.sell_per_million_output_tokens) / 1e6
            rev_total += revenue
            any_price = True
        cost = per_class[k.name]
        svc = p.service(owner[k.name])
        classes.append({
            "name": k.name, "model": svc.res.model.id, "weight_dtype": svc.res.weight_dtype,
            "kv_dtype": svc.res.kv_dtype, **svc.res.calib.fixed_ttft_dict(svc.res.model.arch.family),
            "qps": k.workload.qps, "input_tokens": s_in, "output_tokens": s_out,
            "prefix_cache_hit": k.workload.prefix_cache_hit_percent / 100.0,
            "slo": {"ttft_s": k.slo.ttft, "tpot_s": k.slo.tpot, "ttft_statistic": k.slo.ttft_statistic,
                    "tpot_statistic": k.slo.tpot_statistic},
            "service": svc.key, "shares_pools_with": [n for n in svc.classes if n != k.name],
            "cost_per_hour": cost,
            "cost_share": cost / p.cost_per_hour if p.cost_per_hour > 0 else None,
            "cost_per_million_output_tokens": cost / (tout / 1e6),
            "cost_per_million_tokens": cost / ((tin + tout) / 1e6),
            "revenue_per_hour": revenue, "margin_per_hour": None if revenue is None else revenue - cost,
        })
    pools = []
    i = 0
    for key, states in p.pools.items():
        svc = p.service(key)
        for st in states:
            d = pool_dict(st)
            d.update({"service": key, "model": svc.res.model.id, "classes": list(svc.classes),
                      "cost_per_hour": per_pool[i]})
            pools.append(d)
            i += 1
    every = {c: n for pools_s in p.chosen.values() for c, n in pools_s.items()}
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "fleet",
        "status": p.status,
        "problem": f.name,
        "calibration": p.services[0].res.calib.name,
        "calibration_overrides": dict(sorted(f.calibration_overrides.items())),
        "calibration_source": f.calibration,
        "currency": cur,
        "cost_per_hour": p.cost_per_hour,
        "cost_per_million_output_tokens": p.cost_per_hour / (out_tok_h / 1e6),
        "cost_per_million_tokens": p.cost_per_hour / ((in_tok_h + out_tok_h) / 1e6),
        "revenue_per_hour": rev_total if any_price else None,
        "margin_per_hour": rev_total - p.cost_per_hour if any_price else None,
        "classes": classes,
        "services": [service_dict(p.service(key)) for key in p.chosen],
        "pools": pools,
        "totals": totals_dict(p.services[0].res.gpus, every, p.nodes),
        "binding": list(p.binding),
        "verification": verification_dict(p.verification),
        "solver": solver_dict(p.solver, timings, candidates=p.candidates,
                              candidates_before_pruning=p.candidates_before_pruning,
                              services_considered=len(p.services)),
    }


def _workload_dict(w: Workload) -> dict[str, Any]:
    s_in, _, s_out = class_lengths(w)
    return {"qps": w.qps, "input_tokens": s_in, "output_tokens": s_out,
            "prefix_cache_hit": w.prefix_cache_hit_percent / 100.0,
            "input_distribution": _pairs(w.input_tokens), "output_distribution": _pairs(w.output_tokens)}


def _pairs(x: int | LengthDist) -> list[list[float]]:
    return [[float(x), 1.0]] if isinstance(x, int) else [[v, q] for v, q in x.pairs()]


def _slo_dict(slo: SLO) -> dict[str, Any]:
    return {"ttft_s": slo.ttft, "tpot_s": slo.tpot, "ttft_statistic": slo.ttft_statistic,
            "tpot_statistic": slo.tpot_statistic}


def service_dict(svc: FleetService) -> dict[str, Any]:
    """A service in use (JSON `services[]`): its classes, model, and the workload and SLO its
    pools were sized for (the classes' mixture and strictest limits when shared)."""
    r = svc.res
    return {"key": svc.key, "model": r.model.id, "model_source": r.problem.model, "classes": list(svc.classes),
            "weight_dtype": r.weight_dtype, "kv_dtype": r.kv_dtype,
            "workload": _workload_dict(r.problem.workload), "slo": _slo_dict(r.problem.slo),
            "class_workloads": [{"name": k.name, **_workload_dict(k.workload), "slo": _slo_dict(k.slo)}
                                for k in r.classes]}


def service_plan(d: dict[str, Any], key: str) -> dict[str, Any]:
    """One service of a fleet plan's JSON as a single plan's JSON (what `plan simulate` reads):
    its pools, the workload and SLO they were sized for, and its classes when shared."""
    svc = next(s for s in d["services"] if s["key"] == key)
    return {"problem": f"{d['problem']}:{key}", "model": svc["model"], "model_source": svc["model_source"],
            "weight_dtype": svc["weight_dtype"], "kv_dtype": svc["kv_dtype"],
            "calibration": d["calibration"], "calibration_source": d["calibration_source"],
            "calibration_overrides": d["calibration_overrides"], "workload": svc["workload"],
            "slo": svc["slo"], "classes": svc["class_workloads"],
            "pools": [p for p in d["pools"] if p["service"] == key]}


def simulate_fleet(d: dict[str, Any], source: str, requests: int | None = None, seed: int = 0) -> dict[str, Any]:
    """Simulate every service of a fleet plan on its own (services share nodes, not queues)."""
    from planner.studies.simulate import DEFAULT_REQUESTS, plan_from_dict, simulate
    return {s["key"]: simulate(plan_from_dict(service_plan(d, s["key"]), source),
                               requests or DEFAULT_REQUESTS, seed, source) for s in d["services"]}


# -------------------------------------------------------------------------------- solve
def build(f: FleetProblem, svcs: list[FleetService], served: pulp.LpVariable | float = 1.0) -> milp.Model:
    """The fleet MILP: every service's candidates, one choice of service per class, shared nodes."""
    r0 = svcs[0].res
    return milp.build_fleet(milp.Shared(f.name, r0.gpus, f.limits), [s.milp_service() for s in svcs],
                            served=served, floor_rows=True)


def solve_fleet(f: FleetProblem, source: str = "fleet", *, solver: str | None = None,
                time_limit: float | None = None, verbose: bool = False) -> FleetPlan:
    """Resolve, build services and candidates, solve one MILP, verify; return a FleetPlan or raise."""
    t0 = time.perf_counter()
    singles = resolve_classes(f, source)
    svcs = services(f, singles)
    t1 = time.perf_counter()
    for k, s in zip(f.classes, svcs):   # the first len(classes) services are the single classes
        if not any(svc.candidates and k.name in svc.classes and _both_roles(svc.candidates) for svc in svcs):
            raise Infeasible(f"{source}: class {k.name!r}: " + explain_no_candidates(s.res, s.cs))
    usable = [s for s in svcs if s.candidates]
    name = solver or f.solver.name
    limit = time_limit or f.solver.time_limit
    m = build(f, usable)
    report = milp.solve(m, name, limit, f.solver.mip_gap, verbose)
    t2 = time.perf_counter()
    raise_unless_solved(report, source, limit, lambda: explain_fleet_caps(f, usable, name, verbose))
    chosen: dict[str, dict[Candidate, int]] = {}
    for i, n in sorted(milp.selection(m).items()):
        chosen.setdefault(usable[m.service_of[i]].key, {})[m.candidates[i]] = n
    nodes = milp.nodes(m)
    pools: dict[str, tuple[PoolState, ...]] = {}
    checks: list[Check] = []
    by_key = {s.key: s for s in usable}
    for key, sel in chosen.items():
        st, ch = verify_service(by_key[key].res, sel, prefix=key)
        pools[key] = tuple(st)
        checks += ch
    every = {c: n for sel in chosen.values() for c, n in sel.items()}
    served_by = Counter(k for key in chosen for k in by_key[key].classes)
    checks += [Check(f"served[{k.name}]", served_by[k.name], 1, "services", "==") for k in f.classes]
    checks += fleet_checks(usable[0].res.gpus, f.limits, every, nodes, report.objective)
    v = Verification(tuple(s for ss in pools.values() for s in ss), tuple(checks))
    t3 = time.perf_counter()
    plan = FleetPlan(f, tuple(usable), chosen, nodes, report.objective or 0.0, pools, v, report,
                     tuple(milp.binding_rows(m)), len(m.candidates),
                     sum(len(s.cs.candidates) for s in usable),
                     {"candidates_s": t1 - t0, "solve_s": t2 - t1, "verify_s": t3 - t2})
    raise_unless_verified(v, f"{source}: the solver's fleet plan")
    return plan


def _both_roles(cands) -> bool:
    return any(c.prefill_tok_s > 0 for c in cands) and any(c.decode_tok_s > 0 for c in cands)


def explain_fleet_caps(f: FleetProblem, svcs: list[FleetService], name: str, verbose: bool) -> str:
    """Caps or budget make the fleet impossible: the largest fraction of every class's QPS they
    allow, and which limit binds (relaxing it alone serves more)."""
    alpha = pulp.LpVariable("served_fraction", lowBound=0, upBound=1)
    m = build(f, svcs, served=alpha)
    frac, binding = binding_caps(m, alpha, name, verbose)
    what = ", ".join(binding) if binding else "the caps together"
    return (f"the fleet's demand cannot be met within {what}: at most {frac*100:.1f} % of "
            f"every class's target QPS")

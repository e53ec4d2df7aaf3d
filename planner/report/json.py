"""The JSON contract, written in one place: a Plan (either kind) as data with stable keys.

docs/reference.md "JSON output" documents the keys. Wall-clock seconds are null unless `timings`, so the
same input gives byte-identical JSON run after run. `planner.studies.simulate.planfile` reads
this contract back.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from planner.input.problem import SLO, LengthDist, Workload
from planner.plan.candidates import Candidate
from planner.plan.model import Plan, attribute_costs, cost_difference
from planner.plan.outcome import SolverReport
from planner.plan.resolve import confidence_scales
from planner.plan.services import Service, class_lengths, mtp_classes
from planner.plan.verify import PoolState, Verification
from planner.report.format import to_json  # noqa: F401 - re-exported: callers take it from here

if TYPE_CHECKING:   # only a type here: importing the sweep study costs `plan solve` ~20 ms
    from planner.studies.sweep import Sweep

SCHEMA_VERSION = 1   # of plan files and frontier.json


def parts_json(parts: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    """{'part_dtypes': {'attention': 'bf16', ...}} for the dense parts stored apart from weight_dtype;
    nothing when none is (a uniform plan's JSON is as before the key existed)."""
    return {"part_dtypes": dict(parts)} if parts else {}


def plan_json(p: Plan, timings: bool = False) -> dict[str, Any]:
    """The plan as JSON-ready data: a single plan's keys, or a fleet's (`kind: fleet`)."""
    return fleet_dict(p, timings) if p.kind == "fleet" else plan_dict(p, timings)


def plan_dict(p: Plan, timings: bool = False) -> dict[str, Any]:
    """A single problem's plan (docs/reference.md 'JSON output')."""
    r = p.resolved
    tin, tout = p.tokens_per_hour()
    pricing = r.problem.pricing
    revenue = None
    margin = None
    breakeven = p.cost_per_hour / (tout / 1e6)
    if pricing.sells:   # an input price alone: output tokens sell at 0 (it was silently ignored)
        revenue = (tin * pricing.sell_per_million_input_tokens + tout * pricing.output_price) / 1e6
        margin = revenue - p.cost_per_hour
        breakeven = (p.cost_per_hour - tin * pricing.sell_per_million_input_tokens / 1e6) / (tout / 1e6)
    return {
        "schema_version": SCHEMA_VERSION,
        "status": p.status,
        "problem": r.problem.name,
        "model": r.model.id,
        "weight_dtype": r.weight_dtype,
        "expert_dtype": r.expert_dtype,
        **parts_json(r.part_dtypes),
        "kv_dtype": r.kv_dtype,
        "calibration": r.calib.name,
        "calibration_overrides": dict(sorted(r.problem.calibration_overrides.items())),
        "model_source": source_path(r.problem.model),
        "calibration_source": source_path(r.problem.calibration),
        **r.calib.fixed_ttft_dict(r.model.arch.family),
        "currency": pricing.currency,
        "mode": p.mode,
        **redundancy_dict(r.problem.serving),
        **speculative_dict(p),
        "error_band": error_band_dict(p),
        "workload": {"qps": r.qps, "input_tokens": r.input_mean, "output_tokens": r.output_mean,
                     "prefix_cache_hit": r.hit,
                     "input_distribution": [[v, q] for v, q in r.input_dist],
                     "output_distribution": [[v, q] for v, q in r.output_dist]},
        "slo": slo_dict(r.problem.slo),
        "cost_per_hour": p.cost_per_hour,
        "cost_per_million_output_tokens": p.cost_per_million_output_tokens,
        "cost_per_million_tokens": p.cost_per_million_tokens,
        "revenue_per_hour": revenue,
        "margin_per_hour": margin,
        "break_even_price_per_million_output_tokens": breakeven,
        "pools": [pool_dict(st) for st in p.verification.pools],
        "totals": totals_dict(r.gpus, p.chosen, p.nodes),
        "binding": list(p.binding),
        "verification": verification_dict(p.verification),
        "solver": solver_dict(p.solver, timings, method=p.solver.method, candidates=p.candidates,
                              dominated_gpus=dict(p.dominated_gpus), verification_cuts=cuts_dict(p.cuts)),
    }


def totals_dict(gpus, chosen: dict[Candidate, int], nodes: dict[str, tuple[int, int]]) -> dict[str, Any]:
    """Cards and nodes by GPU type, owned nodes used, card power, and the market of each catalog
    price the problem uses (GPU types it prices itself are left out) (JSON `totals`)."""
    opts = {o.id: o for o in gpus}
    cards: Counter = Counter()
    for c, n in chosen.items():
        cards[c.gpu] += n * c.cards
    used = {g: rn + on for g, (rn, on) in nodes.items() if rn + on > 0}
    power_w = sum(n * opts[g].gpu.node_cards * opts[g].gpu.power_w for g, n in used.items())
    return {"cards": dict(sorted(cards.items())), "nodes": dict(sorted(used.items())),
            "owned_nodes": {g: o for g, (_, o) in sorted(nodes.items()) if o}, "power_kw": power_w / 1e3,
            "catalog_price_markets": {g: o.price_market for g, o in sorted(opts.items()) if o.price_market}}


def verification_dict(v: Verification) -> dict[str, Any]:
    return {"passed": v.passed, "checks": [c.as_dict() for c in v.checks]}


def cuts_dict(cuts: tuple[int, int]) -> dict[str, int]:
    """What the solve did after a plan failed verification on a colocated pool's routed mix
    (`planner.plan.cuts`): plans excluded exactly, then candidate cuts (with any, the optimum is
    over the candidates left)."""
    return {"plans_excluded": cuts[0], "candidate_cuts": cuts[1]}


def solver_dict(rep: SolverReport, timings: bool, **extra) -> dict[str, Any]:
    """The solver's report; wall-clock seconds only with `timings` (byte-identical JSON otherwise)."""
    return {"name": rep.name, "status": rep.status.value, "gap": rep.gap,
            "seconds": rep.seconds if timings else None, "variables": rep.variables,
            "constraints": rep.constraints, **extra}


def pool_dict(st: PoolState) -> dict[str, Any]:
    """One verified pool (docs/reference.md 'JSON output', `pools`)."""
    c = st.candidate
    return {
        "role": c.role, "gpu": c.gpu, "cards_per_instance": c.cards, "instances": st.instances,
        "parallelism": {"tp": c.par.tp, "pp": c.par.pp, "dp": c.par.dp, "label": c.par.label()},
        "batch": st.batch, "design_batch": c.batch, "slots": st.slots if c.role != "prefill" else None,
        "chunk_tokens": c.chunk_tokens,
        "engine_chunk_tokens": st.engine_chunk_tokens if c.role == "colocated" else None,
        "utilization": st.utilization, "ttft_s": st.ttft_s if c.role != "decode" or st.ttft_by_class else None,
        "tpot_s": st.tpot_s if c.role != "prefill" else None,
        "tpot_mean_s": st.tpot_mean_s if c.role != "prefill" else None,
        "batch_at_tpot_statistic": st.batch_at_tpot_statistic if c.role != "prefill" else None,
        "slot_wait_s": st.slot_wait_s if c.role != "prefill" else None,
        "prefill_tokens_per_s": st.prefill_load_tok_s * st.instances,
        "decode_tokens_per_s": st.decode_load_tok_s * st.instances,
        "capacity_prefill_tokens_per_s": c.prefill_tok_s * st.instances,
        "capacity_decode_tokens_per_s": c.decode_tok_s * st.instances,
        "memory_per_card_bytes": st.memory_per_card_bytes, "bound": c.bound,
        "limited_by": c.limited_by, "name": st.name,
        "speculative": None if c.spec is None else {
            "method": c.spec.method, "draft_tokens": c.spec.draft_tokens, "acceptance": c.spec.acceptance,
            "tokens_per_step": c.spec.accepted_per_step},
    }


def slo_dict(slo: SLO) -> dict[str, Any]:
    return {"ttft_s": slo.ttft, "tpot_s": slo.tpot, "ttft_statistic": slo.ttft_statistic,
            "tpot_statistic": slo.tpot_statistic}


def _pairs(x: int | LengthDist) -> list[list[float]]:
    return [[float(x), 1.0]] if isinstance(x, int) else [[v, q] for v, q in x.pairs()]


def workload_dict(w: Workload) -> dict[str, Any]:
    s_in, _, s_out = class_lengths(w)
    return {"qps": w.qps, "input_tokens": s_in, "output_tokens": s_out,
            "prefix_cache_hit": w.prefix_cache_hit,
            "input_distribution": _pairs(w.input_tokens), "output_distribution": _pairs(w.output_tokens)}


def source_path(value: str) -> str:
    """A problem's `model` or `calibration` as a plan records it: a file or folder the solve read
    (a config.json, a profile) by its absolute path, so that `plan simulate` and `plan export`
    read the same file from any directory (a relative path was resolved against wherever they
    ran: elsewhere it failed, or read another file of that name without a word); a catalog or
    Hugging Face id, or a profile name, as written."""
    import os
    if ("/" in value or os.sep in value or value.endswith((".json", ".yaml", ".yml"))) and os.path.exists(value):
        return os.path.abspath(value)
    return value


def service_dict(svc: Service) -> dict[str, Any]:
    """A service in use (JSON `services[]`): its classes, model, and the workload and SLO its
    pools were sized for (the classes' mixture and strictest limits when shared)."""
    r = svc.res
    return {"key": svc.key, "model": r.model.id, "model_source": source_path(r.problem.model),
            "classes": list(svc.classes),
            "weight_dtype": r.weight_dtype, "expert_dtype": r.expert_dtype, **parts_json(r.part_dtypes),
            "kv_dtype": r.kv_dtype,
            "workload": workload_dict(r.problem.workload), "slo": slo_dict(r.problem.slo),
            "class_workloads": [{"name": k.name, **workload_dict(k.workload), "slo": slo_dict(k.slo)}
                                for k in r.classes]}


def error_band_dict(p: Plan) -> dict[str, Any] | None:
    """What the plan's latencies would be if the model is off by its cross-validated error (the
    profile's error_band; null without one): the factors at p10, p50, p90 and each pool's TPOT and
    TTFT at p10 and p90 around its point estimate (the printed values divided by the confidence
    scale when slo.confidence slowed them)."""
    if p.kind == "fleet":
        return _fleet_error_band(p)
    r = p.resolved
    band = r.calib.error_band
    if band is None:
        return None
    return _band(band, r.problem.slo.confidence, _band_pools(band, r.calib, p.verification.pools),
                 {st.candidate.gpu for st in p.verification.pools})


def _band_pools(band, calib, states) -> list[dict[str, Any]]:
    """Each pool's TPOT and TTFT at the band's p10 and p90 around its point estimate (the printed
    values divided by the confidence scale when slo.confidence slowed them)."""
    s_dec, s_pre = confidence_scales(calib)
    pools = []
    for st in states:
        c = st.candidate
        pools.append({"name": st.name,
                      "tpot_s": None if c.role == "prefill" else
                      [st.tpot_s / s_dec * band.tpot_factor(q) for q in (10, 90)],
                      "ttft_s": None if c.role == "decode" and not st.ttft_by_class else
                      [st.ttft_s / s_pre * band.ttft_factor(q) for q in (10, 90)]})
    return pools


def _band(band, confidence: float | None, pools: list[dict[str, Any]], used: set[str]) -> dict[str, Any]:
    """The band's JSON; `measured_on_gpus`: the GPU types of the runs it was measured on (null when
    the profile does not record them), `gpus_not_measured`: the plan's GPU types among none of them,
    where the band is no bound (null when unrecorded)."""
    on = list(band.gpus) if band.gpus is not None else None
    return {"source": band.source, "as_of": band.as_of, "confidence": confidence,
            "tpot_factor": {f"p{q}": band.tpot_factor(q) for q in (10, 50, 90)},
            "ttft_factor": {f"p{q}": band.ttft_factor(q) for q in (10, 50, 90)}, "pools": pools,
            "measured_on_gpus": on, "gpus_not_measured": None if on is None else sorted(used - set(on))}


def _fleet_error_band(p: Plan) -> dict[str, Any] | None:
    """`error_band_dict` of a fleet (one profile for every class): each pool with its service's
    scales; `confidence` the classes' slo.confidence when they all give the same, else null."""
    band = p.services[0].res.calib.error_band
    if band is None:
        return None
    pools = [x for key, states in p.pools.items() for x in _band_pools(band, p.service(key).res.calib, states)]
    levels = {k.slo.confidence for k in p.problem.classes}
    return _band(band, levels.pop() if len(levels) == 1 else None, pools,
                 {st.candidate.gpu for states in p.pools.values() for st in states})


def speculative_dict(p: Plan) -> dict[str, Any]:
    """{'speculative': …} when serving.speculative is set (nothing otherwise, as for redundancy):
    the setting, its expected tokens per step, the pools using it, and with `use: auto` the cost
    of the best plan without it and the saving; a fleet's also names the classes planned without
    it (MTP, on models without MTP layers: `services.mtp_classes`)."""
    fleet = p.kind == "fleet"
    s = (p.problem if fleet else p.resolved.problem).serving.speculative
    if s is None:
        return {}
    without_it = {"classes_without": list(mtp_classes(p.problem)[1])} if fleet else {}
    k, a = s.draft_tokens, s.alpha
    without = p.cost_without_speculation
    return {"speculative": {
        "method": s.method, "draft_tokens": k, "acceptance": a, "use": s.use,
        "tokens_per_step": sum(a**i for i in range(k + 1)),
        "pools_using": sum(1 for c in p.chosen if c.spec is not None), "pools": len(p.chosen),
        "cost_without_per_hour": without,
        # cost_difference: equal costs summed in another order read +0, not −0.0 % ('saves -0.0 %')
        "saving_fraction": None if without is None or without <= 0 else
        cost_difference(without, p.cost_per_hour) / without, **without_it}}


def redundancy_dict(serving) -> dict[str, str]:
    """{'redundancy': 'n_plus_1'} when serving.redundancy is set; nothing for the default 'none'
    (so plans without it keep their keys)."""
    return {} if serving.redundancy == "none" else {"redundancy": serving.redundancy}


def fleet_dict(p: Plan, timings: bool = False) -> dict[str, Any]:
    """A fleet's plan (docs/fleets.md): classes with their attributed cost, services, pools."""
    f = p.problem
    per_class, per_pool = attribute_costs(p)
    owner = p.service_of_class()
    classes = []
    rev_total = 0.0
    any_price = False
    for k in f.classes:
        s_in, _, s_out = class_lengths(k.workload)
        tin, tout = k.workload.qps * 3600 * s_in, k.workload.qps * 3600 * s_out
        pr = k.pricing or f.pricing
        revenue = None
        if pr.sells:
            revenue = (tin * pr.sell_per_million_input_tokens + tout * pr.output_price) / 1e6
            rev_total += revenue
            any_price = True
        cost = per_class[k.name]
        svc = p.service(owner[k.name])
        classes.append({
            "name": k.name, "model": svc.res.model.id, "weight_dtype": svc.res.weight_dtype,
            "expert_dtype": svc.res.expert_dtype, **parts_json(svc.res.part_dtypes),
            "kv_dtype": svc.res.kv_dtype, **svc.res.calib.fixed_ttft_dict(svc.res.model.arch.family),
            "qps": k.workload.qps, "input_tokens": s_in, "output_tokens": s_out,
            "prefix_cache_hit": k.workload.prefix_cache_hit,
            "slo": slo_dict(k.slo),
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
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "fleet",
        "status": p.status,
        "problem": f.name,
        "calibration": p.services[0].res.calib.name,
        "calibration_overrides": dict(sorted(f.calibration_overrides.items())),
        "calibration_source": source_path(f.calibration),
        "currency": f.pricing.currency,
        **redundancy_dict(f.serving),
        **speculative_dict(p),
        "cost_per_hour": p.cost_per_hour,
        "cost_per_million_output_tokens": p.cost_per_million_output_tokens,
        "cost_per_million_tokens": p.cost_per_million_tokens,
        "revenue_per_hour": rev_total if any_price else None,
        "margin_per_hour": rev_total - p.cost_per_hour if any_price else None,
        "classes": classes,
        "services": [service_dict(p.service(key)) for key in p.chosen_by_service],
        "pools": pools,
        "totals": totals_dict(p.services[0].res.gpus, p.chosen, p.nodes),
        "error_band": error_band_dict(p),
        "binding": list(p.binding),
        "verification": verification_dict(p.verification),
        "solver": solver_dict(p.solver, timings, method=p.solver.method, candidates=p.candidates,
                              candidates_before_pruning=p.candidates_before_pruning,
                              services_considered=len(p.services), dominated_gpus=dict(p.dominated_gpus),
                              verification_cuts=cuts_dict(p.cuts)),
    }


def sweep_json(sweep: Sweep) -> dict[str, Any]:
    """JSON contract of frontier.json (SI units, costs in `currency`)."""
    return {"schema_version": SCHEMA_VERSION, "problem": sweep.problem, "currency": sweep.currency,
            "axes": {a.name: list(a.values) for a in sweep.axes}, "curves": list(sweep.curves),
            "horizon_hours": sweep.horizon_hours,
            "rows": [asdict(r) | {"interactivity_tokens_per_s_per_user": r.interactivity}
                     for r in sweep.rows]}

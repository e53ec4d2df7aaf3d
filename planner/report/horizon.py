"""A horizon plan (a problem with a load profile) as JSON (`kind: "horizon"`, keys in docs/horizon.md)
and as a terminal table; the text is rendered from the JSON, so the two never disagree."""

from __future__ import annotations

from typing import Any

from planner.input.values import length_mean, length_pairs
from planner.plan.horizon import HorizonPlan
from planner.plan.horizon_milp import KINDS
from planner.plan.model import cost_difference
from planner.report.format import excluded_text, money, per_million, rate, status_text
from planner.report.json import (
    SCHEMA_VERSION,
    cuts_dict,
    parts_json,
    plan_json,
    pool_dict,
    solver_dict,
    verification_dict,
)
from planner.report.text import precisions, table

# the joint MILP's starts (`solver.started_from` in the JSON), as the text says them
STARTS = {"plan_without_start_costs": "the plan without start costs",
          "static_fleet": "the static fleet held every period",
          "plan_without_commitments": "each period's own plan, nothing reserved or owned"}


def _trace_dict(h: HorizonPlan) -> dict[str, Any] | None:
    """Where the profile came from when a trace made it (workload.trace), else None."""
    wl = getattr(h.problem, "workload", None)   # a fleet: its classes' traces are in their own profiles
    t = wl.trace_load if wl is not None else None
    return None if t is None else _trace_of(t)


def _class_traces(h: HorizonPlan) -> dict[str, Any] | None:
    """A fleet's classes read from traces: class name → as `_trace_dict` (None for a single problem)."""
    if not h.classes:
        return None
    return {k.name: _trace_of(k.workload.trace_load) for k in h.problem.classes
            if k.workload.trace_load is not None}


def _trace_of(t) -> dict[str, Any]:
    return {"file": t.file, "requests": t.requests, "span_hours": t.span_s / 3600.0, "fold": t.fold,
            "period_mean_input_tokens": [None if x != x else x for x in t.period_mean_input],
            "period_mean_output_tokens": [None if x != x else x for x in t.period_mean_output],
            "summary": t.summary()}


def _class_lengths(h: HorizonPlan, name: str, i: int) -> dict[str, float]:
    """A fleet class's mean prompt and output length in period i (a trace's change by the hour), and
    its longest request then (`_longest`)."""
    k = next(k for k in h.problem.classes if k.name == name)
    inp, out = k.workload.period_lengths(i)
    return {"input_tokens_mean": length_mean(inp), "output_tokens_mean": length_mean(out),
            "longest_tokens": _longest(inp, out)}


def _longest(inp, out) -> int:
    """The longest prompt plus the longest answer of a period's lengths: what an exported engine must
    admit in that period (its --max-model-len; the file held the peak's lengths alone, 2026-12-07)."""
    return int(max(v for v, _ in length_pairs(inp)) + max(v for v, _ in length_pairs(out)))


def horizon_json(h: HorizonPlan, timings: bool = False) -> dict[str, Any]:
    """The documented JSON of a horizon plan (docs/horizon.md, 'JSON output')."""
    r = h.peak
    node_cards = {k.id: k.node_cards for k in h.kinds}
    tin, tout = h.tokens()
    periods = []
    for p in h.periods:
        rented = p.cards_rented(node_cards)
        periods.append({
            "index": p.index, "qps": p.qps, "hours": p.hours, "cost_per_hour": p.cost_per_hour,
            "input_tokens_mean": p.input_mean, "output_tokens_mean": p.output_mean,
            "longest_tokens": None if p.classes else _longest(*h.problem.workload.period_lengths(p.index)),
            "starts": [{"role": k[0], "gpu": k[1], "parallelism": k[2], "instances": n}
                       for k, n in sorted(p.starts.items())],
            "start_cost": p.start_cost,
            "cost": p.cost_per_hour * p.hours + p.start_cost,   # Σ periods[].cost = cost
            "nodes": {g: {**{kind: getattr(n, kind) for kind in KINDS}, "idle": n.idle}
                      for g, n in sorted(p.nodes.items()) if n.total},
            "cards_used": p.cards_used, "cards_rented": rented,
            "utilization": p.cards_used / rented if rented else None,
            "pools": ([pool_dict(st) for st in p.pools] if not p.classes else
                      [{"class": name, **pool_dict(st)} for name, _, pools in p.classes for st in pools]),
            "classes": None if not p.classes else [{"name": name, "qps": q, **_class_lengths(h, name, p.index)}
                                                   for name, q, _ in p.classes],
        })
    static = h.static_cost
    indep = h.independent_cost
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "horizon",
        "status": h.status,
        "problem": h.problem.name,
        "model": r.model.id if not h.classes else ", ".join(dict.fromkeys(m for _, m, _ in h.classes)),
        "classes": None if not h.classes else [
            {"name": n, "model": m, "peak_qps": q, "weight_dtype": c.weight_dtype, "expert_dtype": c.expert_dtype,
             **parts_json(c.part_dtypes), "kv_dtype": c.kv_dtype} for (n, m, q), c in zip(h.classes, h.class_res)],
        "sharing": "none" if h.classes else None,
        **({"weight_dtype": r.weight_dtype, "expert_dtype": r.expert_dtype, **parts_json(r.part_dtypes),
            "kv_dtype": r.kv_dtype} if not h.classes else   # a fleet's precisions are its classes'
           {"weight_dtype": None, "expert_dtype": None, "kv_dtype": None}),
        "calibration": r.calib.name,
        "currency": h.problem.pricing.currency,
        "period_hours": h.periods[0].hours,
        "horizon_hours": h.hours,
        "peak_qps": r.qps,
        "trace": _trace_dict(h),
        "class_traces": _class_traces(h),
        "candidates_at": "each_class" if h.classes else "peak" if h.length_groups == 1 else "each_length_group",
        "gpus": [{"id": k.id, "on_demand_price_per_gpu_hour": k.opt.price_per_card_hour,
                  "reserved_price_per_gpu_hour": k.reserved_price,
                  "spot_price_per_gpu_hour": _spot_price(h, k),
                  "spot_max_share": k.spot_share, "spot_interruption": k.spot_interruption,
                  "owned_nodes": k.opt.owned_nodes, "owned_cost_per_gpu_hour": k.opt.owned_cost_per_card_hour,
                  **_period_caps(h, k.id)} for k in h.kinds],
        "reserved_nodes": dict(sorted(h.reserved.items())),
        "instance_start": _instance_start(h),
        "cost": h.cost,
        "cost_per_million_tokens": h.cost_per_million_tokens,
        "cost_per_million_output_tokens": h.cost_per_million_output_tokens,
        "tokens": {"input": tin, "output": tout},
        "periods": periods,
        "comparison": {
            "static_peak_cost": static,
            "static_peak_cost_per_hour": None if h.static_peak is None else h.static_peak.cost_per_hour,
            "static_peak_saving": None if static is None else cost_difference(static, h.cost),
            "static_peak_saving_fraction": cost_difference(static, h.cost) / static if static else None,
            "static_peak_none_because": h.static_reason,
            "independent_cost": indep,
            "independent_saving": None if indep is None else cost_difference(indep, h.cost),
            "independent_saving_fraction": cost_difference(indep, h.cost) / indep if indep else None,
            "static_peak_serves_every_period": (h.static_short is None) if h.static_checked else None,
            "static_peak_short_of": None if h.static_short is None else
            {"period": h.static_short[0], "check": h.static_short[1]},
            "static_peak_plan": None if h.static_peak is None else plan_json(h.static_peak, timings),
        },
        "verification": verification_dict(h.verification),
        "solver": solver_dict(h.solver, timings, candidates=h.candidates, method=h.method,
                              subproblems=h.subproblems, started_from=h.started_from,
                              verification_cuts=cuts_dict(h.cuts)),
        "timings": {k: round(v, 3) for k, v in h.timings.items()} if timings else None,
    }


def _percent(fraction: float | None) -> str:
    """' (12.3 %)': a fraction as a percent to 0.1, never '-0.0' (a plan dearer within the MIP gap
    by a hair); nothing when there is none (a saving against a fleet of cost 0 read '(0.0 %)').

    >>> _percent(0.1234), _percent(-0.00001), _percent(None)
    (' (12.3 %)', ' (0.0 %)', '')
    """
    return "" if fraction is None else f" ({round(fraction * 100, 1) + 0.0:.1f} %)"


def _kinds_cell(nodes: dict[str, dict[str, int]], kind: str) -> str:
    """'2×h100' per GPU type holding nodes of `kind`; held reserved or owned nodes the period's own
    cap takes out of service are said beside them, the owned ones first: '1×h100 (1 idle)' (one
    count for both printed '1×h100 (2 idle)' beside one owned node and one reserved)."""
    def idle(n: dict[str, int]) -> str:
        owned_idle = min(n["idle"], n["owned"])
        k = owned_idle if kind == "owned" else n["idle"] - owned_idle if kind == "reserved" else 0
        return f" ({k} idle)" if k else ""
    return " ".join(f"{n[kind]}×{g}{idle(n)}" for g, n in nodes.items() if n[kind]) or "-"


def render_horizon(h: HorizonPlan) -> str:
    """Per-period table (QPS, nodes by kind, utilisation, cost), totals and the comparison."""
    d = horizon_json(h)
    cur = d["currency"]
    what = (f"{d['model']} ({precisions(d)})" if not h.classes else
            f"{len(h.classes)} classes ({d['model']}; each class on pools of its own)")
    out = [f"Horizon plan for {d['problem']}: {what}, "
           f"{len(d['periods'])} periods of {d['period_hours']:g} h, peak {rate(d['peak_qps'])} req/s",
           f"status: {status_text(d)}   candidates generated "
           + ("per class (and its length distributions) at its busiest period" if h.classes else
              "at the peak workload" if h.length_groups == 1 else
              f"for each of {h.length_groups} length distributions at its busiest period")
           + f": {d['solver']['candidates']}"]
    if d["trace"] is not None:
        out.append(d["trace"]["summary"])
    out += [f"class {name}: {t['summary']}" for name, t in (d["class_traces"] or {}).items()]
    out.append("")
    rows = []
    for p in d["periods"]:
        util = "-" if p["utilization"] is None else f"{p['utilization'] * 100:.0f}%"
        rows.append([str(p["index"]), rate(p["qps"]), _kinds_cell(p["nodes"], "reserved"),
                     _kinds_cell(p["nodes"], "owned"), _kinds_cell(p["nodes"], "on_demand"),
                     _kinds_cell(p["nodes"], "spot"), f"{p['cards_used']}/{p['cards_rented']}", util,
                     f"{p['cost_per_hour']:,.2f}"])
    out.append(table(["period", "req/s", "reserved", "owned", "on demand", "spot", "cards", "util", f"{cur}/h"],
                     rows, "rrllllrrr"))
    c = d["comparison"]
    out += ["", "Reserved: " + (", ".join(f"{n} {g} node{'s' if n != 1 else ''}"
                                        for g, n in d["reserved_nodes"].items()) or "none"),
            f"Cost over {d['horizon_hours']:g} h: {money(d['cost'], cur)}   "
            f"{per_million(d['cost_per_million_output_tokens'])} {cur} per million output tokens   "
            f"{per_million(d['cost_per_million_tokens'])} {cur} per million tokens",
            f"Static fleet for the peak: {money(c['static_peak_cost'], cur)} "
            f"({money(c['static_peak_cost_per_hour'], cur)}/h at the cheaper of on-demand and reserved prices)   "
            f"saving {money(c['static_peak_saving'], cur)}{_percent(c['static_peak_saving_fraction'])}"
            if c["static_peak_cost"] is not None else
            f"Static fleet for the peak: none ({c['static_peak_none_because']})"]
    if (short := c["static_peak_short_of"]) is not None and \
            short["check"].startswith(("availability_period[", "on_demand_availability[")):
        out.append(f"  (sized for the busiest period, it cannot be held in period {short['period']}: "
                   f"{short['check']}; a fleet that can be held every period costs more, if one exists, so the "
                   f"saving against it is a lower bound)")
    elif short is not None:
        out.append(f"  (sized for the peak's requests/s at its lengths, it does not serve period {short['period']} "
                   f"at that period's load and lengths: {short['check']}; a fleet that does costs more, so the "
                   f"saving against it is a lower bound)")
    elif c["static_peak_serves_every_period"] and c["static_peak_saving"] < -1e-6 * max(1.0, d["cost"]):
        # the plan could hold the static fleet all horizon: a dearer plan is one the solver did not reach
        out.append("  (it serves every period and costs less than this plan, which the solver did not reach: "
                   "candidates cut after a colocated pool failed at the mix it was routed, or a time limit "
                   "(docs/optimisation.md, \"What the cut gives up\"); the static fleet is a "
                   "verified alternative)")
    st = d["instance_start"]
    if st is not None:
        bw = "the NIC" if st["load_bandwidth_per_card"] is None else f"{st['load_bandwidth_per_card'] / 1e9:g} GB/s"
        out.append(f"Instance starts: {st['starts']} over the horizon, {money(st['start_cost'], cur)} "
                   f"(start-up {st['overhead_s']:g} s + weights at {bw} per card; included in the cost)")
    if c["independent_cost"] is not None:
        out.append(f"Independent per-period plans (on demand): {money(c['independent_cost'], cur)}   "
                   f"saving {money(c['independent_saving'], cur)}{_percent(c['independent_saving_fraction'])}")
    else:   # left out: a period without a plan of its own, or the time limit (the line was dropped unsaid)
        out.append("Independent per-period plans (on demand): not compared (a period has no plan of its own "
                   "within its caps and budget, the owned nodes it leaves idle paid too, or their solves ran past "
                   "solver.time_limit)")
    v, s = d["verification"], d["solver"]
    n_ok = sum(1 for x in v["checks"] if x["ok"])
    out.append(f"Verification: {'PASSED' if v['passed'] else 'FAILED'} ({n_ok}/{len(v['checks'])} checks, every "
               f"period's pools at its QPS)   solver: {s['name']} {s['status']}, "
               + (f"{s['subproblems']} single-period MILPs over the commitments" if s["method"] == "commitment"
                  else f"one MILP of {s['variables']} variables" + (f", gap {s['gap'] * 100:.2f} %"
                                                                   if s.get("gap") else "")
                  + (f" (started from {STARTS[s['started_from']]})" if s.get("started_from") else ""))
               + excluded_text(s, "period plan"))
    return "\n".join(out)


def _period_caps(h: HorizonPlan, gpu: str) -> dict[str, list[int | None] | None]:
    """`max_cards_per_period`, `on_demand_max_cards_per_period` and `spot_max_cards_per_period` of one
    GPU type (null: no such cap)."""
    caps = [next((c for c in per.caps if c.gpu == gpu), None) for per in h.periods]
    out = {}
    for key in ("max_cards", "on_demand_max_cards", "spot_max_cards"):
        vals = [getattr(c, key) if c is not None else None for c in caps]
        out[f"{key}_per_period"] = vals if any(v is not None for v in vals) else None
    return out


def _instance_start(h: HorizonPlan) -> dict | None:
    """serving.instance_start and what it cost (null without it)."""
    st = h.problem.serving.instance_start
    if st is None:
        return None
    return {"overhead_s": st.overhead, "load_bandwidth_per_card": st.load_bandwidth_per_card,
            "starts": sum(n for p in h.periods for n in p.starts.values()),
            "start_cost": sum(p.start_cost for p in h.periods)}


def _spot_price(h: HorizonPlan, k) -> float | list[float] | None:
    """The spot price per card-hour: one number, or one per period when the problem gives a list."""
    own = [next((c.spot_price for c in per.caps if c.gpu == k.id and c.spot_price is not None), None)
           for per in h.periods]
    return own if any(v is not None for v in own) else k.spot_price

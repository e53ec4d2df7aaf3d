"""Render results for people: terminal tables of plans, fleets, checks and `plan eval`.

A plan is rendered from its JSON contract (`planner.report.json`), so the text and the JSON can
never disagree; display units come from `planner.input.units.format_*`.
"""

from __future__ import annotations

from typing import Any

from planner.errors import plural as _plural
from planner.input.units import format_bytes, format_time
from planner.plan.model import Plan
from planner.plan.verify import Verification
from planner.report.format import excluded_text, money, parts_text, per_million, status_text, table
from planner.report.json import plan_json


def precisions(d: dict[str, Any]) -> str:
    """'fp8 weights, bf16 KV', with the dense parts' and the routed experts' precisions when stored
    apart: 'fp8 weights, bf16 attention, fp4 experts, fp8 KV'."""
    parts = parts_text(d.get("part_dtypes") or {})
    experts = f", {d['expert_dtype']} experts" if d.get("expert_dtype") else ""
    return f"{d['weight_dtype']} weights{parts}{experts}, {d['kv_dtype']} KV"


def _pool_cells(p: dict[str, Any]) -> list[str]:
    """role, gpu, cards, parallel, inst, batch, util, TTFT, TPOT of one pool."""
    spec = p.get("speculative")
    role = p["role"] + (f"+{spec['method']}{spec['draft_tokens']}" if spec else "")
    return [role, p["gpu"], str(p["cards_per_instance"]), p["parallelism"]["label"], str(p["instances"]),
            f"{_batch(p['batch'])}/{p['design_batch']}" if p["role"] != "prefill" else f"B{p['design_batch']}",
            f"{p['utilization']*100:.0f}%",
            format_time(p["ttft_s"]) if p["ttft_s"] is not None else "-",
            format_time(p["tpot_s"]) if p["tpot_s"] is not None else "-"]


def _mixed_markets(markets: dict[str, str]) -> list[str]:
    """A line when the catalog prices a plan compares come from different markets."""
    by: dict[str, list[str]] = {}
    for g, m in markets.items():
        by.setdefault(m, []).append(g)
    if len(by) < 2:
        return []
    return ["Prices: catalog prices from different markets (" + "; ".join(f"{m}: {', '.join(gs)}" for m, gs
                                                                        in sorted(by.items()))
            + "): compare at one market's prices (pricing.gpu_market) or one provider's (price_per_gpu_hour "
              "of each GPU)"]


def _footer(d: dict[str, Any], revenue_tail: str, solver_tail: str) -> list[str]:
    """Totals, owned nodes, cost, revenue, binding rows and verification lines of a plan or fleet."""
    cur, t = d["currency"], d["totals"]
    out = ["", "Totals: " + ", ".join(f"{g}: {_plural(t['cards'][g], 'card')} in "
                                      f"{_plural(t['nodes'].get(g, 0), 'node')}"
                                      for g in t["cards"]) + f"; {t['power_kw']:.1f} kW card power"]
    if t.get("owned_nodes"):
        out.append("Owned nodes used: " + ", ".join(f"{g}: {n}" for g, n in t["owned_nodes"].items()))
    out += _mixed_markets(t.get("catalog_price_markets") or {})
    out.append(f"Cost: {money(d['cost_per_hour'], cur)}/h   "
               f"{per_million(d['cost_per_million_output_tokens'])} {cur} per million output tokens   "
               f"{per_million(d['cost_per_million_tokens'])} {cur} per million tokens")
    band = d.get("error_band")
    if band:
        t, f = band["tpot_factor"], band["ttft_factor"]
        line = (f"Model error (cross-validated, p10–p90): TPOT ×{t['p10']:.2f}–×{t['p90']:.2f}, "
                f"TTFT ×{f['p10']:.2f}–×{f['p90']:.2f} of the point estimate")
        if band["confidence"] is not None:
            line += f"; planned to meet the SLOs at the {band['confidence']:g}th percentile of it"
        else:
            worst = [x for p in band["pools"] for x in (p["tpot_s"] or [])]
            line += (f"; worst pool TPOT {max(worst) * 1e3:.1f} ms at p90" if worst else "")
        out.append(line)
        if band.get("gpus_not_measured"):
            out.append(f"  the band was measured on runs on {', '.join(band['measured_on_gpus'])}; none on "
                       f"{', '.join(band['gpus_not_measured'])}: there it is no bound (calibrate on your own runs)")
    if d.get("speculative"):
        s = d["speculative"]
        line = (f"Speculative decoding ({s['method']}, {s['draft_tokens']} draft token"
                f"{'s' if s['draft_tokens'] > 1 else ''}, acceptance {s['acceptance']:.2f}: "
                f"{s['tokens_per_step']:.2f} tokens per step): in {s['pools_using']} of {s['pools']} pools")
        if s["cost_without_per_hour"] is not None:
            line += f"; the best plan without it {money(s['cost_without_per_hour'], cur)}/h"
            # no fraction of a free plan: saving_fraction is null when the plan without costs 0
            line += f" (saves {s['saving_fraction'] * 100:.1f} %)" if s["saving_fraction"] is not None else ""
        out.append(line)
    if d["revenue_per_hour"] is not None:
        out.append(f"Revenue: {money(d['revenue_per_hour'], cur)}/h   margin {money(d['margin_per_hour'], cur)}/h"
                   + revenue_tail)
    out.append("Binding: " + ("; ".join(d["binding"]) if d["binding"] else "none"))
    v, s = d["verification"], d["solver"]
    n_ok = sum(1 for c in v["checks"] if c["ok"])
    out.append(f"Verification: {'PASSED' if v['passed'] else 'FAILED'} ({n_ok}/{len(v['checks'])} checks)"
               f"   solver: {s['name']} {s['status']}"
               + (" (exact decomposition)" if s.get("method") == "decomposition" else "")
               # a gap above the default mip_gap (10⁻⁴) was allowed by the problem (node_gap, mip_gap): say it
               + (f" within {s['gap'] * 100:.2f} %" if s["status"] == "optimal" and (s["gap"] or 0) > 1.0001e-4 else "")
               + (f" in {s['seconds']:.2f} s" if s["seconds"] is not None else "") + excluded_text(s)
               + ", " + solver_tail)
    return out


def _batch(b: float) -> str:
    """Mean decode batch: one decimal below 10 (a lightly loaded pool is not '0'), whole above."""
    return f"{b:.1f}" if b < 10 else f"{b:.0f}"


def render_plan(plan: Plan) -> str:
    """A plan of either kind as a person reads it (a fleet adds its classes' attributed cost)."""
    d = plan_json(plan)
    return _render_fleet(d) if plan.kind == "fleet" else _render_single(d)


def _redundancy(d: dict[str, Any]) -> str:
    """'   redundancy: N+1' (or 'node') on the header when serving.redundancy is set."""
    return {"n_plus_1": "   redundancy: N+1", "node": "   redundancy: any one node"}.get(d.get("redundancy", ""), "")


SLOT_NOTE_FRACTION = 0.1   # a decode pool's slot wait worth a note: this share of the TTFT limit


def _decode_slot_notes(pools: list[dict[str, Any]], ttft_limit_s: float) -> list[str]:
    """A note for each decode pool whose mean wait for a batch slot is at least a tenth of the TTFT
    limit: the plan counts it in TPOT (after prefill's first token, as `plan simulate` measures),
    where a P/D proxy streaming from decode shows it in TTFT (docs/optimisation.md#batch-slots)."""
    prefill = max((p["ttft_s"] for p in pools if p["role"] == "prefill" and p["ttft_s"] is not None), default=None)

    def comes_to(wait: float) -> str:
        """Behind such a proxy the wait adds to the TTFT of the prompts prefilled elsewhere: by how
        much and against what, so that the note tells whether to act (a first-hour walkthrough could not)."""
        if prefill is None:
            return ""
        return (f": {format_time(prefill)} + {format_time(wait)} = {format_time(prefill + wait)} against the "
                f"{format_time(ttft_limit_s)} limit")
    return [f"Note: {p['name']}: a request waits {format_time(p['slot_wait_s'])} on average for a batch slot "
            f"after its first token; counted in TPOT here; behind a P/D proxy that streams from decode (vLLM, "
            f"SGLang) it is TTFT{comes_to(p['slot_wait_s'])}"
            for p in pools
            if p["role"] == "decode" and p["ttft_s"] is None   # else it makes the first token: in its TTFT
            and (p.get("slot_wait_s") or 0.0) >= SLOT_NOTE_FRACTION * ttft_limit_s]


def _render_single(d: dict[str, Any]) -> str:
    """A single plan: pools, totals, costs, binding constraints, verification."""
    cur = d["currency"]
    w = d["workload"]
    slo = d["slo"]
    out = [f"Plan for {d['problem']}: {d['model']} ({precisions(d)}), "
           f"{w['qps']:g} req/s × {w['input_tokens']:g} in / {w['output_tokens']:g} out tokens",
           f"SLO: TTFT ≤ {format_time(slo['ttft_s'])} ({slo['ttft_statistic']}), "
           f"TPOT ≤ {format_time(slo['tpot_s'])} ({slo['tpot_statistic']})   "
           f"calibration: {d['calibration']} (fixed TTFT {format_time(d['fixed_ttft_s'])}, "
           f"{d['fixed_ttft_basis']})   status: {status_text(d)}   serving: {d['mode']}{_redundancy(d)}", ""]
    rows = [_pool_cells(p) + [format_bytes(p["memory_per_card_bytes"]), p["bound"], p["limited_by"]]
            for p in d["pools"]]
    out.append(table(["role", "gpu", "cards", "parallel", "inst", "batch", "util", "TTFT", "TPOT",
                      "mem/card", "bound", "limited by"], rows, "llrlrrrrrrll"))
    out += _decode_slot_notes(d["pools"], slo["ttft_s"])
    out += _footer(d, _break_even(d['break_even_price_per_million_output_tokens'], cur),
                   f"{d['solver']['candidates']} candidates" + _dominated(d["solver"]))
    return "\n".join(out)


def _dominated(solver: dict[str, Any]) -> str:
    """The GPU types left out before the MILP because another listed type does as much at no
    higher price (`plan.dominance`), for the solver line.

    >>> _dominated({"dominated_gpus": {"h800": "h100"}}), _dominated({"dominated_gpus": {}})
    ('; h800 left out: h100 does as much at no higher price', '')
    """
    return "".join(f"; {b} left out: {a} does as much at no higher price"
                   for b, a in (solver.get("dominated_gpus") or {}).items())


def _break_even(price: float | None, cur: str) -> str:
    """The revenue line's break-even output price; below zero the input tokens' revenue alone
    covers the cost, which a negative price would only obscure.

    >>> _break_even(2.623, "RMB"), _break_even(-4.575, "RMB")
    ('   break-even 2.623 RMB per million output tokens', '   break-even: the input tokens alone pay for the plan')
    """
    if price is not None and price < 0:
        return "   break-even: the input tokens alone pay for the plan"
    return f"   break-even {per_million(price)} {cur} per million output tokens"


def render_checks(v: Verification) -> str:
    """Verification checks as value / limit / slack rows."""
    rows = [[c.name, f"{c.value:.4g}", c.sense, f"{c.limit:.4g}", f"{c.slack:.4g}", c.unit,
             "ok" if c.ok else "FAIL"] for c in v.checks]
    return table(["check", "value", "is", "limit", "slack", "unit", "ok"], rows, "lrlrrll")


def _closed_loop_lines(c: dict[str, Any]) -> list[str]:
    """The --concurrency block of `plan eval`: formula beside simulation."""
    f, s = c["formula"], c["simulated"]
    # no simulated TPOT: one-token answers, whose TPOT ((last − first)/(L − 1)) nothing measures
    tpot = (f"TPOT {format_time(f['tpot_s'])} by the formula, {format_time(s['tpot_s']['mean'])} simulated"
            if s["tpot_s"] else "no TPOT (one-token answers)")
    return [f"closed-loop benchmark at concurrency {c['concurrency']} ({c['requests_per_client']:.3g} requests per "
            f"client, the first {c['concurrency']} sent at once; decode slots {c['running_batch']:.0f}):",
            f"  TTFT {format_time(f['ttft_s'])} by the formula, {format_time(s['ttft_s']['mean'])} simulated "
            f"(p90 {format_time(s['ttft_s']['p90'])}); {tpot}; {s['output_tokens_per_s']:,.0f} output tokens/s"]


def render_eval(d: dict[str, Any]) -> str:
    """`plan eval` output: memory, prefill, decode, bounds."""
    fits = "fits" if d["fits"] else f"DOES NOT FIT (overflow {format_bytes(d['overflow_bytes'])} per card)"
    pf = d["prefill_floors"]
    lines = [
        f"{d['model']} on {d['cards']}x{d['gpu']} ({d['parallelism']['label']}), {precisions(d)}, "
        f"calibration {d['calibration']}",
        f"parameters: {d['params_total']/1e9:.1f} B total, {d['params_active']/1e9:.1f} B active; "
        f"KV {d['kv_bytes_per_token']/1e3:.1f} kB per token",
        f"memory per card at batch {d['batch']} × {d['input_len'] + d['output_len']} tokens: "
        f"{format_bytes(d['memory_per_card_bytes'])} (weights {format_bytes(d['memory_weights_per_card_bytes'])}, "
        f"KV {format_bytes(d['memory_kv_per_card_bytes'])}) of "
        f"{format_bytes(d['memory_usable_per_card_bytes'])} usable: {fits}",
        f"largest batch that fits: {d['max_batch']}",
        f"prefill of {d['batch']} × {d['input_len']} tokens: {format_time(d['prefill_time_s'])}, "
        f"{d['prefill_tokens_per_s']:,.0f} tokens/s  [{d['bound']['prefill']}-bound]",
        f"TTFT of one request alone: {format_time(d['ttft_s'])} (of which fixed {format_time(d['fixed_ttft_s'])}, "
        f"{d['fixed_ttft_basis']})",
        f"pure decode at batch {d['batch']} (a decode-only instance): TPOT {format_time(d['tpot_s'])}, "
        f"{d['decode_tokens_per_s']:,.0f} output tokens/s ({d['decode_tokens_per_s_per_card']:,.0f} per card)  "
        f"[{d['bound']['decode']}-bound]",
        f"colocated at batch {d['batch']} (prompts of these lengths prefilled beside the decodes, chunks of "
        f"{d['colocated']['chunk_tokens']:,.0f} tokens on {d['colocated']['steps_with_chunk']:.0%} of the steps): "
        f"TPOT {format_time(d['colocated']['tpot_s'])}, {d['colocated']['output_tokens_per_s']:,.0f} output + "
        f"{d['colocated']['prompt_tokens_per_s']:,.0f} prompt tokens/s  [{d['colocated']['bound']}-bound]"
        + ("" if d["colocated"].get("holds", True) else
           f"; not a steady state: its prompts ask {d['colocated']['prompt_tokens_per_step']:,.0f} tokens a step, more "
           f"than the {d['colocated']['chunk_tokens']:,.0f} a step holds, so an engine at these lengths is "
           f"prefill-bound with fewer sequences decoding"),
        f"floors of a decode step: {format_time(d['floors']['total_s'])} = step {format_time(d['floors']['step_s'])}"
        f" + layers {format_time(d['floors']['layers_s'])} + MoE layers {format_time(d['floors']['moe_layers_s'])}"
        f" + {d['floors']['collectives']} collectives × {format_time(d['floors']['collective_latency_s'])}"
        f" + host time of {_plural(d['batch'], 'sequence')} {format_time(d['floors']['sequences_s'])}",
        f"a pass with prefill adds (run eagerly): {format_time(pf['total_s'])} = layers "
        f"{format_time(pf['layers_s'])} + MoE layers {format_time(pf['moe_layers_s'])}"
        f" + host time of {_plural(d['batch'], 'prompt')} {format_time(pf['prompts_s'])}",
    ]
    for phase in ("prefill", "decode"):
        b = d["breakdown"][phase]
        lines.append(f"  {phase}: compute {format_time(b['compute_s'])}, memory {format_time(b['memory_s'])}, "
                     f"communication {format_time(b['communication_s'])}, overhead {format_time(b['overhead_s'])}")
    if d.get("closed_loop"):
        lines += _closed_loop_lines(d["closed_loop"])
    return "\n".join(lines)


def render_curve(points: list[dict[str, Any]]) -> str:
    rows = [[str(p["batch"]), format_time(p["tpot_s"]), f"{p['tokens_per_s']:,.0f}",
             f"{p['tokens_per_s_per_card']:,.0f}", p["bound"], "yes" if p["fits"] else "no"] for p in points]
    return table(["batch", "TPOT", "tokens/s", "per card", "bound", "fits"], rows, "rrrrll")


def _render_fleet(d: dict[str, Any]) -> str:
    """A fleet plan: classes with their attributed cost, pools, totals."""
    cur = d["currency"]
    n_cls, n_models = len(d["classes"]), len({c["model"] for c in d["classes"]})
    out = [f"Fleet plan for {d['problem']}: {n_cls} request class{'es' if n_cls != 1 else ''}, "
           f"{n_models} model{'s' if n_models != 1 else ''}   calibration: {d['calibration']}   "
           f"status: {status_text(d)}{_redundancy(d)}", ""]
    rows = []
    for c in d["classes"]:
        rows.append([c["name"], c["model"], f"{c['qps']:g}", f"{c['input_tokens']:g}/{c['output_tokens']:g}",
                     f"{format_time(c['slo']['ttft_s'])} {c['slo']['ttft_statistic']}",
                     f"{format_time(c['slo']['tpot_s'])} {c['slo']['tpot_statistic']}",
                     c["service"] if c["shares_pools_with"] else "own pools",
                     f"{c['cost_per_hour']:,.2f}", f"{(c['cost_share'] or 0) * 100:.1f}%",
                     per_million(c['cost_per_million_output_tokens']), per_million(c['cost_per_million_tokens'])])
    out.append(table(["class", "model", "req/s", "in/out", "TTFT ≤", "TPOT ≤", "served by",
                      f"{cur}/h", "share", f"{cur}/M out", f"{cur}/M tok"], rows, "llrrrrlrrrr"))
    out.append("")
    rows = [[p["service"]] + _pool_cells(p) + [f"{p['cost_per_hour']:,.2f}", p["limited_by"]] for p in d["pools"]]
    out.append(table(["serves", "role", "gpu", "cards", "parallel", "inst", "batch", "util", "TTFT", "TPOT",
                      f"{cur}/h", "limited by"], rows, "lllrlrrrrrrl"))
    ttft_limit = {}   # service → the tightest TTFT limit of the classes it serves
    for c in d["classes"]:
        key = c["service"]
        ttft_limit[key] = min(ttft_limit.get(key, c["slo"]["ttft_s"]), c["slo"]["ttft_s"])
    for key, limit in ttft_limit.items():
        out += _decode_slot_notes([p for p in d["pools"] if p["service"] == key], limit)
    s = d["solver"]
    out += _footer(d, "", f"{s['services_considered']} services, {s['candidates']} candidates "
                          f"({s['candidates_before_pruning']} before pruning dominated ones)" + _dominated(s))
    return "\n".join(out)

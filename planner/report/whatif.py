"""`plan whatif` rendered: the JSON contract, the side-by-side table, the CSV and the bar chart.

Every renderer reads the typed study result (planner.studies.whatif.WhatIf); `result_dict` is
the one place the JSON keys (docs/studies.md) are written. Per-plan numbers that the plan's own JSON
already defines (cost per million output tokens, margin, cards and nodes in total) are read
from `plan_json(plan)`, so the four outputs cannot disagree with `plan solve` or each other.
"""

from __future__ import annotations

import io

from planner.input.files import atomic_write
from planner.input.owned import PNG_METADATA
from planner.input.scenario import HOURS_PER_MONTH
from planner.plan.model import Plan
from planner.report.format import csv_text, per_million
from planner.report.json import plan_json
from planner.report.mpl import literal
from planner.report.text import table
from planner.studies.sweep import pool_summary
from planner.studies.whatif import (
    ROLES,
    BreakEven,
    HorizonOutcome,
    Outcome,
    RentOrBuy,
    Sensitivity,
    WhatIf,
    cost_split,
)


def pools_line(plan: Plan) -> str:
    """'P 2×16 H100 | D 9×8 H200': role letter, instances × cards and GPU type, in the order and
    form of a sweep's `pools` (`studies.sweep.pool_summary`), so one parser reads both."""
    return pool_summary(st for states in plan.pools.values() for st in states)


# ------------------------------------------------------------------------------------ JSON
def rent_or_buy_dict(r: RentOrBuy) -> dict:
    return {"gpu": r.gpu, "nodes": r.nodes, "nodes_used": r.nodes_used,
            "purchase": r.purchase, "months": r.months,
            "amortisation_per_gpu_hour": r.owned.amortisation_per_gpu_hour,
            "power_per_gpu_hour": r.owned.power_per_gpu_hour,
            "rent_monthly": r.rent_monthly, "buy_monthly": r.buy_monthly,
            "buy_cash_monthly": r.cash_monthly, "payback_months": r.payback_months}


def idle_bought(o: Outcome) -> dict[str, int]:
    """Bought nodes the plan leaves idle, by GPU type ({} without `buy` or with every node used):
    `cards`/`nodes` count the nodes in use, `purchase_amortisation_per_hour` pays for all."""
    r = o.rent_or_buy
    return {r.gpu: r.nodes - r.nodes_used} if r is not None and o.plan is not None and r.nodes > r.nodes_used else {}


def outcome_dict(o: Outcome, base: Outcome) -> dict:
    """A scenario's summary with stable keys (the plan itself under 'plan')."""
    d: dict = {"scenario": o.name, "file": o.source, "status": o.status, "reason": o.reason or None,
               "cost_per_hour": None, "cost_per_million_output_tokens": None, "margin_per_hour": None,
               "delta_cost_per_hour": None, "delta_percent": None, "cards": {}, "nodes": {}, "pools": "",
               "cost_split_per_hour": None, "purchase_amortisation_per_hour": o.amortisation_per_hour,
               "idle_bought_nodes": idle_bought(o),
               "rent_or_buy": rent_or_buy_dict(o.rent_or_buy) if o.rent_or_buy else None,
               "plan": None}
    if o.plan is None:
        return d
    pd = plan_json(o.plan)
    d.update(cost_per_hour=o.cost_per_hour, cost_per_million_output_tokens=o.cost_per_million_output_tokens,
             margin_per_hour=o.margin_per_hour(pd["margin_per_hour"]), cards=pd["totals"]["cards"],
             nodes=pd["totals"]["nodes"], pools=pools_line(o.plan), cost_split_per_hour=cost_split(o), plan=pd)
    delta = o.delta(base)
    if delta is not None:
        d["delta_cost_per_hour"], d["delta_percent"] = delta
    return d


def breakeven_dict(b: BreakEven) -> dict:
    def brief(p: Plan | None) -> dict | None:
        return None if p is None else {"cost_per_hour": p.cost_per_hour, "pools": pools_line(p),
                                       "nodes": plan_json(p)["totals"]["nodes"]}
    return {"gpu": b.gpu, "base_price_per_gpu_hour": b.base_price, "in_base_plan": b.in_base,
            "direction": "leaves above" if b.in_base else "enters below",
            "break_even_per_gpu_hour": b.price, "price_in": b.price_in, "price_out": b.price_out,
            "plan_in": brief(b.plan_in), "plan_out": brief(b.plan_out), "solves": b.solves,
            "note": b.note or None}


def sensitivity_dict(scenario: str, s: Sensitivity) -> dict:
    return {"scenario": scenario, "limit": s.limit, "binding_row": s.binding, "step": s.step, "unit": s.unit,
            "cost_before": s.cost_before, "cost_after": s.cost_after,
            "delta_cost_per_hour_per_unit": s.delta_per_unit, "note": s.note or None}


def result_dict(w: WhatIf) -> dict:
    """Everything `plan whatif --json` prints."""
    base = w.base
    return {"base": base.problem.name, "currency": base.problem.pricing.currency,
            "hours_per_month": HOURS_PER_MONTH,
            "scenarios": [outcome_dict(o, base) for o in w.outcomes],
            "breakeven": None if w.breakevens is None else [breakeven_dict(b) for b in w.breakevens],
            "sensitivity": None if w.sensitivities is None
            else [sensitivity_dict(n, s) for n, ss in w.sensitivities for s in ss]}


# ----------------------------------------------------------------------------------- table
def _money(x: float | None, digits: int = 0) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


CENTS_BELOW = 1000.0   # hourly costs under this are shown with cents: a USD 36.40 plan read "36", its Δ "+8"


def _cost_digits(outcomes: list[Outcome]) -> int:
    """Decimals of the scenario table's hourly money: 2 when every solved cost is under CENTS_BELOW."""
    costs = [o.cost_per_hour for o in outcomes if o.plan is not None]
    return 2 if costs and max(costs) < CENTS_BELOW else 0


def render_table(w: WhatIf) -> str:
    """Scenarios side by side, then break-even prices, sensitivity and rent-or-buy if present."""
    cur = w.base.problem.pricing.currency
    digits = _cost_digits(w.outcomes)
    out = [table(["scenario", "status", f"{cur}/h", f"{cur}/M out", "margin/h", "Δ vs base",
                  "cards/nodes", "pools (instances×cards gpu)"],
                 [_scenario_row(o, w.base, digits) for o in w.outcomes], "llrrrrll")]
    rb = [(o.name, o.rent_or_buy) for o in w.outcomes if o.rent_or_buy]
    if rb:
        out += ["", f"Rent or buy ({cur} per month of {HOURS_PER_MONTH} h):",
                table(["scenario", "bought", "used", "rent/month", "buy/month", "cash/month", "payback"],
                      [[n, f"{r.nodes}×{r.gpu}", str(r.nodes_used), _money(r.rent_monthly),
                        _money(r.buy_monthly), _money(r.cash_monthly), _payback(r)]
                       for n, r in rb], "llrrrrr")]
    if w.breakevens is not None:
        out += ["", f"Break-even rental prices ({cur}/GPU-h; bisection on re-solves):",
                table(["gpu", "price", "in base", "break-even", "plan at break-even"],
                      [_breakeven_row(b) for b in w.breakevens], "lrlrl")]
    if w.sensitivities is not None:
        out += ["", f"Sensitivity ({cur}/h per unit relaxed; re-solved):",
                table(["scenario", "limit", "step", "cost before", "cost after", "Δ per unit", "note"],
                      [[n, s.limit, s.step, _money(s.cost_before), _money(s.cost_after),
                        "-" if s.delta_per_unit is None else f"{s.delta_per_unit:+,.1f} per {s.unit}",
                        s.note or ""] for n, ss in w.sensitivities for s in ss], "lllrrrl")]
    return "\n".join(out)


def _scenario_row(o: Outcome, base: Outcome, digits: int = 0) -> list[str]:
    if o.plan is None:
        return [o.name, o.status.upper(), "-", "-", "-", "-", "-", o.reason or ""]
    pd = plan_json(o.plan)
    cards, nodes = pd["totals"]["cards"], pd["totals"]["nodes"]
    idle = idle_bought(o)
    fleet = ", ".join(f"{g} {cards[g]}/{nodes.get(g, 0)}" + (f" +{idle[g]} idle" if g in idle else "")
                      for g in cards)
    fleet += "".join(f", {g} +{n} idle" for g, n in idle.items() if g not in cards)   # bought, none used
    delta = o.delta(base)
    return [o.name, o.status, _money(o.cost_per_hour, digits), per_million(o.cost_per_million_output_tokens),
            _money(o.margin_per_hour(pd["margin_per_hour"]), digits),
            "" if delta is None else f"{delta[0]:+,.{digits}f}{_percent(delta[1])}",
            fleet, pools_line(o.plan)]


def _percent(p: float | None) -> str:
    """' (+12.3%)', or nothing beside a free base (no percent of zero)."""
    return "" if p is None else f" ({p:+.1f}%)"


def _payback(r: RentOrBuy) -> str:
    if r.rent_monthly is None:
        return "n/a (renting alone is infeasible)"
    return "never" if r.payback_months is None else f"{r.payback_months:.1f} months"


def _breakeven_row(b: BreakEven) -> list[str]:
    base = f"{b.base_price:,.2f}"
    in_base = "yes" if b.in_base else "no"
    if b.price is None:
        return [b.gpu, base, in_base, "-", b.note or ""]
    side = b.plan_out if b.in_base else b.plan_in
    verb = "leaves above" if b.in_base else "enters below"
    return [b.gpu, base, in_base, f"{verb} {b.price:,.2f} (±{(b.price_out - b.price_in) / 2:,.2f})",
            f"infeasible {'above' if b.in_base else 'below'} it (a cap or the budget)" if side is None
            else f"{side.cost_per_hour:,.0f}/h: {pools_line(side)}"]


# ------------------------------------------------------------------------------------- CSV
CSV_COLUMNS = ("scenario", "file", "status", "cost_per_hour", "cost_per_million_output_tokens",
               "margin_per_hour", "delta_cost_per_hour", "delta_percent", "prefill_cost_per_hour",
               "decode_cost_per_hour", "colocated_cost_per_hour", "cards", "nodes", "pools", "reason")


def to_csv(w: WhatIf) -> str:
    """One row per scenario; cards and nodes as 'gpu:n' lists separated by spaces."""
    return csv_text(CSV_COLUMNS, (_csv_row(w, o) for o in w.outcomes))


def _csv_row(w: WhatIf, o) -> list:
    if o.plan is None:
        return [o.name, o.source, o.status, *[None] * 8, "", "", "", o.reason or ""]
    pd = plan_json(o.plan)
    split = cost_split(o)
    delta = o.delta(w.base) or (None, None)
    return [o.name, o.source, o.status, o.cost_per_hour, o.cost_per_million_output_tokens,
            o.margin_per_hour(pd["margin_per_hour"]), *delta, *(split[r] for r in ROLES),
            " ".join(f"{g}:{n}" for g, n in pd["totals"]["cards"].items()),
            " ".join(f"{g}:{n}" for g, n in pd["totals"]["nodes"].items()), pools_line(o.plan),
            o.reason or ""]


# ----------------------------------------------------------------------------------- chart
PLOT_COLOURS = {"prefill": "#4C72B0", "decode": "#DD8452", "colocated": "#55A868"}


def plot(w: WhatIf, path: str, protect: tuple[str, ...] = (), force: bool = False) -> None:
    """Bar per scenario of cost per million output tokens, stacked by prefill/decode/colocated."""
    from planner.report.mpl import import_matplotlib
    import_matplotlib()
    import matplotlib.pyplot as plt
    cur = w.base.problem.pricing.currency
    outs = w.outcomes
    per_m = [o.cost_per_million_output_tokens for o in outs]
    splits = [None if o.plan is None else cost_split(o) for o in outs]
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(outs) + 2), 4.5))
    bottom = [0.0] * len(outs)
    for role in ROLES:
        vals = [0.0 if o.plan is None or not o.cost_per_hour else split[role] / o.cost_per_hour * m  # free: no bar
                for o, split, m in zip(outs, splits, per_m)]
        if any(vals):
            ax.bar([literal(o.name) for o in outs], vals, bottom=bottom, label=role, color=PLOT_COLOURS[role])
            bottom = [b + v for b, v in zip(bottom, vals)]
    top = max(bottom, default=1.0) or 1.0
    for i, (o, m) in enumerate(zip(outs, per_m)):
        label = o.status if o.plan is None else f"{m:,.2f}"
        ax.text(i, bottom[i] + 0.01 * top, label, ha="center", va="bottom", fontsize=8)
    ax.set_ylim(top=1.08 * top)   # room for the labels above the tallest bar
    ax.set_ylabel(f"{cur} per million output tokens")
    ax.set_title(literal(f"What-if on {w.base.problem.name}: cost per million output tokens"))
    ax.set_xticks(range(len(outs)), [literal(o.name) for o in outs])   # named even where no bar is drawn (free)
    ax.set_xlim(-0.6, len(outs) - 0.4)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(title="share of cost")
    ax.tick_params(axis="x", labelrotation=30)
    plt.setp(ax.get_xticklabels(), ha="right")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, metadata=PNG_METADATA)
    plt.close(fig)
    atomic_write(path, buf.getvalue(), protect, force)


# --------------------------------------------------------------- over a load profile
def horizon_outcome_dict(o: HorizonOutcome, base: HorizonOutcome) -> dict:
    """A scenario of a load-profile base, with stable keys (its horizon plan under 'plan')."""
    from planner.report.horizon import horizon_json
    d: dict = {"scenario": o.name, "file": o.source, "status": o.status, "reason": o.reason or None,
               "cost": None, "cost_per_hour_mean": None, "cost_per_million_output_tokens": None,
               "delta_cost": None, "delta_percent": None, "reserved_nodes": {}, "static_peak_cost": None,
               "static_peak_saving_fraction": None, "independent_cost": None, "plan": None}
    if o.plan is None:
        return d
    hd = horizon_json(o.plan)
    d.update(cost=hd["cost"], cost_per_hour_mean=hd["cost"] / hd["horizon_hours"],
             cost_per_million_output_tokens=hd["cost_per_million_output_tokens"],
             reserved_nodes=hd["reserved_nodes"], static_peak_cost=hd["comparison"]["static_peak_cost"],
             static_peak_saving_fraction=hd["comparison"]["static_peak_saving_fraction"],
             independent_cost=hd["comparison"]["independent_cost"], plan=hd)
    delta = o.delta(base)
    if delta is not None:
        d["delta_cost"], d["delta_percent"] = delta
    return d


def horizon_result_dict(outcomes: tuple[HorizonOutcome, ...]) -> dict:
    """Everything `plan whatif --json` prints for a base with a load profile."""
    base = outcomes[0]
    hours = sum(p.hours for p in base.plan.periods) if base.plan else None
    return {"base": base.problem.name, "currency": base.problem.pricing.currency, "kind": "horizon",
            "horizon_hours": hours, "scenarios": [horizon_outcome_dict(o, base) for o in outcomes],
            "breakeven": None, "sensitivity": None}


def render_horizon_table(outcomes: tuple[HorizonOutcome, ...]) -> str:
    """Scenarios side by side: the horizon's cost, its mean per hour, per million output tokens,
    the change against the base, the reserved nodes and the saving against a static peak fleet."""
    d = horizon_result_dict(outcomes)
    cur = d["currency"]
    hours = d["horizon_hours"]
    rows = []
    for s in d["scenarios"]:
        if s["plan"] is None:
            rows.append([s["scenario"], s["status"].upper(), "-", "-", "-", "-", "-", "-", s["reason"] or ""])
            continue
        delta = "" if s["delta_cost"] is None else f"{s['delta_cost']:+,.0f}{_percent(s['delta_percent'])}"
        saving = s["static_peak_saving_fraction"]
        rows.append([s["scenario"], s["status"], _money(s["cost"]), _money(s["cost_per_hour_mean"]),
                     per_million(s['cost_per_million_output_tokens']), delta,
                     " ".join(f"{n}×{g}" for g, n in s["reserved_nodes"].items()) or "-",
                     "-" if saving is None else f"{round(-100 * saving, 1) + 0.0:+.1f}%", ""])   # no '-0.0%'
    span = f"{hours:g} h" if hours else "horizon"
    return table(["scenario", "status", f"{cur}/{span}", f"{cur}/h mean", f"{cur}/M out", "Δ vs base",
                  "reserved", "vs static peak", "reason"], rows, "llrrrrlrl")


HORIZON_CSV_COLUMNS = ("scenario", "file", "status", "cost", "cost_per_hour_mean", "cost_per_million_output_tokens",
                       "delta_cost", "delta_percent", "reserved_nodes", "static_peak_cost",
                       "static_peak_saving_fraction", "independent_cost", "reason")


def horizon_csv(outcomes: tuple[HorizonOutcome, ...]) -> str:
    """One row per scenario of a load-profile base; reserved nodes as 'gpu:n' separated by spaces."""
    rows = []
    for s in horizon_result_dict(outcomes)["scenarios"]:
        row = {**s, "reserved_nodes": " ".join(f"{g}:{n}" for g, n in s["reserved_nodes"].items()),
               "reason": s["reason"] or ""}
        rows.append([row[k] for k in HORIZON_CSV_COLUMNS])
    return csv_text(HORIZON_CSV_COLUMNS, rows)

"""Hand edits of a plan over a load profile that its export would carry out as written (issue of
a hostile-input hunt, 2026-12-07): `schedule.read_horizon` calls `check_period_edits`."""

from __future__ import annotations

import warnings
from typing import Any

from planner.errors import BadInput, PlannerNotice
from planner.report.export.planread import answer_range, is_number, near


def check_period_edits(d: dict[str, Any], source: str, base: dict[str, Any], fleet: bool) -> None:
    """BadInput for a period's hand edit the schedule would carry out as written, where plan solve
    writes every period one length (`period_hours`), the periods adding up to `horizon_hours`, and
    the reserved nodes of every period the horizon's (`reserved_nodes`): a period of 5 h dropped the
    CronJobs ('a horizon of 28 h repeats on no cron calendar'), a period deleted left 23 hours, and a
    period's reserved nodes edited 4 → 2 scheduled two fewer than its pools hold. A single model's
    period whose QPS no longer matches its pools' prompt and answer tokens (200 → 400 req/s, or 0,
    beside the same pools) is noted, as a plan's edited QPS is (`planread.load_mismatch`)."""
    periods, ph, hh = d["periods"], d.get("period_hours"), d.get("horizon_hours")
    reserved = d.get("reserved_nodes") if isinstance(d.get("reserved_nodes"), dict) else {}
    for i, per in enumerate(periods):
        if is_number(ph) and is_number(per.get("hours")) and abs(per["hours"] - ph) > 1e-9 * ph:
            raise BadInput(f"{source}: periods[{i}].hours: {per['hours']:g}, but period_hours is {ph:g} (plan solve "
                           f"writes every period of one length)")
        for g, by in per["nodes"].items() if isinstance(per.get("nodes"), dict) else ():
            r = by.get("reserved") if isinstance(by, dict) else None
            if is_number(r) and r != reserved.get(g, 0):
                raise BadInput(f"{source}: periods[{i}].nodes.{g}.reserved: {r:g}, but reserved_nodes.{g} is "
                               f"{reserved.get(g, 0)} (reserved nodes are held over the whole horizon)")
    if is_number(ph) and is_number(hh) and abs(len(periods) * ph - hh) > 1e-9 * hh:
        raise BadInput(f"{source}: periods: {len(periods)} periods of {ph:g} h, but horizon_hours is {hh:g} (a period "
                       f"deleted or added by hand?)")
    hit = base["workload"].get("prefix_cache_hit") if isinstance(base.get("workload"), dict) else None
    if fleet or not is_number(hit):   # a fleet's periods carry each class's load (not checked here)
        return
    for i, per in enumerate(periods):
        q, s_in, s_out, pools = per["qps"], per.get("input_tokens_mean"), per.get("output_tokens_mean"), per["pools"]
        pre = [p.get("prefill_tokens_per_s") for p in pools]
        dec = [p.get("decode_tokens_per_s") for p in pools]
        if not all(map(is_number, pre + dec)) or (q and not (is_number(s_in) and is_number(s_out))):
            continue
        need, (lo, hi) = (q * s_in * (1.0 - hit), answer_range(q, s_out)) if q else (0.0, (0.0, 0.0))
        if not (near(sum(pre), need) and near(sum(dec), lo, hi)):
            warnings.warn(f"{source}: periods[{i}]: {q:g} req/s, but its pools were sized for {sum(pre):,.0f} "
                          f"uncached prompt and {sum(dec):,.0f} generated tokens a second (the period edited by "
                          f"hand?): the schedule states the period's load; re-solve the problem for it",
                          PlannerNotice, stacklevel=3)
